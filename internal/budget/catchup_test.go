package budget

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestCatchUp: CatchUp applies the grant of the conversation's latest
// stored user message, of a documented kind or not, even when a later
// push of another kind followed it; it applies it once, ignores messages
// without data.reply_budget and other conversations, and never undoes a
// newer grant. It runs with WXKF_IN's gets through the JetStream API (the
// leader's) and direct (one replica, broker.DirectReads).
func TestCatchUp(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) { testCatchUp(t, direct) })
	}
}

func testCatchUp(t *testing.T, direct bool) {
	js, stream, tr := inboundWorldWith(t, direct)
	store := func(c events.Conversation, m wxcodec.Message, granted bool) string {
		t.Helper()
		m.FromUserName, m.BusinessID = c.OpenID, c.BusinessID
		in, err := events.NewInbound(c.AppID, &m)
		if err != nil {
			t.Fatal(err)
		}
		if granted {
			b := MessageGrant(in.Time(), in.Time())
			in.Budget = &b
		}
		if _, err := js.PublishMsg(t.Context(), in.Msg("")); err != nil {
			t.Fatal(err)
		}
		return in.ID
	}
	catchUp := func(c events.Conversation) (bool, bool, State) {
		t.Helper()
		found, applied, err := tr.CatchUp(t.Context(), stream, c)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.Get(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		return found, applied, st
	}
	at := func(d time.Duration) int64 { return t0.Add(d).Unix() }

	// Nothing stored.
	if found, applied, st := catchUp(conv); found || applied || st.Remaining != 0 {
		t.Errorf("nothing stored: %v %v %+v", found, applied, st)
	}
	// A text, then an image; the latest (the image) is applied.
	store(conv, wxcodec.Message{MsgType: "text", MsgID: "1", CreateTime: at(0)}, true)
	store(conv, wxcodec.Message{MsgType: "image", MsgID: "2", CreateTime: at(time.Minute)}, true)
	// Another conversation's newer message is not this one's.
	other := conv
	other.OpenID = "o-other"
	store(other, wxcodec.Message{MsgType: "text", MsgID: "3", CreateTime: at(time.Hour)}, true)
	found, applied, st := catchUp(conv)
	if !found || !applied || st.Remaining != MessageSends || !st.ExpiresAt.Equal(t0.Add(time.Minute+MessageWindow)) || st.IDs[0] != "2" {
		t.Errorf("image: %v %v %+v; want found, applied, the image's window", found, applied, st)
	}
	// Applied once: sends taken since stay taken.
	if _, code, err := tr.Take(t.Context(), conv, t0.Add(2*time.Minute)); err != nil || code != 0 {
		t.Fatalf("take: %d %v", code, err)
	}
	if found, applied, st := catchUp(conv); !found || applied || st.Remaining != MessageSends-1 {
		t.Errorf("again: %v %v %+v; want found, not applied, 4 left", found, applied, st)
	}
	// A message of an undocumented kind is found as the latest push of
	// any kind.
	store(conv, wxcodec.Message{MsgType: "voice", MsgID: "4", CreateTime: at(3 * time.Minute)}, true)
	if found, applied, st := catchUp(conv); !found || !applied || !st.ExpiresAt.Equal(t0.Add(3*time.Minute+MessageWindow)) {
		t.Errorf("voice: %v %v %+v; want its window applied", found, applied, st)
	}
	// A newer grant (applied directly) is never undone by an older stored message.
	if _, err := tr.Grant(t.Context(), conv, events.TriggerMessage, t0.Add(10*time.Minute), "5"); err != nil {
		t.Fatal(err)
	}
	if _, applied, st := catchUp(conv); applied || !st.ExpiresAt.Equal(t0.Add(10*time.Minute+MessageWindow)) {
		t.Errorf("older stored message: applied %v, %+v; want the newer window kept", applied, st)
	}
	// A message without data.reply_budget (budgets off at the ingress)
	// grants nothing; a later non-trigger event hides nothing of the
	// documented kinds.
	third := conv
	third.OpenID = "o-third"
	store(third, wxcodec.Message{MsgType: "text", MsgID: "6", CreateTime: at(0)}, false)
	if found, applied, _ := catchUp(third); found || applied {
		t.Errorf("ungranted event: found %v, applied %v; want neither", found, applied)
	}
	store(third, wxcodec.Message{MsgType: "text", MsgID: "7", CreateTime: at(time.Minute)}, true)
	store(third, wxcodec.Message{MsgType: "event", Event: "subscribe_msg_popup_event", CreateTime: at(2 * time.Minute)}, false)
	if found, applied, st := catchUp(third); !found || !applied || !st.ExpiresAt.Equal(t0.Add(time.Minute+MessageWindow)) {
		t.Errorf("text then another event: %v %v %+v; want the text's window", found, applied, st)
	}
}

// TestSyncTakeN: the take before each send applies the grant of the
// conversation's latest stored push, read with one last-by-subject get on
// the wildcard of its subjects (which the server answers with the newest
// push of any kind); a newer non-message push hides the message behind
// it, and the reads of CatchUp find it; Live shows the same without
// writing. It runs with both kinds of gets, as TestCatchUp does.
func TestSyncTakeN(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) { testSyncTakeN(t, direct) })
	}
}

