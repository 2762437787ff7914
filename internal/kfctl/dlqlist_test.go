package kfctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

const otherApp = "wxfedcba9876543210"

// deadReasons are the reasons and errcodes the test dead letters cycle
// through.
var deadReasons = []struct {
	reason string
	code   int
}{{"window", 45015}, {"quota", 45009}, {"permanent", 40003}}

// publishDeadLetters stores n dead letters of appid in WXKF_DLQ as egress
// does (subject and headers), users oUser-<i%10>, reasons cycling through
// deadReasons, and waits for the acks.
func publishDeadLetters(tb testing.TB, js jetstream.JetStream, appid string, n int) {
	tb.Helper()
	var acks []jetstream.PubAckFuture
	for i := range n {
		openid := "oUser-" + strconv.Itoa(i%10)
		r := deadReasons[i%len(deadReasons)]
		m := nats.NewMsg(events.DeadLetterPrefix + appid + ".0." + openid + ".send")
		m.Data = []byte(`{"msgtype":"text","text":{"content":"dead letter ` + strconv.Itoa(i) + `"}}`)
		m.Header.Set(events.HeaderCommandID, fmt.Sprintf("%s-cmd-%d", appid, i))
		m.Header.Set(events.HeaderReason, r.reason)
		m.Header.Set(events.HeaderErrCode, strconv.Itoa(r.code))
		m.Header.Set(events.HeaderErrMsg, "errmsg")
		m.Header.Set(events.HeaderAttempts, "1")
		m.Header.Set(events.HeaderOriginalSubject, "wxkf.out."+appid+".0."+openid+".send")
		a, err := js.PublishMsgAsync(m)
		if err != nil {
			tb.Fatal(err)
		}
		acks = append(acks, a)
	}
	for _, a := range acks {
		select {
		case <-a.Ok():
		case err := <-a.Err():
			tb.Fatal(err)
		case <-time.After(30 * time.Second):
			tb.Fatal("no ack for a dead letter")
		}
	}
}

