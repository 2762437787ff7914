package kfctl

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

func TestReplayID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"cmd-1", "cmd-1:replay:1"},
		{"cmd-1:replay:1", "cmd-1:replay:2"},
		{"cmd-1:replay:9", "cmd-1:replay:10"},
		{"a:replay:x", "a:replay:x:replay:1"},
		{"a:replay:0", "a:replay:0:replay:1"},
		{"wx:1:replay:2:replay:3", "wx:1:replay:2:replay:4"},
		{"seq-17", "seq-17:replay:1"},
	}
	for _, tt := range tests {
		if got := ReplayID(tt.id); got != tt.want {
			t.Errorf("ReplayID(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestSend(t *testing.T) {
	w := newWorld(t)
	w.sim.RecordInteraction(appID, "0", user, "text", time.Time{})
	out := w.ok("send", "--appid", appID, "--openid", user, "--text", "hello from kfctl", "--id", "kfctl-test-1")
	for _, want := range []string{"COMMAND_ID", "kfctl-test-1", "delivered"} {
		if !strings.Contains(out, want) {
			t.Errorf("send printed %q, want %q", out, want)
		}
	}
	got := w.sim.Delivered(appID)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "hello from kfctl") {
		t.Fatalf("delivered = %+v", got)
	}

	// No window for a user who never wrote (an event only makes the user
	// known): failed with 45015.
	w.sim.RecordInteraction(appID, "0", "oStranger", "event:view", time.Time{})
	var ev events.ResultEvent
	out, err := w.kfctl("send", "--appid", appID, "--openid", "oStranger", "--text", "hi", "--json")
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "45015") {
		t.Errorf("send to a stranger = %v, want ErrFailed with 45015", err)
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Data.Outcome != events.OutcomeFailed || ev.Data.ErrCode != 45015 {
		t.Errorf("send --json printed %q (%v)", out, err)
	}

	// --wait 0 only publishes.
	out = w.ok("send", "--appid", appID, "--openid", user, "--text", "fire and forget", "--wait", "0")
	if !strings.Contains(out, "published command kfctl-") {
		t.Errorf("send --wait 0 printed %q", out)
	}
}

// TestDLQRoundTrip: a command without a send window is dead-lettered
// (45015); after the user writes, replaying it delivers it, once.
func TestDLQRoundTrip(t *testing.T) {
	w := newWorld(t)
	w.sim.RecordInteraction(appID, "0", user, "event:view", time.Time{}) // known, no window
	// Two failed commands: a structured one (through kfctl send) and a
	// bare one with a trace header.
	if _, err := w.kfctl("send", "--appid", appID, "--openid", user, "--text", "structured", "--id", "cmd-s"); !errors.Is(err, ErrFailed) {
		t.Fatalf("send without a window = %v", err)
	}
	bare := nats.NewMsg("wxkf.out." + appID + ".0." + user + ".send")
	bare.Data = []byte(`{"msgtype":"text","text":{"content":"bare"}}`)
	bare.Header.Set(nats.MsgIdHdr, "cmd-b")
	bare.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if _, err := w.js.PublishMsg(t.Context(), bare); err != nil {
		t.Fatal(err)
	}
	if ev := w.result("cmd-b"); ev.Data.ErrCode != 45015 {
		t.Fatalf("bare command: %+v", ev.Data)
	}

	out := w.ok("dlq", "list")
	for _, want := range []string{"SEQ", "COMMAND_ID", "REASON", "ERRCODE", "SUBJECT", "AGE", "cmd-s", "cmd-b", "window", "45015", "wxkf.out." + appID + ".0." + user + ".send"} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq list printed %q, want %q", out, want)
		}
	}
	var list []deadLetter
	w.okJSON(&list, "dlq", "list", "--appid", appID)
	if len(list) != 2 || list[0].CommandID != "cmd-s" || list[1].CommandID != "cmd-b" || list[0].Reason != "window" || list[0].ErrCode != 45015 || list[0].Attempts != 1 {
		t.Fatalf("dlq list --json = %+v", list)
	}
	var none []deadLetter
	w.okJSON(&none, "dlq", "list", "--appid", "wxother")
	if len(none) != 0 {
		t.Errorf("dlq list of another app = %+v", none)
	}
	if out := w.ok("dlq", "list", "--limit", "1"); strings.Contains(out, "cmd-b") {
		t.Errorf("dlq list --limit 1 printed %q", out)
	}

	// The user writes; replay the structured command.
	w.sim.RecordInteraction(appID, "0", user, "text", time.Time{})
	seq := strconv.FormatUint(list[0].Seq, 10)
	var rep []replayed
	w.okJSON(&rep, "dlq", "replay", seq)
	if len(rep) != 1 || rep[0].NewID != "cmd-s:replay:1" || rep[0].Status != "published" {
		t.Fatalf("replay = %+v", rep)
	}
	ev := w.result("cmd-s:replay:1")
	if ev.Data.Outcome != events.OutcomeDelivered {
		t.Fatalf("replayed command: %+v", ev.Data)
	}
	if ev.ID != "cmd-s:replay:1" {
		t.Errorf("result id %q", ev.ID)
	}
	// Replaying the same dead letter again sends nothing more.
	w.okJSON(&rep, "dlq", "replay", seq)
	if len(rep) != 1 || rep[0].Status != "duplicate" {
		t.Errorf("second replay = %+v", rep)
	}

	// --all replays both; only the bare one is new.
	out = w.ok("dlq", "replay", "--all", "--appid", appID)
	if !strings.Contains(out, "cmd-b:replay:1") || !strings.Contains(out, "published") || !strings.Contains(out, "duplicate") {
		t.Errorf("replay --all printed %q", out)
	}
	if ev := w.result("cmd-b:replay:1"); ev.Data.Outcome != events.OutcomeDelivered {
		t.Fatalf("replayed bare command: %+v", ev.Data)
	}
	// Every command is settled — none waits for delivery or for its ack —
	// so a second delivery would have happened by now.
	w.settled()
	got := w.sim.Delivered(appID)
	if len(got) != 2 || !strings.Contains(string(got[0].Body), "structured") || !strings.Contains(string(got[1].Body), "bare") {
		t.Fatalf("delivered = %+v", got)
	}

	// The replayed commands as stored: new id in the header and the event,
	// the bot's other headers kept, kfbridge's dropped.
	s, err := w.js.Stream(t.Context(), events.ResultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(t.Context()); err != nil || info.State.Msgs != 4 {
		t.Errorf("results stored: %v, %v; want 4 (2 failed, 2 delivered)", info.State.Msgs, err)
	}
	dlq, err := w.js.Stream(t.Context(), events.DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := dlq.GetMsg(t.Context(), list[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	msg, _, err := replayMsg(raw)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &body); err != nil || body.ID != "cmd-s:replay:1" || msg.Header.Get(nats.MsgIdHdr) != "cmd-s:replay:1" {
		t.Errorf("replay of the structured command: id %q, Nats-Msg-Id %q (%v)", body.ID, msg.Header.Get(nats.MsgIdHdr), err)
	}
	for k := range msg.Header {
		if strings.HasPrefix(k, "Kfbridge-") {
			t.Errorf("replay carries %s", k)
		}
	}
	rawB, err := dlq.GetMsg(t.Context(), list[1].Seq)
	if err != nil {
		t.Fatal(err)
	}
	msgB, _, err := replayMsg(rawB)
	if err != nil || string(msgB.Data) != string(bare.Data) || msgB.Header.Get("traceparent") == "" || msgB.Header.Get(nats.MsgIdHdr) != "cmd-b:replay:1" {
		t.Errorf("replay of the bare command: %q %v (%v)", msgB.Data, msgB.Header, err)
	}
}

// TestDLQReplayAgain: a replay that fails again is dead-lettered under its
// replay id; replaying that counts on.
func TestDLQReplayAgain(t *testing.T) {
	w := newWorld(t)
	w.sim.RecordInteraction(appID, "0", user, "event:view", time.Time{}) // known, no window
	if _, err := w.kfctl("send", "--appid", appID, "--openid", user, "--text", "x", "--id", "cmd-x"); !errors.Is(err, ErrFailed) {
		t.Fatal(err)
	}
	w.ok("dlq", "replay", "--all")
	if ev := w.result("cmd-x:replay:1"); ev.Data.ErrCode != 45015 {
		t.Fatalf("replay 1: %+v", ev.Data)
	}
	var list []deadLetter
	w.okJSON(&list, "dlq", "list")
	if len(list) != 2 || list[1].CommandID != "cmd-x:replay:1" {
		t.Fatalf("dlq = %+v", list)
	}
	w.sim.RecordInteraction(appID, "0", user, "text", time.Time{})
	w.ok("dlq", "replay", strconv.FormatUint(list[1].Seq, 10))
	if ev := w.result("cmd-x:replay:2"); ev.Data.Outcome != events.OutcomeDelivered {
		t.Fatalf("replay 2: %+v", ev.Data)
	}
	if _, err := w.kfctl("dlq", "replay", "999"); err == nil || errors.Is(err, ErrUsage) {
		t.Errorf("replay of a missing sequence = %v", err)
	}
}

// settled waits until the egress has acknowledged every stored command:
// no partition consumer has a command pending or unacknowledged.
func (w *world) settled() {
	w.t.Helper()
	natstest.WaitFor(w.t, "every command acknowledged", func() bool {
		s, err := w.js.Stream(w.t.Context(), events.OutboundStreamName)
		if err != nil {
			w.t.Fatal(err)
		}
		consumers := s.ListConsumers(w.t.Context())
		n, busy := 0, false
		for info := range consumers.Info() {
			n++
			busy = busy || info.NumPending > 0 || info.NumAckPending > 0
		}
		if err := consumers.Err(); err != nil {
			w.t.Fatal(err)
		}
		return n > 0 && !busy
	})
}
