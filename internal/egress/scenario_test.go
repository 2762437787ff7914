package egress

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestThousandCommandsKilledReplica is the acceptance scenario:
// 1 000 commands over 50 conversations, each kept inside its send window by
// user messages as a real chat would (the user writes, the bot answers up to
// four times, the user writes again), three egress replicas, 50 ms API
// latency, and one replica killed — its NATS connection cut — while it holds
// unacknowledged commands. Every command ends in exactly one result; every
// delivered command reached WeChat exactly once and in publish order per
// conversation; the only other outcome allowed is maybe_delivered, for a
// command that was in the killed replica's hands.
func TestThousandCommandsKilledReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("long scenario")
	}
	e := newEnv(t, wxsim.SimConfig{Latency: 50 * time.Millisecond}, func(c *config.Egress) {
		c.Partitions = 64
		c.RetryBudget = time.Minute
	})
	// Each replica has its own connection, to be cut, and its own metrics.
	// The victim is whichever replica holds commands at the time: which
	// replicas the server pins partitions to first is up to it.
	var conns []*nats.Conn
	var regs []*prometheus.Registry
	for range 3 {
		nc, err := nats.Connect(e.nc.ConnectedUrl())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		reg := prometheus.NewRegistry()
		e.reg = reg
		e.replica(nc)
		conns, regs = append(conns, nc), append(regs, reg)
	}
	e.reg = nil

	const convs, rounds, perRound = 50, 5, 4 // 50 × 5 × 4 = 1 000 commands
	results := make(chan events.ResultEvent, convs*rounds*perRound)
	sub, err := e.nc.Subscribe(events.ResultSubjects, func(m *nats.Msg) {
		var r events.ResultEvent
		if json.Unmarshal(m.Data, &r) == nil {
			results <- r
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	// Route results to the conversation waiting for them.
	var mu sync.Mutex
	waiting := map[string]chan events.ResultEvent{}
	all := map[string]events.ResultEvent{}
	var dup atomic.Int32
	go func() {
		for r := range results {
			mu.Lock()
			if _, seen := all[r.Data.CommandID]; seen {
				dup.Add(1) // core NATS also sees a republished duplicate
			} else {
				all[r.Data.CommandID] = r
				if ch := waiting[r.Data.OpenID]; ch != nil {
					ch <- r
				}
			}
			mu.Unlock()
		}
	}()

	midway := make(chan struct{}) // conversation 0 published its third round
	var wg sync.WaitGroup
	start := time.Now()
	for c := range convs {
		openid := fmt.Sprintf("oChat%02d", c)
		ch := make(chan events.ResultEvent, perRound)
		mu.Lock()
		waiting[openid] = ch
		mu.Unlock()
		wg.Go(func() {
			for r := range rounds {
				e.interact("0", openid) // the user writes
				for i := range perRound {
					id := fmt.Sprintf("%s-%d-%d", openid, r, i)
					e.command("0", openid, events.VerbSend, id, text(id))
				}
				if c == 0 && r == 2 {
					close(midway)
				}
				for range perRound {
					select {
					case <-ch:
					case <-time.After(40 * time.Second):
						t.Errorf("%s: a result is missing in round %d", openid, r)
						return
					}
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-midway:
		// Kill one replica while it holds commands.
		victim := -1
		natstest.WaitFor(t, "a replica handling commands", func() bool {
			for i, reg := range regs {
				if gaugeValue(t, reg, "kfbridge_egress_inflight_commands") > 0 {
					victim = i
					return true
				}
			}
			return false
		})
		conns[victim].Close()
	case <-finished:
		t.Fatal("the conversations ended before the victim was killed")
	}
	<-finished
	took := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	if len(all) != convs*rounds*perRound {
		t.Fatalf("%d results, want %d", len(all), convs*rounds*perRound)
	}
	at := map[string]int{}
	for _, d := range e.sim.Delivered(appID) {
		var body struct{ Text struct{ Content string } }
		json.Unmarshal(d.Body, &body)
		at[body.Text.Content]++
	}
	var delivered, maybe, maybeArrived int
	for id, r := range all {
		switch {
		case r.Data.Outcome == events.OutcomeDelivered:
			delivered++
			if at[id] != 1 {
				t.Errorf("%s delivered, but WeChat has it %d times", id, at[id])
			}
		case r.Data.Reason == ReasonMaybeDelivered:
			maybe++
			if at[id] > 1 {
				t.Errorf("%s maybe_delivered, but WeChat has it %d times", id, at[id])
			}
			maybeArrived += at[id]
		default:
			t.Errorf("%s: %+v", id, r.Data)
		}
	}
	// Order per conversation at WeChat.
	last := map[string]string{}
	for _, d := range e.sim.Delivered(appID) {
		var body struct{ Text struct{ Content string } }
		json.Unmarshal(d.Body, &body)
		if prev := last[d.OpenID]; body.Text.Content < prev {
			t.Errorf("%s: %s reached WeChat after %s", d.OpenID, body.Text.Content, prev)
		}
		last[d.OpenID] = body.Text.Content
	}
	if maybe > e.cfg.Concurrency {
		t.Errorf("%d maybe_delivered: more than the killed replica could hold (%d)", maybe, e.cfg.Concurrency)
	}
	t.Logf("1000 commands, 50 conversations, 3 replicas (one killed), 50 ms latency: %d delivered, %d maybe_delivered (%d of them at WeChat), %d duplicate result messages on core NATS, %v",
		delivered, maybe, maybeArrived, dup.Load(), took.Round(time.Millisecond))
}

// gaugeValue returns the value of the gauge name gathered from g.
func gaugeValue(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
