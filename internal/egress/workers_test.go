package egress

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestConversationsTakeTurns: with one worker, a conversation with five
// commands and three with one each, all stored before the egress starts,
// are served in turns: every short conversation's send is delivered
// before the long one's third (a worker that stayed with a conversation
// until it had none left would deliver all five first).
func TestConversationsTakeTurns(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
		c.Partitions = 1
		c.Concurrency = 1
	})
	eg := e.newEgress(e.js)
	e.interact("0", "oLong")
	for i := range 5 {
		e.command("0", "oLong", events.VerbSend, fmt.Sprintf("long-%d", i), text(fmt.Sprint(i)))
	}
	short := []string{"oShortA", "oShortB", "oShortC"}
	for _, openid := range short {
		e.interact("0", openid)
		e.command("0", openid, events.VerbSend, openid, text("x"))
	}
	testworld.Run(t, "egress", eg.Run)
	natstest.WaitFor(t, "all 8 sends", func() bool { return len(e.sim.Delivered(appID)) == 8 })

	third, last, long := -1, 0, 0
	for i, d := range e.sim.Delivered(appID) {
		if d.OpenID != "oLong" {
			last = i
		} else if long++; long == 3 {
			third = i
		}
	}
	if last > third {
		t.Errorf("a short conversation's send was delivered at position %d, after the long conversation's third (%d): %v",
			last, third, openids(e.sim.Delivered(appID)))
	}
}

// TestConcurrencyBound: with Concurrency 3, eight conversations' sends
// are in WeChat's hands at most three at a time, and three at once. The
// simulated API holds each call for 300 ms, or until a fourth is in
// flight (which would be a failure), so that the calls overlap.
func TestConcurrencyBound(t *testing.T) {
	const limit = 3
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
		c.Partitions = 2
		c.Concurrency = limit
	})
	var mu sync.Mutex
	changed := sync.NewCond(&mu)
	inFlight, most := 0, 0
	sim := e.sim.Handler()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/send") {
			sim.ServeHTTP(w, r)
			return
		}
		held := true
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		changed.Broadcast()
		// Waiting for a call that must not come needs a clock.
		timer := time.AfterFunc(300*time.Millisecond, func() { mu.Lock(); held = false; changed.Broadcast(); mu.Unlock() })
		for held && inFlight <= limit {
			changed.Wait()
		}
		timer.Stop()
		mu.Unlock()
		sim.ServeHTTP(w, r)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	t.Cleanup(api.Close)
	e.cfg.APIBase = api.URL
	eg := e.newEgress(e.js)
	for i := range 8 {
		openid := fmt.Sprintf("oBound%d", i)
		e.interact("0", openid)
		e.command("0", openid, events.VerbSend, openid, text("x"))
	}
	testworld.Run(t, "egress", eg.Run)
	natstest.WaitFor(t, "all 8 sends", func() bool { return len(e.sim.Delivered(appID)) == 8 })
	mu.Lock()
	defer mu.Unlock()
	if most != limit {
		t.Errorf("at most %d sends in flight at once, want %d (egress.concurrency)", most, limit)
	}
}

func openids(ds []wxsim.Delivered) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.OpenID)
	}
	return out
}

// TestOnePartitionReadsUnfiltered: with one partition the consumer takes
// the whole stream without a filter (a filter there costs the server a
// walk over every conversation's subject in a message block per delivery
// while commands are queued); a consumer of an older release, filtered on
// partition 0, is updated in place and its stored commands are delivered,
// in order. With more partitions each consumer keeps its filter.
func TestOnePartitionReadsUnfiltered(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions = 1 })
	eg := e.newEgress(e.js)
	info := func() *jetstream.ConsumerInfo {
		t.Helper()
		cons, err := e.js.Consumer(t.Context(), events.OutboundStreamName, laneName(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		return cons.CachedInfo()
	}
	first := info()
	if f := first.Config.FilterSubject; f != "" {
		t.Fatalf("one partition: consumer filter %q, want none", f)
	}
	// The consumer as an older release made it, holding two commands.
	old := eg.consumerConfig(0)
	old.FilterSubject = events.PartitionFilter(0)
	if _, err := e.js.CreateOrUpdateConsumer(t.Context(), events.OutboundStreamName, old); err != nil {
		t.Fatal(err)
	}
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "c1", text("c1"))
	e.command("0", "oU", events.VerbSend, "c2", text("c2"))
	e.replica(nil)
	if now := info(); now.Config.FilterSubject != "" {
		t.Fatalf("after setup: consumer filter %q, want none", now.Config.FilterSubject)
	} else if !now.Created.Equal(first.Created) {
		t.Errorf("consumer created anew at %v (first %v), want it updated", now.Created, first.Created)
	}
	res := e.results(2)
	for _, id := range []string{"c1", "c2"} {
		if r := res[id].Data; r.Outcome != events.OutcomeDelivered {
			t.Errorf("%s = %+v", id, r)
		}
	}
	if order := deliveredTexts(e, "oU"); !slices.Equal(order, []string{"c1", "c2"}) {
		t.Errorf("delivered %q", order)
	}

	e2 := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions = 2 })
	e2.newEgress(e2.js)
	for p := range 2 {
		cons, err := e2.js.Consumer(t.Context(), events.OutboundStreamName, laneName(p, 2))
		if err != nil {
			t.Fatal(err)
		}
		if f := cons.CachedInfo().Config.FilterSubject; f != events.PartitionFilter(p) {
			t.Errorf("two partitions: partition %d's filter %q, want %q", p, f, events.PartitionFilter(p))
		}
	}
}
