// Package budget tracks the reply budget of every conversation (appid,
// bid, openid): how many sends WeChat still accepts, and until when, as the
// pushes themselves open windows (wechat-protocol.md §7.1), and what a
// typing command needs (§7.4). Budgets live in the KV bucket [Bucket],
// shared by every ingress and egress replica.
//
// The rules are the ones internal/wxsim applies (its interact and
// typingCall), which the egress tests check against the simulator step by
// step:
//
//   - A user message (any push that is not an event) at CreateTime t resets
//     the window to 5 sends until t + 48 h, whatever was left.
//   - A user_enter_tempsession at t resets it to 2 sends until t + 1 min,
//     unless the open window already lasts at least until t + 1 min and has
//     sends left: then it is kept as it is ("not cumulative": an allowance
//     is never added to another, and entering the session never shrinks a
//     message's window). Inside an open 48 h window with sends left an
//     enter-session changes nothing; inside one that is used up it opens
//     the 1-minute window with 2 sends.
//   - Every send WeChat delivers spends one and ends the typing state.
//   - Typing needs the window open (45015), a user message or session entry
//     within the last 30 s (45080), and for Typing no typing state still
//     lasting (45081, 15 s).
//   - Other events open nothing.
//
// A push is applied once: its event id and CreateTime are kept with the
// budget, so WeChat's retry of a push (same id) does not grant again after
// sends were taken, and a push older than the latest one applied (arriving
// out of order) changes nothing.
//
// Where grants come from. A user message's grant does not depend on the
// budget before it ([MessageGrant]): the ingress computes it for the
// event's data.reply_budget and stores nothing else, so a message costs
// the ingress one stored message (its event), not two. The stored event in
// WXKF_IN is the grant: before each take the egress reads the latest push
// on the conversation's subjects (one last-by-subject get on
// wxkf.in.<appid>.<bid>.<openid>.*, answered by the stream's leader) and,
// when it is a user message, applies its grant in the same compare-and-set
// as the take ([Tracker.SyncTakeN], [Tracker.SyncTakeUpTo]); when it is
// another push newer than the budget's latest trigger, a message may be
// hidden behind it, and the reads of [Tracker.CatchUp] (the latest push of
// each documented message kind) decide. [Tracker.Live] shows the same
// budget without writing (budget.get, typing checks). An enter-session's
// grant depends on the window a message opened, so the ingress first
// applies the latest stored message (CatchUp), then writes it
// ([Tracker.Grant]). Every path applies the same grant, keyed by event id
// and CreateTime, so applying it again changes nothing. The cost moved to
// the egress: one get of WXKF_IN per typing check, budget.get and send —
// except that a send's take names when its command was received, and a
// take for a command received before this tracker's latest read of the
// conversation's pushes (a bot's replies to one message, received
// together) relies on that read: every push the command answers was
// stored before the command was published. It does so only within
// [SkipFor] of that read, while the cached budget is current (its
// compare-and-set succeeds) and the take refuses nothing and takes all it
// asks; otherwise it reads the pushes as any take does. So it never
// refuses a send; a user message stored in between is not applied to
// such a take, which is counted in the window before it: its result
// reports that window (fewer left, an earlier end), and after the next
// read the budget may show more than WeChat's until a 45047 corrects it.
//
// The gets of WXKF_IN are the stream's leader's. With one replica the
// bridge lets WXKF_IN answer direct gets (broker.DirectReads), which its
// one server answers from its store, about twice as fast; with more, a
// direct get may be answered by a follower behind its leader, so the
// stream allows none and the gets go through the JetStream API. [Inbound]
// looks the stream up for the reads and again every [InboundRefresh].
//
// # Usage
//
//	tr, err := budget.Open(ctx, js, budget.Config{Replicas: 1, Storage: jetstream.FileStorage})
//	b := budget.MessageGrant(createTime, now)                                   // ingress: a message, nothing stored
//	_, _, err := tr.CatchUp(ctx, inbound, conv)                                 // ingress: an enter-session …
//	s, err := tr.Grant(ctx, conv, events.TriggerEnterSession, at, id)           // … then its grant
//	s, code, applied, err := tr.SyncTakeN(ctx, inbound, conv, 1, now, received) // egress, before a send
//	s, err := tr.Live(ctx, inbound, conv)                                       // budget.get
//
// # Concurrency
//
// A [Tracker] is safe for concurrent use, and any number of trackers (in
// any number of processes) may change one budget at once: every change is
// a compare-and-set on the key's revision, retried on a fresh read when
// another writer was first, so no decrement is lost and no send is spent
// twice. A tracker remembers the revision it last read or wrote of each
// key (at most 65536 keys), so a change usually costs one round trip; a
// decision not to write (a refused take) is only taken on a fresh read.
//
// # Errors
//
// NATS failures are returned wrapped with the key. [ErrContended] reports a
// change that lost 64 compare-and-sets in a row. A key an operator
// deleted or purged (`nats kv del`, `nats kv purge`) reads as no budget,
// and the next change writes on its marker. A full bucket
// (nats.streams.max_bytes.budget) refuses budgets of new conversations
// with the server's error; the callers decide: the ingress stores the push
// anyway (without data.reply_budget), and the egress, which then knows no
// window for the conversation, refuses its sends in enforce. A budget the
// egress cannot read (NATS trouble) makes enforce retry the command until
// its retry budget ends, and observe send it unbudgeted.
package budget
