package kfbridgetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestWaitResultReadsEachResultOnce: WaitResult and Results request each
// stored result from the server once, however often they poll; what they
// read before comes from the bridge, so waiting stays cheap with hundreds
// of results on WXKF_RESULT.
func TestWaitResultReadsEachResultOnce(t *testing.T) {
	b := Start(t)
	ctx := t.Context()
	_, js := natstest.ConnectURL(t, b.NATSURL())
	conv := events.Conversation{AppID: b.AppID(), BusinessID: events.MainBusinessID, OpenID: "oMany"}
	subject, err := events.ResultSubject(conv, events.OutcomeDelivered)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(id string) {
		t.Helper()
		body, err := json.Marshal(events.NewResult(events.ResultData{CommandID: id, Verb: events.VerbSend,
			AppID: conv.AppID, BusinessID: conv.BusinessID, OpenID: conv.OpenID, Outcome: events.OutcomeDelivered,
			ErrMsg: "ok", Attempts: 1, Time: time.Now()}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, subject, body); err != nil {
			t.Fatal(err)
		}
	}
	// gets returns how many message requests the bridge made since the
	// previous call.
	last := 0
	gets := func() int {
		b.results.mu.Lock()
		defer b.results.mu.Unlock()
		n := b.results.gets - last
		last = b.results.gets
		return n
	}

	const n = 300
	for i := range n {
		publish(fmt.Sprintf("cmd-%d", i))
	}
	if r, err := b.WaitResult(ctx, fmt.Sprintf("cmd-%d", n-1)); err != nil || r.Data.CommandID != fmt.Sprintf("cmd-%d", n-1) {
		t.Fatalf("WaitResult(last) = %+v, %v", r.Data, err)
	}
	if got := gets(); got != n {
		t.Errorf("first WaitResult: %d message requests, want %d (each stored result once)", got, n)
	}
	for _, id := range []string{"cmd-0", fmt.Sprintf("cmd-%d", n/2)} {
		if r, err := b.WaitResult(ctx, id); err != nil || r.Data.CommandID != id {
			t.Fatalf("WaitResult(%s) = %+v, %v", id, r.Data, err)
		}
	}
	all, err := b.Results(ctx)
	if err != nil || len(all) != n || all[0].Data.CommandID != "cmd-0" || all[n-1].Data.CommandID != fmt.Sprintf("cmd-%d", n-1) {
		t.Fatalf("Results() = %d results, %v; want %d in order", len(all), err, n)
	}
	if got := gets(); got != 0 {
		t.Errorf("waits for results already read and Results: %d message requests, want 0", got)
	}

	// A wait polling while results arrive requests each new one once.
	const late = 50
	done := make(chan error, 1)
	go func() {
		_, err := b.WaitResult(ctx, fmt.Sprintf("late-%d", late-1))
		done <- err
	}()
	for i := range late {
		publish(fmt.Sprintf("late-%d", i))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := gets(); got != late {
		t.Errorf("WaitResult while %d results arrived: %d message requests, want %d", late, got, late)
	}
	if all, err := b.Results(ctx); err != nil || len(all) != n+late {
		t.Errorf("Results() = %d results, %v; want %d", len(all), err, n+late)
	}
}
