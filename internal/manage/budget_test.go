package manage

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestBudgetGet: budget.get answers the live budget of a conversation
// (schema-checked), without calling WeChat; none opened is 0 left.
func TestBudgetGet(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var tr *budget.Tracker
	e := newEnv(t, func(c *Config) {
		js, err := jetstream.New(c.Conn)
		if err != nil {
			t.Fatal(err)
		}
		if tr, err = budget.Open(t.Context(), js, budget.Config{Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
		c.Budget, c.Now = tr, func() time.Time { return now }
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
