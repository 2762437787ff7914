package egress

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// storeUngranted stores a user's text push in WXKF_IN exactly as the
// ingress publishes it (data.reply_budget computed locally, no grant
// written to the budget), at the simulator's now. It returns the event's
// id and time.
func (w *budgetWorld) storeUngranted(openid, msgid string) (string, time.Time) {
	w.t.Helper()
	at := w.sim.Now().Truncate(time.Second)
	w.sim.RecordInteraction(appID, "0", openid, "text", at)
	m := wxcodec.Message{ToUserName: "gh_1", FromUserName: openid, CreateTime: at.Unix(), MsgType: "text", MsgID: msgid, Content: "hello"}
	in, err := events.NewInbound(appID, &m)
	if err != nil {
		w.t.Fatal(err)
	}
	b := budget.MessageGrant(at, w.sim.Now())
	in.Budget = &b
	if _, err := w.js.PublishMsg(w.t.Context(), in.Msg("")); err != nil {
		w.t.Fatal(err)
	}
	return in.ID, at
}

// counterValue returns the value of the unlabeled counter name in reg (0
// when absent).
func counterValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
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
	return 0
}

// TestCatchUpUngrantedPush: the ingress writes no grant for a user
// message, so a command meets a stored event whose grant is not in the
// budget. The egress brings the budget up to date from WXKF_IN before it
// takes: the command is delivered, not counted over budget, and the grant
// is applied once (applying it again changes nothing; later commands spend
// from the same window). Without the catch-up both modes fail this test:
// enforce refuses, observe counts over.
func TestCatchUpUngrantedPush(t *testing.T) {
	for _, mode := range []string{config.BudgetEnforce, config.BudgetObserve} {
		t.Run(mode, func(t *testing.T) {
			w := newBudgetWorld(t, mode, wxsim.SimConfig{})
			w.reg = prometheus.NewRegistry()
			reg := w.reg
			w.replica(nil)
			conv := w.conv("u1")
			// An older message, granted; its window used up.
			w.push("u1", "text", "m0")
			if _, code, _, err := w.tr.SyncTakeN(t.Context(), w.in, conv, budget.MessageSends, w.sim.Now(), time.Time{}); err != nil || code != 0 {
				t.Fatalf("take: %d %v", code, err)
			}
			w.sim.Advance(time.Minute)
			id, at := w.storeUngranted("u1", "7000000000000000001")
			for i := range 3 {
				w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text(fmt.Sprintf("reply %d", i)))
				r := w.result(fmt.Sprintf("c%d", i)).Data
				if r.Outcome != events.OutcomeDelivered || r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 4-i ||
					!r.ReplyBudget.ExpiresAt.Equal(at.Add(budget.MessageWindow)) {
					t.Fatalf("c%d = %+v; want delivered from the new window, not exceeded, %d left", i, r, 4-i)
				}
			}
			if n := metricValue(t, reg, "kfbridge_egress_budget_over_total", mode); n != 0 {
				t.Errorf("budget_over{%s} = %v, want 0", mode, n)
			}
			// The second command found the grant applied: one catch-up.
			if n := counterValue(t, reg, "kfbridge_egress_budget_caught_up_total"); n != 1 {
				t.Errorf("caught up = %v, want 1", n)
			}
			// Applying the stored grant again (another replica's catch-up,
			// or the grant itself) changes nothing.
			if found, applied, err := w.tr.CatchUp(t.Context(), w.in, conv); err != nil || !found || applied {
				t.Errorf("catch-up again: found %v, applied %v, %v; want found, not applied", found, applied, err)
			}
			s, err := w.tr.Grant(t.Context(), conv, events.TriggerMessage, at, id)
			if err != nil || s.Remaining != 2 {
				t.Errorf("grant again: budget %+v, %v; want 2 left (not granted again)", s, err)
			}
			if n := w.callsWith(budget.CodeOutOfCount) + w.callsWith(budget.CodeOutOfWindow); n != 0 {
				t.Errorf("WeChat refused %d sends, want 0", n)
			}
		})
	}
}

// TestCatchUpNothingStored: with no stored message newer than the budget,
// the catch-up changes nothing and enforce still refuses.
func TestCatchUpNothingStored(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
	w.replica(nil)
	w.push("u1", "user_enter_tempsession", "e1")
	for i := range 3 {
		w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text("hi"))
	}
	if r := w.result("c2").Data; r.Outcome != events.OutcomeFailed || r.Reason != ReasonBudget {
		t.Errorf("third send = %+v; want refused by the budget", r)
	}
	if n := len(w.sim.Delivered(appID)); n != 2 {
		t.Errorf("WeChat delivered %d, want 2", n)
	}
}