func testSyncTakeN(t *testing.T, direct bool) {
	js, stream, tr := inboundWorldWith(t, direct)
	store := func(m wxcodec.Message) string {
		t.Helper()
		m.FromUserName, m.BusinessID = conv.OpenID, conv.BusinessID
		in, err := events.NewInbound(conv.AppID, &m)
		if err != nil {
			t.Fatal(err)
		}
		if m.MsgType != "event" {
			b := MessageGrant(in.Time(), in.Time())
			in.Budget = &b
		}
		if _, err := js.PublishMsg(t.Context(), in.Msg("")); err != nil {
			t.Fatal(err)
		}
		return in.ID
	}
	take := func(now time.Time) State {
		t.Helper()
		st, code, _, err := tr.SyncTakeN(t.Context(), stream, conv, 1, now, time.Time{})
		if err != nil || code != 0 {
			t.Fatalf("take: %d %v", code, err)
		}
		return st
	}
	at := func(d time.Duration) int64 { return t0.Add(d).Unix() }

	store(wxcodec.Message{MsgType: "text", MsgID: "1", CreateTime: at(0)})
	image := store(wxcodec.Message{MsgType: "image", MsgID: "2", CreateTime: at(time.Second)})
	// The server answers last-by-subject on a wildcard: the newest push.
	m, err := stream.GetLastMsgForSubject(t.Context(), "wxkf.in."+conv.AppID+"."+conv.BusinessID+"."+conv.OpenID+".*")
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := events.ParseInbound(m.Data); err != nil || ev.ID != image {
		t.Fatalf("last of the wildcard: %s, %v; want the image %s", m.Data, err, image)
	}
	if st := take(t0.Add(time.Minute)); st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(t0.Add(time.Second+MessageWindow)) {
		t.Errorf("first take: %+v; want the image's window, 4 left", st)
	}
	if st := take(t0.Add(time.Minute)); st.Remaining != MessageSends-2 {
		t.Errorf("second take: %+v; want 3 left (granted once)", st)
	}
	// A new message, then a later event that grants nothing.
	store(wxcodec.Message{MsgType: "text", MsgID: "3", CreateTime: at(2 * time.Minute)})
	store(wxcodec.Message{MsgType: "event", Event: "subscribe_msg_popup_event", CreateTime: at(3 * time.Minute)})
	live, err := tr.Live(t.Context(), stream, conv)
	if err != nil || live.Remaining != MessageSends || !live.ExpiresAt.Equal(t0.Add(2*time.Minute+MessageWindow)) {
		t.Errorf("live behind an event: %+v, %v; want the new message's window, 5 left", live, err)
	}
	if st, err := tr.Get(t.Context(), conv); err != nil || st.Remaining != MessageSends-2 {
		t.Errorf("stored after Live: %+v, %v; want 3 left (Live writes nothing)", st, err)
	}
	if st := take(t0.Add(4 * time.Minute)); st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(t0.Add(2*time.Minute+MessageWindow)) {
		t.Errorf("take behind an event: %+v; want the new message's window, 4 left", st)
	}
}

// inboundWorld is a NATS server with the inbound stream WXKF_IN and a
// tracker, both in memory.
func inboundWorld(t *testing.T) (jetstream.JetStream, jetstream.Stream, *Tracker) {
	return inboundWorldWith(t, false)
}

