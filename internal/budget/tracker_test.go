package budget

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

var conv = events.Conversation{AppID: "wx0123456789abcdef", BusinessID: "0", OpenID: "o-user_1"}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// trackers opens n trackers on one server, each on its own connection, as
// n replicas would.
func trackers(t *testing.T, n int) []*Tracker {
	t.Helper()
	s := natstest.RunServer(t)
	var out []*Tracker
	for range n {
		_, js := natstest.Connect(t, s)
		tr, err := Open(t.Context(), js, Config{Storage: jetstream.MemoryStorage, MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tr)
	}
	return out
}

func TestStateRules(t *testing.T) {
	msg, enter := events.TriggerMessage, events.TriggerEnterSession
	type step struct {
		kind string // message, enter_session, or "send"
		at   time.Duration
		id   string
	}
	tests := []struct {
		name      string
		steps     []step
		remaining int
		expires   time.Duration
		trigger   string
	}{
		{name: "message", steps: []step{{msg, 0, "a"}}, remaining: 5, expires: 48 * time.Hour, trigger: msg},
		{name: "enter", steps: []step{{enter, 0, "a"}}, remaining: 2, expires: time.Minute, trigger: enter},
		{name: "sends then message resets", steps: []step{{msg, 0, "a"}, {"send", 1, ""}, {"send", 2, ""}, {msg, 3 * time.Second, "b"}},
			remaining: 5, expires: 48*time.Hour + 3*time.Second, trigger: msg},
		{name: "enter inside an open message window keeps it", steps: []step{{msg, 0, "a"}, {"send", 1, ""}, {enter, time.Hour, "b"}},
			remaining: 4, expires: 48 * time.Hour, trigger: msg},
		{name: "enter after a used-up message window opens one minute", steps: []step{{msg, 0, "a"}, {"send", 1, ""}, {"send", 1, ""},
			{"send", 1, ""}, {"send", 1, ""}, {"send", 1, ""}, {enter, time.Hour, "b"}},
			remaining: 2, expires: time.Hour + time.Minute, trigger: enter},
		{name: "enter after an enter resets", steps: []step{{enter, 0, "a"}, {"send", 1, ""}, {enter, 10 * time.Second, "b"}},
			remaining: 2, expires: 70 * time.Second, trigger: enter},
		{name: "message after enter", steps: []step{{enter, 0, "a"}, {msg, time.Second, "b"}},
			remaining: 5, expires: 48*time.Hour + time.Second, trigger: msg},
		{name: "retried push not applied again", steps: []step{{msg, 0, "a"}, {"send", 1, ""}, {msg, 0, "a"}},
			remaining: 4, expires: 48 * time.Hour, trigger: msg},
		{name: "another push in the same second applies", steps: []step{{msg, 0, "a"}, {"send", 1, ""}, {msg, 0, "b"}},
			remaining: 5, expires: 48 * time.Hour, trigger: msg},
		{name: "older push ignored", steps: []step{{msg, time.Minute, "a"}, {"send", 1, ""}, {msg, 0, "b"}},
			remaining: 4, expires: 48*time.Hour + time.Minute, trigger: msg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			for _, st := range tt.steps {
				if st.kind == "send" {
					if code := s.sendCode(t0); code != 0 {
						t.Fatalf("sendCode = %d, want 0", code)
					}
					s.take()
					continue
				}
				s.grant(st.kind, t0.Add(st.at), st.id)
			}
			if s.Remaining != tt.remaining || !s.ExpiresAt.Equal(t0.Add(tt.expires)) || s.Trigger != tt.trigger {
				t.Errorf("state = %d until +%s (%s), want %d until +%s (%s)", s.Remaining, s.ExpiresAt.Sub(t0), s.Trigger,
					tt.remaining, tt.expires, tt.trigger)
			}
		})
	}
}