// dlq runs kfctl dlq args --json and returns the dead letters (or replays)
// it printed and its stderr.
func (w *world) dlqJSON(v any, args ...string) string {
	w.t.Helper()
	var out, errOut bytes.Buffer
	err := Run(w.t.Context(), Config{Args: append(append([]string{"--nats", w.url, "dlq"}, args...), "--json"), Stdout: &out, Stderr: &errOut})
	if err != nil {
		w.t.Fatalf("kfctl dlq %q: %v\n%s", args, err, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		w.t.Fatalf("kfctl dlq %q: %v\n%s", args, err, out.String())
	}
	return errOut.String()
}

// TestDLQListFilters: paging and the filters on 300 dead letters of two
// apps.
func TestDLQListFilters(t *testing.T) {
	w := newWorld(t)
	publishDeadLetters(t, w.js, appID, 200)
	publishDeadLetters(t, w.js, otherApp, 100)

	tests := []struct {
		args []string
		want int // dead letters printed
		more int // the "N more" hint; 0 none
		ok   func(deadLetter) bool
	}{
		{nil, 50, 250, nil},
		{[]string{"--all"}, 300, 0, nil},
		{[]string{"--limit", "300"}, 300, 0, nil},
		{[]string{"--limit", "299"}, 299, 1, nil},
		{[]string{"--app", appID}, 50, 150, func(d deadLetter) bool { return strings.HasPrefix(d.Subject, events.DeadLetterPrefix+appID+".") }},
		{[]string{"--appid", otherApp, "--all"}, 100, 0, func(d deadLetter) bool { return strings.HasPrefix(d.Subject, events.DeadLetterPrefix+otherApp+".") }},
		{[]string{"--appid", appID, "--openid", "oUser-3", "--all"}, 20, 0, func(d deadLetter) bool { return strings.HasSuffix(d.OriginalSubject, ".oUser-3.send") }},
		{[]string{"--appid", appID, "--bid", "7", "--all"}, 0, 0, nil},
		{[]string{"--reason", "window", "--all"}, 67 + 34, 0, func(d deadLetter) bool { return d.Reason == "window" && d.ErrCode == 45015 }},
		{[]string{"--reason", "window,quota", "--limit", "10"}, 10, 67 + 34 + 67 + 33 - 10, func(d deadLetter) bool { return d.Reason != "permanent" }},
		{[]string{"--reason", "window", "--reason", "permanent", "--app", otherApp}, 50, 17, func(d deadLetter) bool { return d.Reason != "quota" }},
		{[]string{"--errcode", "45009", "--app", otherApp, "--all"}, 33, 0, func(d deadLetter) bool { return d.ErrCode == 45009 && strings.Contains(d.Subject, otherApp) }},
		{[]string{"--errcode", "1"}, 0, 0, nil},
		{[]string{"--newer-than", "1h", "--limit", "100"}, 100, 200, nil},
		{[]string{"--older-than", "1h"}, 0, 0, nil},
		{[]string{"--older-than", "1ns", "--newer-than", "1h", "--reason", "quota", "--limit", "5"}, 5, 95, nil},
	}
	for _, tt := range tests {
		var list []deadLetter
		stderr := w.dlqJSON(&list, append([]string{"list"}, tt.args...)...)
		if len(list) != tt.want {
			t.Errorf("dlq list %q printed %d, want %d", tt.args, len(list), tt.want)
		}
		hint := ""
		if tt.more > 0 {
			hint = fmt.Sprintf("kfctl: %d more dead letters match; --limit N or --all shows them\n", tt.more)
		}
		if stderr != hint {
			t.Errorf("dlq list %q: stderr %q, want %q", tt.args, stderr, hint)
		}
		for i, d := range list {
			if i > 0 && d.Seq <= list[i-1].Seq {
				t.Errorf("dlq list %q: not oldest first: %d after %d", tt.args, d.Seq, list[i-1].Seq)
			}
			if tt.ok != nil && !tt.ok(d) {
				t.Errorf("dlq list %q printed %+v", tt.args, d)
				break
			}
		}
	}

	// The table has the hint on stderr only.
	var out, errOut bytes.Buffer
	if err := Run(t.Context(), Config{Args: []string{"--nats", w.url, "dlq", "list", "--limit", "3"}, Stdout: &out, Stderr: &errOut}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 4 || !strings.Contains(errOut.String(), "297 more") {
		t.Errorf("dlq list --limit 3 printed\n%s\n%s", out.String(), errOut.String())
	}

	// Replay --all takes the same filters.
	var rep []replayed
	w.dlqJSON(&rep, "replay", "--all", "--app", otherApp, "--errcode", "40003", "--openid", "oUser-2")
	if len(rep) != 4 { // i%10 == 2 and i%3 == 2: 2, 32, 62, 92
		t.Errorf("replayed %d, want 4: %+v", len(rep), rep)
	}
	for _, r := range rep {
		if !strings.HasPrefix(r.Subject, "wxkf.out."+otherApp+".0.oUser-2.") {
			t.Errorf("replayed %+v", r)
		}
	}

	for _, args := range [][]string{
		{"list", "--limit", "0"},
		{"list", "--older-than", "1h", "--newer-than", "1h"},
		{"list", "--older-than", "-1h"},
		{"list", "--bid", "0"},
		{"list", "--app", "a.b"},
		{"list", "--errcode", "x"},
		{"replay", "3", "--reason", "window"},
		{"replay", "--all", "--openid", "o"},
	} {
		if _, err := w.kfctl(append([]string{"dlq"}, args...)...); !errors.Is(err, ErrUsage) {
			t.Errorf("dlq %q = %v, want ErrUsage", args, err)
		}
	}
}

// TestDLQScanAge: --older-than and --newer-than cut by the time the
// stream stored each dead letter.
func TestDLQScanAge(t *testing.T) {
	w := newWorld(t)
	publishDeadLetters(t, w.js, appID, 10)
	s, err := w.js.Stream(t.Context(), events.DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetMsg(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, "the clock to pass the 10th dead letter", func() bool { return time.Now().After(last.Time) })
	publishDeadLetters(t, w.js, appID, 5)
	first, err := s.GetMsg(t.Context(), 11)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Time.After(last.Time) {
		t.Fatalf("stored times %v, %v", last.Time, first.Time)
	}
	mid := last.Time.Add(first.Time.Sub(last.Time) / 2)
	now := mid.Add(time.Hour)
	count := func(q dlqQuery) int {
		n := 0
		if _, err := scan(t.Context(), w.js, q, now, func(deadLetter) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(dlqQuery{olderThan: time.Hour}); n != 10 {
		t.Errorf("older than the middle: %d, want 10", n)
	}
	if n := count(dlqQuery{newerThan: time.Hour}); n != 5 {
		t.Errorf("newer than the middle: %d, want 5", n)
	}
	if n := count(dlqQuery{newerThan: time.Hour, reasons: []string{"window"}}); n != 2 {
		t.Errorf("newer than the middle, window: %d, want 2 (i = 0, 3)", n)
	}
	// The consumers scan used are gone.
	info, err := s.Info(context.Background())
	if err != nil || info.State.Consumers != 0 {
		t.Errorf("consumers left on %s: %v (%v)", events.DeadLetterStreamName, info.State.Consumers, err)
	}
}
