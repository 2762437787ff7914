package ingress

import (
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
	"github.com/kfbridge/kfbridge/schemas"
)

func newBudgetEnv(t *testing.T) (*env, *budget.Tracker, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	var tr *budget.Tracker
	e := newEnv(t, func(c *Config) {
		var err error
		if tr, err = budget.Open(t.Context(), c.JetStream, budget.Config{Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
		c.Budget, c.Registry = tr, reg
	})
	return e, tr, reg
}

// TestPushGrantsBudget: a user message and an enter-session carry the
// budget they granted (schema-valid); a message writes no budget (the
// egress applies its grant from the stored event); an enter-session
// inside the open message window keeps it, whether or not a send stored
// that window; a WeChat retry grants nothing more; other events carry
// none.
func TestPushGrantsBudget(t *testing.T) {
	e, tr, _ := newBudgetEnv(t)
	in, err := e.js.Stream(t.Context(), events.InboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	k := kinds()
	conv := events.Conversation{AppID: testAppID, BusinessID: "0", OpenID: k["text"].FromUserName}
	created := time.Unix(k["text"].CreateTime, 0).UTC()
	send := func(m wxcodec.Message) *events.ReplyBudget {
		t.Helper()
		q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, m)
		if status, answer := e.do(t, http.MethodPost, testAppID, q, body); status != http.StatusOK {
			t.Fatalf("push: %d %q", status, answer)
		}
		raw := e.last(t)
		if err := v.Validate(schemas.InboundEvent, raw.Data); err != nil {
			t.Fatalf("event breaks its schema: %v\n%s", err, raw.Data)
		}
		ev, err := events.ParseInbound(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Data.ReplyBudget
	}
	want := events.ReplyBudget{Remaining: 5, ExpiresAt: created.Add(48 * time.Hour), Trigger: events.TriggerMessage}
	if got := send(k["text"]); got == nil || *got != want {
		t.Fatalf("text: reply_budget = %+v, want %+v", got, want)
	}
	if s, err := tr.Get(t.Context(), conv); err != nil || s.Remaining != 0 || !s.ExpiresAt.IsZero() {
		t.Errorf("stored budget after a message: %+v, %v; want none (the message writes nothing)", s, err)
	}
	if _, code, _, err := tr.SyncTakeN(t.Context(), in, conv, 1, fixedNow, time.Time{}); err != nil || code != 0 {
		t.Fatalf("Take = %d, %v", code, err)
	}
	// WeChat's retry of the message: stored once, nothing granted again.
	send(k["text"])
	if s, err := tr.Live(t.Context(), in, conv); err != nil || s.Remaining != 4 {
		t.Errorf("after a retried push: %+v, %v; want 4 left", s, err)
	}
	// Another replica spends a send: the ingress's remembered revision is
	// stale, its compare-and-set fails, and it writes on a fresh read.
	if _, code, _, err := tr.SyncTakeN(t.Context(), in, conv, 1, fixedNow, time.Time{}); err != nil || code != 0 {
		t.Fatalf("Take = %d, %v", code, err)
	}
	enter := k["user_enter_tempsession"]
	enter.CreateTime++
	want.Remaining = 3
	if got := send(enter); got == nil || *got != want {
		t.Errorf("enter-session inside the message window: reply_budget = %+v, want %+v", got, want)
	}
	other := k["unknown event"]
	if got := send(other); got != nil {
		t.Errorf("debug_demo: reply_budget = %+v, want none", got)
	}
	// A message nobody answered yet (its window only in its stored event),
	// then an enter-session: the message's window is kept.
	msg, enter2 := k["text"], k["user_enter_tempsession"]
	msg.FromUserName, enter2.FromUserName = "o-fresh", "o-fresh"
	msg.MsgID += "1"
	enter2.CreateTime = msg.CreateTime + 10
	send(msg)
	want.Remaining = 5
	if got := send(enter2); got == nil || *got != want {
		t.Errorf("enter-session after a stored message: reply_budget = %+v, want %+v", got, want)
	}
}

// TestBudgetFailureStoresPush: a budget store that fails never costs the
// push; the failure is counted. A message's event carries the budget it
// grants all the same (computed without the store, which it never
// writes); an enter-session's, which depends on the stored budget, carries
// none.
func TestBudgetFailureStoresPush(t *testing.T) {
	e, _, reg := newBudgetEnv(t)
	if err := e.js.DeleteKeyValue(t.Context(), budget.Bucket); err != nil {
		t.Fatal(err)
	}
	k := kinds()
	created := time.Unix(k["text"].CreateTime, 0).UTC()
	push := func(m wxcodec.Message) *events.ReplyBudget {
		t.Helper()
		q, body := e.push(t, wxcodec.FormatJSON, wxcodec.ModeSafe, m)
		if status, answer := e.do(t, http.MethodPost, testAppID, q, body); status != http.StatusOK || answer != "success" {
			t.Fatalf("push: %d %q, want 200 success", status, answer)
		}
		ev, err := events.ParseInbound(e.last(t).Data)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Data.ReplyBudget
	}
	want := events.ReplyBudget{Remaining: 5, ExpiresAt: created.Add(48 * time.Hour), Trigger: events.TriggerMessage}
	if got := push(k["text"]); got == nil || *got != want {
		t.Errorf("text: reply_budget = %+v, want %+v", got, want)
	}
	if got := push(k["user_enter_tempsession"]); got != nil {
		t.Errorf("enter-session: reply_budget = %+v, want none", got)
	}
	if n := counter(t, reg, "kfbridge_ingress_budget_errors_total"); n != 1 {
		t.Errorf("budget errors = %v, want 1 (the enter-session's)", n)
	}
}

// counter returns the value of the counter name (without labels) in reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