func TestTypingCodes(t *testing.T) {
	var s State
	if code := s.typingCode("Typing", t0); code != CodeOutOfWindow {
		t.Errorf("typing without a window = %d, want %d", code, CodeOutOfWindow)
	}
	s.grant(events.TriggerMessage, t0, "a")
	if code := s.typingCode("Typing", t0.Add(31*time.Second)); code != CodeTypingNeedsMsg {
		t.Errorf("typing 31 s after the message = %d, want %d", code, CodeTypingNeedsMsg)
	}
	if code := s.typingCode("Typing", t0.Add(30*time.Second)); code != 0 {
		t.Errorf("typing 30 s after the message = %d, want 0", code)
	}
	s.typed("Typing", t0.Add(time.Second))
	if code := s.typingCode("Typing", t0.Add(15*time.Second)); code != CodeAlreadyTyping {
		t.Errorf("typing while typing = %d, want %d", code, CodeAlreadyTyping)
	}
	if code := s.typingCode("CancelTyping", t0.Add(15*time.Second)); code != 0 {
		t.Errorf("cancel while typing = %d, want 0", code)
	}
	if code := s.typingCode("Typing", t0.Add(16*time.Second)); code != 0 {
		t.Errorf("typing after the typing state = %d, want 0", code)
	}
	s.take()
	if !s.TypingUntil.IsZero() {
		t.Errorf("a send left typing until %s", s.TypingUntil)
	}
}

// TestConcurrentTakes: three trackers (replicas) taking 20 sends at once
// from a 5-send budget: exactly 5 succeed, and none is lost.
func TestConcurrentTakes(t *testing.T) {
	trs := trackers(t, 3)
	ctx := t.Context()
	if _, err := trs[0].Grant(ctx, conv, events.TriggerMessage, t0, "m1"); err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, code, err := trs[i%3].Take(ctx, conv, t0.Add(time.Second))
			if err != nil {
				t.Error(err)
				return
			}
			if code == 0 {
				ok.Add(1)
			} else if code != CodeOutOfCount {
				t.Errorf("Take = %d, want 0 or %d", code, CodeOutOfCount)
			}
		})
	}
	wg.Wait()
	if n := ok.Load(); n != 5 {
		t.Errorf("%d takes succeeded, want 5", n)
	}
	s, err := trs[1].Get(ctx, conv)
	if err != nil || s.Remaining != 0 {
		t.Errorf("Get = %+v, %v; want 0 left", s, err)
	}
}

// TestStaleCopies: a tracker whose remembered revision is stale neither
// grants a retried push again nor refuses on its old copy.
func TestStaleCopies(t *testing.T) {
	trs := trackers(t, 2)
	a, b := trs[0], trs[1]
	ctx := t.Context()
	if _, err := a.Grant(ctx, conv, events.TriggerMessage, t0, "m1"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, code, err := b.Take(ctx, conv, t0.Add(time.Second)); err != nil || code != 0 {
			t.Fatalf("Take = %d, %v", code, err)
		}
	}
	// WeChat retries the push at a's replica: no new sends.
	s, err := a.Grant(ctx, conv, events.TriggerMessage, t0, "m1")
	if err != nil || s.Remaining != 0 {
		t.Fatalf("retried Grant = %+v, %v; want 0 left", s, err)
	}
	// A new message through b; a's copy (0 left) is stale now.
	if _, err := b.Grant(ctx, conv, events.TriggerMessage, t0.Add(time.Minute), "m2"); err != nil {
		t.Fatal(err)
	}
	if _, code, err := a.Take(ctx, conv, t0.Add(2*time.Minute)); err != nil || code != 0 {
		t.Fatalf("Take on a stale copy = %d, %v; want 0", code, err)
	}
	s, err = b.Get(ctx, conv)
	if err != nil || s.Remaining != 4 {
		t.Errorf("Get = %+v, %v; want 4 left", s, err)
	}
	// Give returns to the same window only.
	if g, gave, err := a.Give(ctx, conv, s.ExpiresAt.Add(time.Second), 1); err != nil || gave != 0 || g.Remaining != 4 {
		t.Errorf("Give to another window = %+v, %d given, %v; want none given, 4 left", g, gave, err)
	}
	var gave int
	if s, gave, err = a.Give(ctx, conv, s.ExpiresAt, 1); err != nil || gave != 1 || s.Remaining != 5 {
		t.Errorf("Give = %+v, %d given, %v; want 1 given, 5 left", s, gave, err)
	}
	if s, gave, err = a.Give(ctx, conv, s.ExpiresAt, 1); err != nil || gave != 0 || s.Remaining != 5 {
		t.Errorf("Give past the maximum = %+v, %d given, %v; want none given, 5 left", s, gave, err)
	}
	// A text in 3 parts takes 3 at once, or none.
	if s, code, err := a.TakeN(ctx, conv, 3, t0.Add(3*time.Minute)); err != nil || code != 0 || s.Remaining != 2 {
		t.Errorf("TakeN(3) = %+v, %d, %v; want 2 left", s, code, err)
	}
	if s, code, err := a.TakeN(ctx, conv, 3, t0.Add(3*time.Minute)); err != nil || code != CodeOutOfCount || s.Remaining != 2 {
		t.Errorf("TakeN(3) of 2 = %+v, %d, %v; want 45047 and 2 left", s, code, err)
	}
	if s, gave, err = a.Give(ctx, conv, s.ExpiresAt, 7); err != nil || gave != 3 || s.Remaining != 5 {
		t.Errorf("Give(7) = %+v, %d given, %v; want 3 given, 5 left (the maximum)", s, gave, err)
	}
	if s, err = b.Exhaust(ctx, conv, CodeOutOfCount, t0.Add(3*time.Minute)); err != nil || s.Remaining != 0 {
		t.Errorf("Exhaust = %+v, %v; want 0 left", s, err)
	}
	if _, code, err := a.Take(ctx, conv, t0.Add(4*time.Minute)); err != nil || code != CodeOutOfCount {
		t.Errorf("Take after Exhaust = %d, %v; want %d", code, err, CodeOutOfCount)
	}
}

