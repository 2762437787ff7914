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
// budget they granted (schema-valid); an enter-session inside the open
// message window keeps it; a WeChat retry grants nothing more; other
// events carry none.
func TestPushGrantsBudget(t *testing.T) {
	e, tr, _ := newBudgetEnv(t)
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
	if _, code, err := tr.Take(t.Context(), conv, fixedNow); err != nil || code != 0 {
		t.Fatalf("Take = %d, %v", code, err)
	}
	// WeChat's retry of the message: stored once, nothing granted again.
	send(k["text"])
	if s, err := tr.Get(t.Context(), conv); err != nil || s.Remaining != 4 {
		t.Errorf("after a retried push: %+v, %v; want 4 left", s, err)
	}
	// Another replica spends a send: the ingress's remembered revision is
	// stale, its compare-and-set fails, and it writes on a fresh read.
	if _, code, err := tr.Take(t.Context(), conv, fixedNow); err != nil || code != 0 {
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
}

// TestBudgetFailureStoresPush: a budget store that fails never costs the
// push; the failure is counted. A message's event carries the budget it
// grants all the same (computed without the store, and applied from the
// event by the egress when it needs it); an enter-session's, which depends
// on the stored budget, carries none.
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
	if n := counter(t, reg, "kfbridge_ingress_budget_errors_total"); n != 2 {
		t.Errorf("budget errors = %v, want 2", n)
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

// TestStartGrant: the ingress's grant, sent without waiting through its
// publisher, creates a new conversation's budget; after another replica
// changed the budget (a stale copy) the write loses its compare-and-set and
// continues on a fresh read, so the grant still lands; a retry of an
// applied push changes nothing.
func TestStartGrant(t *testing.T) {
	e, tr, _ := newBudgetEnv(t)
	pub := NewPublisher(e.js, WithAckTimeout(5*time.Second))
	t.Cleanup(func() { pub.Close() })
	ing := tr.WithWriter(pub.PublishExpect, pub.StartExpect)
	conv := events.Conversation{AppID: testAppID, BusinessID: "0", OpenID: "o-start"}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	grant := func(at time.Time, id string) budget.State {
		t.Helper()
		st, err := ing.StartGrant(t.Context(), conv, events.TriggerMessage, at, id)()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := grant(t0, "m1"); st.Remaining != 5 || !st.ExpiresAt.Equal(t0.Add(budget.MessageWindow)) {
		t.Errorf("new conversation: %+v, want 5 until t0+48h", st)
	}
	// Another replica spends two: the ingress's copy is stale.
	if _, code, err := tr.TakeN(t.Context(), conv, 2, t0.Add(time.Second)); err != nil || code != 0 {
		t.Fatalf("take: %d %v", code, err)
	}
	if st := grant(t0, "m1"); st.Remaining != 3 {
		t.Errorf("retry of m1: %+v, want 3 left (nothing granted again)", st)
	}
	if _, code, err := tr.TakeN(t.Context(), conv, 1, t0.Add(2*time.Second)); err != nil || code != 0 {
		t.Fatalf("take: %d %v", code, err)
	}
	t1 := t0.Add(time.Minute)
	if st := grant(t1, "m2"); st.Remaining != 5 || !st.ExpiresAt.Equal(t1.Add(budget.MessageWindow)) {
		t.Errorf("m2 on a stale copy: %+v, want 5 until t1+48h", st)
	}
	if st, err := tr.Get(t.Context(), conv); err != nil || st.Remaining != 5 || !st.ExpiresAt.Equal(t1.Add(budget.MessageWindow)) {
		t.Errorf("stored: %+v, %v; want m2's window", st, err)
	}
}
