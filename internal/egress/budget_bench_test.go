package egress

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// BenchmarkBudgetThroughput is BenchmarkThroughput (latency 0, shipped
// settings) with egress.reply_budget off and observe: what tracking costs
// per send. Each conversation's user message is stored in WXKF_IN as the
// ingress stores it (its grant only in the event), so in observe every
// send first reads the conversation's latest push, then takes.
//
//	go test -run '^$' -bench BudgetThroughput -benchtime 3000x ./internal/egress/
func BenchmarkBudgetThroughput(b *testing.B) {
	for _, mode := range []string{config.BudgetOff, config.BudgetObserve} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, wxsim.SimConfig{}, func(c *config.Egress) { shipped(c); c.ReplyBudget = mode })
			trackBudgets(b, e, jetstream.MemoryStorage, mode != config.BudgetOff)
			eg := e.newEgress(e.js)
			storeMessages(b, e, (b.N+4)/5)
			storeSends(b, e, b.N)
			res := runTimed(b, e, eg)
			for id, r := range res {
				if r.Data.Outcome != events.OutcomeDelivered || r.Data.BudgetExceeded {
					b.Fatalf("%s: %+v", id, r.Data)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}

// trackBudgets creates WXKF_IN and returns it and, when track is set,
// gives the env's next replicas a reply-budget tracker each, both on
// storage (the egress tracks budgets when its ReplyBudget is not off and
// it has a tracker).
func trackBudgets(tb testing.TB, e *env, storage jetstream.StorageType, track bool) jetstream.Stream {
	tb.Helper()
	sc := events.InboundStream()
	broker.ApplyStreamSettings(&sc, config.Default().NATS.Streams) // as the bridge defines it
	sc.Storage = storage
	in, err := e.js.CreateStream(tb.Context(), sc)
	if err != nil {
		tb.Fatal(err)
	}
	if track {
		e.budget = func(js jetstream.JetStream) *budget.Tracker {
			t, err := budget.Open(tb.Context(), js, budget.Config{Storage: storage})
			if err != nil {
				tb.Fatal(err)
			}
			return t
		}
	}
	return in
}

// storeMessages stores one user message event per conversation of
// storeSends (oB000000, …) in WXKF_IN, as the ingress publishes it (the
// grant in the event only).
func storeMessages(b *testing.B, e *env, n int) {
	b.Helper()
	now := e.sim.Now()
	at := now.Truncate(time.Second)
	for i := range n {
		openid := fmt.Sprintf("oB%06d", i)
		m := wxcodec.Message{ToUserName: "gh_1", FromUserName: openid, CreateTime: at.Unix(), MsgType: "text", MsgID: fmt.Sprint(i + 1), Content: "hi"}
		in, err := events.NewInbound(appID, &m)
		if err != nil {
			b.Fatal(err)
		}
		g := budget.MessageGrant(at, now)
		in.Budget = &g
		if _, err := e.js.PublishMsg(b.Context(), in.Msg("")); err != nil {
			b.Fatal(err)
		}
	}
}