func TestBadConversation(t *testing.T) {
	tr := trackers(t, 1)[0]
	_, err := tr.Get(t.Context(), events.Conversation{AppID: "wx1", BusinessID: "0", OpenID: "a.b"})
	if !errors.Is(err, ErrConversation) {
		t.Fatalf("Get with a dotted openid = %v, want ErrConversation", err)
	}
}

// TestWriterAfterDelete: a key whose last entry is a delete or purge
// marker (an operator's `nats kv del` or `purge`) reads as no budget, and
// a writer-path change (the ingress's, WithWriter) writes on the marker's
// sequence instead of losing its compare-and-set until ErrContended.
func TestWriterAfterDelete(t *testing.T) {
	for _, op := range []string{"delete", "purge"} {
		t.Run(op, func(t *testing.T) {
			s := natstest.RunServer(t)
			_, js := natstest.Connect(t, s)
			ctx := t.Context()
			tr, err := Open(ctx, js, Config{Storage: jetstream.MemoryStorage, MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			write := func(ctx context.Context, subject string, value []byte, lastSeq uint64) (uint64, error) {
				msg := nats.NewMsg(subject)
				msg.Data = value
				msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(lastSeq, 10))
				ack, err := js.PublishMsg(ctx, msg)
				var apiErr *jetstream.APIError
				if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
					return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyExists)
				}
				if err != nil {
					return 0, err
				}
				return ack.Sequence, nil
			}
			if _, err := tr.WithWriter(write).Grant(ctx, conv, events.TriggerEnterSession, t0, "a"); err != nil {
				t.Fatal(err)
			}
			kv, err := js.KeyValue(ctx, Bucket)
			if err != nil {
				t.Fatal(err)
			}
			k, err := key(conv)
			if err != nil {
				t.Fatal(err)
			}
			if op == "delete" {
				err = kv.Delete(ctx, k)
			} else {
				err = kv.Purge(ctx, k)
			}
			if err != nil {
				t.Fatal(err)
			}
			// A fresh writer (another ingress replica, or this one after a
			// restart) knows nothing of the key.
			got, err := tr.WithWriter(write).Grant(ctx, conv, events.TriggerEnterSession, t0.Add(time.Hour), "b")
			if err != nil {
				t.Fatalf("grant after %s: %v", op, err)
			}
			if got.Remaining != SessionSends || !got.ExpiresAt.Equal(t0.Add(time.Hour+SessionWindow)) {
				t.Errorf("grant after %s: %+v, want %d sends until %v", op, got, SessionSends, t0.Add(time.Hour+SessionWindow))
			}
			stored, err := tr.Get(ctx, conv)
			if err != nil || stored.Remaining != SessionSends {
				t.Errorf("stored after the grant: %+v, %v; want %d sends", stored, err, SessionSends)
			}
		})
	}
}
