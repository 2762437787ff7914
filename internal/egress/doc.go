// Package egress turns reply commands that bots publish on
// wxkf.out.<appid>.<bid>.<openid>.send|typing into calls of WeChat's send and
// typing APIs, and publishes exactly one final result per command on
// wxkf.result.<appid>.<bid>.<openid>.delivered|failed.
//
// # Usage
//
//	wx, err := wechat.New(ctx, wechat.Config{...}) // shared with the management service
//	eg, err := egress.New(egress.Config{..., API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Media: wx.Media})
//	err = eg.Setup(ctx) // streams, KV buckets, consumers: idempotent
//	err = eg.Run(ctx)   // until ctx ends, then drains
//
// # Concurrency
//
// Ordering. The command stream WXKF_OUT maps each command subject to one of
// N partitions (egress.partitions, default 1) by a hash of the
// conversation — appid, bid and openid, not the verb — so a conversation's
// sends and typing commands share one partition. Each partition has one
// durable consumer in the priority group "egress" with the pinned_client
// policy: the server hands its commands to one replica at a time (the
// pinned one), up to MaxPending (default 4096) unacknowledged. Every
// replica consumes every partition; the server decides which one is pinned.
// With the default one partition one replica works and the others stand
// by; more partitions spread conversations over replicas. A partition's
// consumer filters on its partition, except with one partition, whose
// consumer reads the stream unfiltered: while commands queue up, the
// server finds a filtered consumer's next command by a walk over the
// subjects of the message block (see [Egress.partitionFilter]).
//
// Lanes. The pinned replica holds each command until it is finished: a
// lane per partition keeps a FIFO per conversation, in stream order, and a
// conversation's commands run one at a time. Concurrency (default 64)
// worker goroutines per process handle them, so at most that many
// commands are in handling at once (a delivered command whose result is
// being stored no longer holds its worker, see Writes): a conversation with a command to
// start waits in one FIFO of ready conversations, and a worker handles
// the next command of the one at its head, then puts it back at the tail
// while others wait, so conversations take turns. A command that must
// wait — a retry's backoff, its app's quota pause, NATS trouble — is
// parked in the lane with its conversation's later commands behind it,
// off the workers until it is due; no other conversation waits for it. A held command gets a progress ack once it has been held about a
// third of AckWait, and every third of AckWait after, so a command that
// runs, queues or is parked is never redelivered while its replica lives.
// The one limit lanes share is MaxPending: a partition hands out no more
// commands while that many are unacknowledged.
//
// Changing hands. A replica that stops (Run's ctx ends) stops pulling,
// lets the commands in handling finish, hands every other held command back
// (a NAK, in stream order) and unpins the consumer, so the next replica is
// pinned on its next pull. A replica that dies stops pulling: the server
// unpins it after PinnedTTL (AckWait) without a pull — the pinned replica
// pulls every AckWait/2 — when its commands are due for redelivery too. The
// pin also moves when the consumer's leader changes (the new leader pins
// the first replica that asks). A replica that sees a new pin on a delivery
// enters catch-up: it starts no command until every command the consumer
// has delivered and not seen acknowledged is held by it, judged by a
// fresh ConsumerInfo (NumAckPending against its own commands delivered up
// to Delivered.Consumer) polled from 20 ms up to every 500 ms; then each
// conversation's held commands run in stream order, so none overtakes a
// command that was still at the previous replica. A replica told its pin
// is gone (a pull answered 423) hands back every held command not in
// handling, so the new pinned replica's catch-up ends without waiting for
// AckWait. A command's sent record is written with a compare-and-set on
// the revision its handler last read or wrote: a replica that lost a
// command to another (which wrote its record since) does not call WeChat
// for it, nor record its failure; a delivered result it still publishes
// carries the command's Nats-Msg-Id, so the result stream keeps one result
// for the command, whichever came first.
//
// Acknowledgement. A command is acknowledged only after its result is
// stored in WXKF_RESULT (and, for failures, the command in WXKF_DLQ).
//
// Writes. While Run runs, the sent records, results, dead letters and the
// reply budget's compare-and-sets go through one writer: a handler hands
// it its message; the writer publishes whatever queued while it was
// publishing back to back, asynchronously, and each handler waits for its
// own write's ack, no longer than it would for a publish of its own (the
// NATS timeout). Many conversations' writes so share socket writes and the server's reads; a lone write goes out at
// once, and a slow ack holds no other write. A delivered command's handler
// does not wait for its result's ack: its worker takes the next ready
// conversation, and the ack finishes the command — it is acknowledged and
// its conversation's next command becomes ready, so a conversation's
// commands still start only after the previous one's result is stored. A
// result that is not stored is handled as a publish that failed: the
// command is parked, a send's result kept for its next try and written to
// a "done" record.
//
// Duplicates. Before calling the send API the handler writes a "sending"
// record for the command id into the KV bucket WXKF_SENT — a create, which
// fails if the id has a record; only then is the record read — and right
// after WeChat's answer it stores the outcome. A delivered send's result is
// its record: it is published to WXKF_RESULT and the "sending" record
// stays (one KV write per send, not two). A failed send's result goes into
// a "done" record first, then to WXKF_DLQ and WXKF_RESULT. A command
// handled again whose record is "done" is not sent again: its stored result
// is republished (JetStream drops the duplicate by Nats-Msg-Id). One whose
// record says "sending" is looked up in WXKF_RESULT — the conversation's
// delivered results stored since the record (a minute before it, for
// clocks of different servers), the one with the command's Nats-Msg-Id
// (see [Egress.storedResult]) — and when found, that result is republished.
// Otherwise it was in flight when its replica died; WeChat's send API has no
// idempotency key, so it is not resent: its result is failed with reason
// maybe_delivered. The same holds for a call whose request was fully
// written but whose answer was lost (a timeout or a dropped connection
// after writing). That is the whole window in which a command may be lost
// or duplicated: from the "sending" record to WeChat's answer, and the one
// write that stores the outcome right after it, as before. A delivered
// result that cannot be published (NATS trouble) is kept by the lane for
// the command's next handling, which publishes it without deciding again,
// and is written to a "done" record, so that a replica taking the command
// over finds it too. A result no longer in WXKF_RESULT while the record is
// kept makes a republished id fail maybe_delivered rather than republish
// delivered; it is not sent again either. Age alone cannot cause it (the
// configuration keeps egress.sent_ttl within the stream's MaxAge, 7 days),
// the stream's byte cap can. Transient failures before the request was
// written (connection refused, WeChat's -1, HTTP 5xx) are retried with
// backoff.
//
// One id, one command. The sent record also holds the command's subject
// (conversation and verb) and a digest of its data. A command whose id has
// a record written for another subject or digest reused another command's
// id: it fails with reason duplicate_id ([CodeDuplicateID]) without a call,
// leaves that record alone, and its result and dead letter get the
// Nats-Msg-Id <appid>:<id>:duplicate:<hash> so that JetStream drops neither
// theirs nor the first command's. A command's first record write is a KV
// create, so two commands racing with one id in different partitions cannot
// both send: the loser handles the command again and finds the winner's
// record. The data digest is of a canonical form that keeps numbers as
// written (data with a repeated member name never gets there: it is
// malformed); a record without a subject (written by an older release)
// matches the conversation and verb its stored result names.
//
// A command refused before its record is read (unknown_app, then
// malformed) writes no record and does not own its id: its result and dead
// letter get the Nats-Msg-Id <appid>:<id>:unknown_app:<hash> or
// <appid>:<id>:malformed:<hash>, the hash of its subject and body, so that
// they never take the place of the result of a well-formed command with
// that id (which the stream would otherwise drop as a duplicate). Their
// data.command_id is still the id as read (the event's "id", else the
// Nats-Msg-Id header), the one the bot knows: a bot that sent a malformed
// command with id X and then a corrected one with id X gets two results
// for X, failed (malformed) and the corrected one's (unless both were
// published with Nats-Msg-Id X inside WXKF_OUT's duplicate window, see
// below: then the corrected one never reaches the egress). A command whose id is
// missing or longer than [events.MaxCommandIDLength] is reported as
// seq-<stream sequence>.
//
// Inside WXKF_OUT's duplicate window (2 minutes) a reused id published with
// the same Nats-Msg-Id — [events.NewCommandMsg] sets it to the command id —
// never reaches the egress: JetStream drops it and the publisher's PubAck
// has Duplicate set; no result, and no duplicate_id, is published for it.
// A bot must check PubAck.Duplicate (kfctl does).
//
// Long texts. A text longer than egress.text_limit is sent as parts, in
// order, one call each, and finishes with one result counting them
// (data.parts, data.parts_sent). The sent record follows the parts: the
// "sending" record before each part's call also records the parts WeChat
// accepted before it (parts_sent) and the bytes they hold (sent_bytes), so
// a command taken over never sends an accepted part again — a record still
// "sending" fails maybe_delivered (the part in flight may have been
// delivered), a "retry" record goes on with the next part; the cuts depend
// only on the text from where a part starts, so splitting the rest gives
// the parts that were left. Between two parts the handler parks the
// command ("retry", due at once) when its lane wants its commands back —
// a stop, a pin gone (the lane's kick channel is closed) — or when its
// handling deadline would not hold another call: the lane hands it over or
// handles it again, still ahead of its conversation's later commands. A
// text with a link longer than the limit fails permanent, -1009
// ([CodeUnsplittable]), before any call. See [Egress.sendParts].
//
// Retries. A command put back for later stays parked in its lane; its
// record says "retry" with the time it is due, so a replica that takes the
// command over waits until then too. Every retry of a command backs off further (RetryMin doubling to
// RetryMax, ±20% jitter), whatever failed: the send call, the token fetch,
// the image download or upload. A failure before the send call is never
// maybe_delivered, even when its own request timed out after being written:
// nothing reached the send API. Commands waiting for a token share one
// fetch ([token.Manager.Token]). An image that cannot be fetched for good —
// a destination that is not public and not in egress.media_fetch.allow,
// HTTP 4xx, not an image, too large — fails at once with reason media (see
// package mediafetch).
//
// Full sent-record bucket. WXKF_SENT has a byte cap
// (nats.streams.max_bytes.sent) and refuses new keys when full, while it
// still replaces a key's value with one no larger. A command's records
// before its call are padded to the largest done record it can have (errmsg
// is cut to 512 bytes), so a command that was sent always gets its done
// record when it needs one (a failure, a result that could not be
// published). A command whose first record is refused is not sent: it is
// retried with backoff (counted by deliveries and handlings) and, when its
// retry budget ends, fails unsent with reason transient and no record.
// Conversations are held no longer than a budget; new commands are sent
// again as records expire (SentTTL).
//
// Quota pauses. WeChat's quota errors (45009 daily, 45011 per minute)
// pause every send of the app until the quota horizon: the next midnight
// China time, or a minute on. The pause is shared by every replica through
// the KV bucket WXKF_PAUSES (key the appid, value the pause's end and the
// errcode; TTL 48h, cap nats.streams.max_bytes.pauses): the replica that
// meets the error writes it with a compare-and-set that only extends a
// pause, and each replica's Run loads the bucket before its first command
// and watches it, so checking for a pause stays a read of local memory. A
// KV outage costs sharing only: a pause that cannot be written is logged
// and kept by the replica that met it, and the others each meet the error
// once before pausing themselves.
//
// Reply budget. With a budget tracker (package budget) and
// egress.reply_budget observe or enforce, a send spends one send of its
// conversation's budget right before its call — after its token and media,
// before its "sending" record, which records the take, so that a later
// handling of the command (a retry, a redelivery) does not spend again. A
// send WeChat did not deliver gives its send back to the window it came
// from (not a maybe_delivered one); WeChat's 45015 or 45047 that the
// budget did not predict corrects it to zero and counts a miss. A typing
// command is checked against the typing rules (45015, 45080, 45081) and,
// once accepted, recorded. In enforce a command the budget predicts WeChat
// refuses fails before any call with reason budget ([CodeBudget]), a
// result without a dead letter; in observe it is sent, counted and its
// result marked budget_exceeded. The ingress stores no grant for a user
// message: every take (and typing check) first reads the conversation's
// newest push in WXKF_IN (one get) and applies a new message's grant in
// the take's own compare-and-set (budget.Tracker.SyncTakeN), so a command
// published on seeing the event finds its window, and a new message
// resets a half-spent window before the next take. A command that arrived
// here before the conversation's latest such read (replies received
// together, within budget.SkipFor of it) skips the get: what it answers
// was stored before it was published; a take that finds the budget
// changed by another writer, or would refuse or cut a text, reads again.
// A user message stored in between is counted from the next read on. Every result then
// carries the budget left.
// The tracker's compare-and-set makes the spending correct across replicas.
// Enforce takes before the "sending" record, which holds the take, so that
// a redelivery does not take again. Observe, which refuses nothing, runs a
// single send's take alongside the record write and the call, and applies
// it once the call returned: the read and the write no longer stand before
// the reply. That "sending" record holds no take; a redelivery that finds
// it republishes the result or fails maybe_delivered, and neither takes or
// gives back. (A replica that dies between its take and the record's
// write leaves a take that its redelivery makes again, and one that dies
// during the call before its take is stored leaves none: observe may count
// such a send twice or not at all.) In observe, the take of a send with
// sends queued right behind it in its conversation (a bot's burst of
// replies) also takes one for each of them, as far as the window holds:
// a reservation kept with the lane's conversation. Each of those sends,
// in turn, uses one instead of taking (no read, no write), within
// budget.SkipFor of the take and in the same window, and its result
// reports the budget as its own take would have left it. Sends the
// reservation holds that no command used go back to their window when the
// conversation stops in the lane or its next command is not a send, and
// before a take that does not use them (a text in parts takes its own); a
// replica that dies holding some loses them, and the budget shows that
// many fewer than WeChat's until the window resets (see [reservation]).
// A burst's first take that finds no send to take (the window closed or
// used up) leaves that finding instead: the sends behind it are reported
// over budget with the same errcode, and sent, without reads of their own,
// until the burst ends as a reservation does (a text in parts takes for
// itself). So does a burst whose take used the window up, once the sends
// it took for those behind are used: the sends after them are reported
// over budget (45047) without takes of their own, unless a send of the
// burst gave its send back (WeChat did not deliver it), which ends that
// finding.
//
// Run returns after the commands in handling finished and were
// acknowledged, and the others were handed back.
//
// A redelivery of a command the lane holds (its progress ack came late)
// joins the held command; one whose handling already finished (its ack
// was lost) finds its stored result (the done record, or for a delivered
// send the result in WXKF_RESULT) and republishes it, which the result
// stream drops as a duplicate. A typing command writes no record:
// after a lost ack it is called again, possibly after later commands of
// its conversation (typing is best effort).
//
// # Errors
//
// Failures of single commands never stop the egress: they end in a failed
// result with WeChat's errcode (or kfbridge's negative codes, see
// [CodeMalformed] and the others) and a reason: malformed, unknown_app,
// permanent, window, quota, transient, token, media, expired,
// maybe_delivered, duplicate_id or budget. Errors of WeChat's API never carry the
// access token or the app secret (package wxapi redacts them), so errmsg,
// the dead letter's Kfbridge-Errmsg and log lines carry none either.
//
// Metrics label an appid that is not configured as "unknown": a bot's
// subject cannot mint series.
package egress
