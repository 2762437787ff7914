package manage

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestBudgetGet: budget.get answers the live budget of a conversation
// (schema-checked), without calling WeChat; none opened is 0 left; a user
// message stored in WXKF_IN (whose grant the ingress does not store) is
// applied before answering.
func TestBudgetGet(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var (
		tr *budget.Tracker
		js jetstream.JetStream
	)
	e := newEnv(t, func(c *Config) {
		var err error
		if js, err = jetstream.New(c.Conn); err != nil {
			t.Fatal(err)
		}
		sc := events.InboundStream()
		sc.Storage = jetstream.MemoryStorage
		if _, err := js.CreateStream(t.Context(), sc); err != nil {
			t.Fatal(err)
		}
		if tr, err = budget.Open(t.Context(), js, budget.Config{Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
		c.Budget, c.JetStream, c.Now = tr, js, func() time.Time { return now }
	})
	conv := events.Conversation{AppID: appID, BusinessID: "42", OpenID: "o1"}
	if _, err := tr.Grant(t.Context(), conv, events.TriggerMessage, now.Add(-time.Hour), "m1"); err != nil {
		t.Fatal(err)
	}
	if _, code, err := tr.Take(t.Context(), conv, now); err != nil || code != 0 {
		t.Fatalf("Take = %d, %v", code, err)
	}
	before := e.calls()
	got := e.ok(OpBudgetGet, map[string]any{"openid": "o1", "business_id": "42"})
	if got["remaining"] != 4.0 || got["expires_at"] != "2026-03-03T11:00:00Z" || got["trigger"] != "message" {
		t.Errorf("budget.get = %v, want 4 left until 2026-03-03T11:00:00Z (message)", got)
	}
	if got := e.ok(OpBudgetGet, map[string]any{"openid": "o1"}); got["remaining"] != 0.0 {
		t.Errorf("budget.get of the main account = %v, want 0 left", got)
	}
	if n := e.calls() - before; n != 0 {
		t.Errorf("budget.get made %d API calls", n)
	}
	// A new message of the main account, stored only as its event.
	m := wxcodec.Message{MsgType: "text", MsgID: "m2", CreateTime: now.Add(-time.Minute).Unix(), FromUserName: "o1", BusinessID: "0"}
	in, err := events.NewInbound(appID, &m)
	if err != nil {
		t.Fatal(err)
	}
	b := budget.MessageGrant(in.Time(), now)
	in.Budget = &b
	if _, err := js.PublishMsg(t.Context(), in.Msg("")); err != nil {
		t.Fatal(err)
	}
	if got := e.ok(OpBudgetGet, map[string]any{"openid": "o1"}); got["remaining"] != 5.0 || got["expires_at"] != "2026-03-03T11:59:00Z" {
		t.Errorf("budget.get after a stored message = %v, want 5 left until 2026-03-03T11:59:00Z", got)
	}
	if me := e.fail(OpBudgetGet, map[string]any{"openid": "a.b"}); me.Code != CodeInvalid {
		t.Errorf("budget.get with a dotted openid = %d, want %d", me.Code, CodeInvalid)
	}
}

// TestBudgetGetOff: with tracking off budget.get answers -1010.
func TestBudgetGetOff(t *testing.T) {
	e := newEnv(t, nil)
	if me := e.fail(OpBudgetGet, map[string]any{"openid": "o1"}); me.Code != CodeBudgetOff {
		t.Errorf("budget.get = %d %q, want %d", me.Code, me.Msg, CodeBudgetOff)
	}
}