// inboundWorldWith is inboundWorld, with direct gets on WXKF_IN if direct.
func inboundWorldWith(t *testing.T, direct bool) (jetstream.JetStream, jetstream.Stream, *Tracker) {
	t.Helper()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	cfg := events.InboundStream()
	cfg.Storage = jetstream.MemoryStorage
	cfg.AllowDirect = direct
	stream, err := js.CreateStream(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Open(t.Context(), js, Config{Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	return js, stream, tr
}

// TestSyncTakeReceived: a take for a command received before the
// conversation's pushes were last read by a take of this tracker does not
// read them again (a push stored since is not the command's: it was
// published after the read, so after the command; the take is counted in
// the window before it, the documented cost), unless the cached budget
// proves stale or the take would refuse; a command received after that
// read reads them.
func TestSyncTakeReceived(t *testing.T) {
	js, stream, tr := inboundWorld(t)
	tr.skipFor = time.Hour // however slow the machine (the bound: TestSyncTakeReceivedBounds)
	store := func(id string, at time.Duration) { t.Helper(); storeMessage(t, js, id, at) }
	now := t0.Add(time.Hour)
	take := func(tr *Tracker, received time.Time) (State, int) {
		t.Helper()
		st, code, _, err := tr.SyncTakeN(t.Context(), stream, conv, 1, now, received)
		if err != nil {
			t.Fatal(err)
		}
		return st, code
	}

	store("1", 0)
	received := time.Now() // the command of the take below arrives
	if st, code := take(tr, received); code != 0 || st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(window(0)) {
		t.Fatalf("first take: %d %+v; want message 1's window, 4 left", code, st)
	}
	// A message stored now was published after the take's read, so after
	// every command received before it: their takes do not look for it.
	store("2", time.Minute)
	if st, _ := take(tr, received); st.Remaining != MessageSends-2 || !st.ExpiresAt.Equal(window(0)) {
		t.Errorf("command received before the read: %+v; want message 1's window, 3 left (no read)", st)
	}
	// A command received after that read may answer message 2.
	if st, _ := take(tr, time.Now()); st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(window(time.Minute)) {
		t.Errorf("command received after the read: %+v; want message 2's window, 4 left", st)
	}

	// Another replica's write makes the cached budget stale: the take
	// reads the pushes again and decides on the stored budget.
	received = time.Now()
	take(tr, received) // synced after received; 3 left
	other, err := Open(t.Context(), js, Config{Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := take(other, time.Now()); st.Remaining != MessageSends-3 {
		t.Fatalf("other replica's take: %+v; want 2 left", st)
	}
	store("3", 2*time.Minute)
	if st, _ := take(tr, received); st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(window(2*time.Minute)) {
		t.Errorf("stale cache: %+v; want message 3's window read, 4 left", st)
	}

	// A take that would refuse never relies on the cache: with the window
	// used up, a message stored after the read still counts.
	received = time.Now()
	for i := range MessageSends - 1 {
		if _, code := take(tr, received); code != 0 {
			t.Fatalf("take %d: %d", i, code)
		}
	}
	store("4", 3*time.Minute)
	if st, code := take(tr, received); code != 0 || st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(window(3*time.Minute)) {
		t.Errorf("used up: %d %+v; want message 4's window read, no refusal", code, st)
	}
}

// storeMessage stores a user message of conv with id, created at t0+at and
// carrying its grant, as the ingress does.
func storeMessage(t *testing.T, js jetstream.JetStream, id string, at time.Duration) {
	t.Helper()
	m := wxcodec.Message{FromUserName: conv.OpenID, BusinessID: conv.BusinessID, MsgType: "text", MsgID: id, CreateTime: t0.Add(at).Unix()}
	in, err := events.NewInbound(conv.AppID, &m)
	if err != nil {
		t.Fatal(err)
	}
	b := MessageGrant(in.Time(), in.Time())
	in.Budget = &b
	if _, err := js.PublishMsg(t.Context(), in.Msg("")); err != nil {
		t.Fatal(err)
	}
}

// window is the end of the window of a message created at t0+at.
func window(at time.Duration) time.Time { return t0.Add(at + MessageWindow) }

// storingStream is the real inbound stream whose latest-push read lets a
// user message be stored while it is under way (after the server
// answered), and notes when that message was stored: when a command
// answering it could have arrived, before the read returned.
type storingStream struct {
	jetstream.Stream
	store    func()
	storedAt time.Time
}

func (s *storingStream) GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	m, err := s.Stream.GetLastMsgForSubject(ctx, subject)
	if s.store != nil {
		s.store()
		s.store, s.storedAt = nil, time.Now()
	}
	return m, err
}

// TestSyncTakeReceivedBounds: what a take relying on an earlier read of
// the pushes may not do. A command received after a message stored
// during that read (while its answer was on its way) still reads: the
// read counts from when it started. A text in parts that the cached
// window holds only in part reads again rather than cut it. A read older
// than the tracker's skipFor is not relied on.
func TestSyncTakeReceivedBounds(t *testing.T) {
	js, stream, tr := inboundWorld(t)
	tr.skipFor = time.Hour // until the last part, which tests the bound
	now := t0.Add(time.Hour)

	storeMessage(t, js, "1", 0)
	in := &storingStream{Stream: stream, store: func() { storeMessage(t, js, "2", time.Minute) }}
	if _, code, _, err := tr.SyncTakeN(t.Context(), in, conv, 1, now, time.Now()); err != nil || code != 0 {
		t.Fatalf("first take: %d %v", code, err)
	}
	// A command answering message 2 arrives while the read is under way.
	received := in.storedAt
	if received.IsZero() {
		t.Fatal("message 2 was not stored during the read")
	}
	st, code, _, err := tr.SyncTakeN(t.Context(), stream, conv, 1, now, received)
	if err != nil || code != 0 || st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(window(time.Minute)) {
		t.Errorf("command received after a message stored during the read: %d %+v %v; want message 2's window, 4 left", code, st, err)
	}

	// 4 left in message 2's window, read just now; message 3 arrives; a
	// text of 5 parts received before it may not be cut to 4 on the cache.
	received = time.Now()
	if _, _, _, err := tr.SyncTakeN(t.Context(), stream, conv, 1, now, received); err != nil {
		t.Fatal(err)
	}
	storeMessage(t, js, "3", 2*time.Minute)
	st, took, code, _, err := tr.SyncTakeUpTo(t.Context(), stream, conv, MessageSends, now, received)
	if err != nil || code != 0 || took != MessageSends || st.Remaining != 0 || !st.ExpiresAt.Equal(window(2*time.Minute)) {
		t.Errorf("parts on a window holding fewer: took %d, %d %+v %v; want all %d from message 3's window", took, code, st, err, MessageSends)
	}

	// With skipFor 0 no read is relied on, however recent.
	tr.skipFor = 0
	received = time.Now()
	storeMessage(t, js, "4", 3*time.Minute)
	if _, _, _, err := tr.SyncTakeN(t.Context(), stream, conv, 1, now, time.Now()); err != nil {
		t.Fatal(err)
	}
	storeMessage(t, js, "5", 4*time.Minute)
	st, code, _, err = tr.SyncTakeN(t.Context(), stream, conv, 1, now, received)
	if err != nil || code != 0 || st.Remaining != MessageSends-1 || !st.ExpiresAt.Equal(window(4*time.Minute)) {
		t.Errorf("skipFor 0: %d %+v %v; want message 5's window read, 4 left", code, st, err)
	}
}

// TestInboundRefresh: Inbound keeps its lookup of WXKF_IN for
// InboundRefresh, then looks it up again, so the kind of get a changed
// definition allows is used within that time.
func TestInboundRefresh(t *testing.T) {
	js, stream, _ := inboundWorld(t)
	in := NewInbound(js)
	now := time.Now()
	in.now = func() time.Time { return now }
	allows := func() bool {
		t.Helper()
		h, err := in.Stream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return h.CachedInfo().Config.AllowDirect
	}
	if allows() {
		t.Fatal("a stream without direct gets looked up as allowing them")
	}
	cfg := stream.CachedInfo().Config
	cfg.AllowDirect = true
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	now = now.Add(InboundRefresh - time.Millisecond)
	if allows() {
		t.Fatal("looked up again before InboundRefresh")
	}
	now = now.Add(time.Millisecond)
	if !allows() {
		t.Fatal("not looked up again after InboundRefresh")
	}
}
