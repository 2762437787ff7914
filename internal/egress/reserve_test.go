package egress

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// newReserveWorld is a budget world in observe whose replicas report to
// w.reg and keep a reservation for an hour: a slow machine must not turn
// a use into a take.
func newReserveWorld(t *testing.T) *budgetWorld {
	w := newBudgetWorld(t, config.BudgetObserve, wxsim.SimConfig{})
	w.reg = prometheus.NewRegistry()
	w.reserveFor = time.Hour
	return w
}

// budgetWrites returns how many values have been written to WXKF_BUDGET
// (its stream's last sequence).
func (w *budgetWorld) budgetWrites() uint64 {
	w.t.Helper()
	_, st := natstest.StreamState(w.t, w.js, "KV_"+budget.Bucket)
	return st.LastSeq
}

// queueThenRun sets up a replica, lets queue publish commands before it
// runs, so that the lane holds them together as a bot's burst of replies,
// then runs it.
func (w *budgetWorld) queueThenRun(queue func()) {
	w.t.Helper()
	eg := w.newEgress(w.js)
	queue()
	testworld.Run(w.t, "egress", eg.Run)
}

// TestObserveReservesForBurst: in observe, three sends queued together
// after one user message cost one compare-and-set on WXKF_BUDGET (the
// first send's take reserves the other two), and each result reports the
// budget as three takes in a row would: 4, 3, 2 left.
func TestObserveReservesForBurst(t *testing.T) {
	w := newReserveWorld(t)
	w.push("u1", "text", "m1")
	before := w.budgetWrites()
	w.queueThenRun(func() {
		for i := range 3 {
			w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text("hi"))
		}
	})
	for i, want := range []int{4, 3, 2} {
		r := w.result(fmt.Sprintf("c%d", i)).Data
		if r.Outcome != events.OutcomeDelivered || r.ReplyBudget == nil || r.ReplyBudget.Remaining != want || r.BudgetExceeded {
			t.Errorf("c%d = %+v (budget %+v); want delivered with %d left", i, r, r.ReplyBudget, want)
		}
	}
	if got := w.budgetOfIn("0", "u1").Remaining; got != 2 {
		t.Errorf("stored budget: %d left, want 2", got)
	}
	// One write when the lane holds all three before the first starts, as
	// it nearly always does; two when the third arrived later. Three (one
	// per send) would mean no reservation was used.
	if got := w.budgetWrites() - before; got > 2 {
		t.Errorf("%d writes to %s for the burst, want 1 (2 at most)", got, budget.Bucket)
	}
	if got := metricValue(t, w.reg, "kfbridge_egress_budget_reserved_total", ""); got < 1 {
		t.Errorf("budget_reserved = %v, want 2 (1 at least)", got)
	}
}

// TestObserveReservationWithParts: a text sent in parts inside a burst
// takes its parts itself, after the sends held for it and those behind it
// went back, so the window is spent exactly: 5 sends, 0 left, and no
// send marked over budget.
func TestObserveReservationWithParts(t *testing.T) {
	w := newReserveWorld(t)
	w.push("u1", "text", "m1")
	w.queueThenRun(func() {
		w.command("0", "u1", "send", "c0", text("hi"))
		w.command("0", "u1", "send", "p1", text(chineseText(5000))) // 3 parts
		w.command("0", "u1", "send", "c2", text("hi"))
	})
	for _, c := range []struct {
		id         string
		parts, est int
	}{{"c0", 0, 4}, {"p1", 3, 1}, {"c2", 0, 0}} {
		r := w.result(c.id).Data
		if r.Outcome != events.OutcomeDelivered || r.Parts != c.parts || r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != c.est {
			t.Errorf("%s = %+v (budget %+v); want delivered (%d parts), not over budget, %d left", c.id, r, r.ReplyBudget, c.parts, c.est)
		}
	}
	natstest.WaitFor(t, "the stored budget at 0 left", func() bool { return w.budgetOfIn("0", "u1").Remaining == 0 })
	if n := len(w.sim.Delivered(appID)); n != 5 {
		t.Errorf("WeChat delivered %d messages, want 5", n)
	}
}

// TestObserveReservationSendFails: a send of a burst that WeChat refuses
// (40007) gives its send back, and the results after it report it: 4 left
// after the first, 4 after the failed one, 3 after the last, as one take
// per send would.
func TestObserveReservationSendFails(t *testing.T) {
	w := newReserveWorld(t)
	w.push("u1", "text", "m1")
	w.queueThenRun(func() {
		w.command("0", "u1", "send", "c0", text("hi"))
		w.command("0", "u1", "send", "c1", map[string]any{"msgtype": "image", "image": map[string]string{"media_id": "NO_SUCH_MEDIA"}})
		w.command("0", "u1", "send", "c2", text("hi"))
	})
	for _, c := range []struct {
		id      string
		outcome string
		left    int
	}{{"c0", events.OutcomeDelivered, 4}, {"c1", events.OutcomeFailed, 4}, {"c2", events.OutcomeDelivered, 3}} {
		r := w.result(c.id).Data
		if r.Outcome != c.outcome || r.ReplyBudget == nil || r.ReplyBudget.Remaining != c.left {
			t.Errorf("%s = %+v (budget %+v); want %s, %d left", c.id, r, r.ReplyBudget, c.outcome, c.left)
		}
	}
	natstest.WaitFor(t, "the stored budget at 3 left", func() bool { return w.budgetOfIn("0", "u1").Remaining == 3 })
}

// TestObserveReservationGivenBack: a send reserved for that fails before
// its call (malformed), and a send behind a typing command (not reserved
// for), leave the budget as one take per delivered send would: the unused
// reserved send is given back when the conversation's next command is not
// a send, and the typing command sees it.
func TestObserveReservationGivenBack(t *testing.T) {
	w := newReserveWorld(t)
	w.push("u1", "text", "m1")
	w.queueThenRun(func() {
		w.command("0", "u1", "send", "c0", text("hi"))
		w.publish("0", "u1", "send", "c1", []byte(`{"specversion":"1.0","id":"c1","source":"/test","type":"weixin.kf.command.send","data":{"msgtype":"bogus"}}`), events.ContentType)
		w.command("0", "u1", "typing", "c2", events.TypingData{Command: "Typing"})
		w.command("0", "u1", "send", "c3", text("hi"))
	})
	if r := w.result("c0").Data; r.Outcome != events.OutcomeDelivered || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 4 {
		t.Errorf("c0 = %+v (budget %+v); want delivered with 4 left", r, r.ReplyBudget)
	}
	if r := w.result("c1").Data; r.Reason != ReasonMalformed {
		t.Errorf("c1 = %+v; want failed malformed", r)
	}
	if r := w.result("c2").Data; r.Outcome != events.OutcomeDelivered || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 4 {
		t.Errorf("typing c2 = %+v (budget %+v); want delivered, seeing 4 left", r, r.ReplyBudget)
	}
	if r := w.result("c3").Data; r.Outcome != events.OutcomeDelivered || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 3 {
		t.Errorf("c3 = %+v (budget %+v); want delivered with 3 left", r, r.ReplyBudget)
	}
	natstest.WaitFor(t, "the stored budget at 3 left", func() bool { return w.budgetOfIn("0", "u1").Remaining == 3 })
	if got := metricValue(t, w.reg, "kfbridge_egress_budget_returned_total", ""); got != 1 {
		t.Errorf("budget_returned = %v, want 1", got)
	}
}

// TestObserveReservationParked: the burst's first send fails transiently
// and parks for its retry (an hour away here, as a quota pause can be):
// the sends it holds for the two behind it go back at once, not when it
// is retried.
func TestObserveReservationParked(t *testing.T) {
	w := newReserveWorld(t)
	w.cfg.RetryMin, w.cfg.RetryMax, w.cfg.RetryBudget = time.Hour, time.Hour, 2*time.Hour
	fail := w.failSends(1)
	w.push("u1", "text", "m1")
	w.queueThenRun(func() {
		for i := range 3 {
			w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text("hi"))
		}
	})
	natstest.WaitFor(t, "c0's failed call", func() bool { return fail.Load() <= 0 })
	// c0 keeps its own take (its retry record holds it); c1 and c2 wait
	// behind it, holding nothing.
	natstest.WaitFor(t, "the stored budget at 4 left while c0 is parked", func() bool { return w.budgetOfIn("0", "u1").Remaining == 4 })
	if got := metricValue(t, w.reg, "kfbridge_egress_budget_returned_total", ""); got != 2 {
		t.Errorf("budget_returned = %v, want 2 (the sends held when c0 parked)", got)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.res) != 0 {
		t.Errorf("results while c0 is parked: %v; want none", w.res)
	}
}

// TestObserveFindingForBurst: in observe, three sends queued together for
// a conversation whose window the bridge does not know (WeChat's is open:
// its push never reached WXKF_IN) read the budget once, not once each: the
// first send's take finds no send to take, and the two behind it are
// reported over budget on that finding. All three are sent.
func TestObserveFindingForBurst(t *testing.T) {
	w := newReserveWorld(t)
	w.sim.RecordInteraction(appID, "0", "u1", "text", w.sim.Now().Truncate(time.Second))
	var reads atomic.Int32 // gets of WXKF_IN
	w.onGet(events.InboundStreamName, func() { reads.Add(1) })
	w.queueThenRun(func() {
		for i := range 3 {
			w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text("hi"))
		}
	})
	for i := range 3 {
		if r := w.result(fmt.Sprintf("c%d", i)).Data; r.Outcome != events.OutcomeDelivered || !r.BudgetExceeded {
			t.Errorf("c%d = %+v; want delivered, over budget", i, r)
		}
	}
	if err := w.js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	// One read when the lane holds all three before the first starts, as
	// it nearly always does; two when the third arrived later. Three (one
	// per send) would mean the finding was not used.
	if got := reads.Load(); got < 1 || got > 2 {
		t.Errorf("%d reads of %s for the burst, want 1 (2 at most)", got, events.InboundStreamName)
	}
	if got := metricValue(t, w.reg, "kfbridge_egress_budget_over_total", config.BudgetObserve); got != 3 {
		t.Errorf("budget_over = %v, want 3", got)
	}
}

// TestObserveUsedUpForBurst: in observe, a burst of eight sends after one
// user message reads the conversation's pushes once: the first send's take
// takes its own send and the four left for the sends behind it, which uses
// the window up, and the three sends after those are reported over budget
// on that (WeChat answers them 45047) instead of each taking, which reads
// WXKF_IN and the bucket again.
func TestObserveUsedUpForBurst(t *testing.T) {
	w := newReserveWorld(t)
	w.push("u1", "text", "m1")
	release := w.queueBehindTyping(8, func() {
		for i := range 8 {
			w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text("hi"))
		}
	})
	var reads atomic.Int32 // gets of WXKF_IN from here on
	w.onGet(events.InboundStreamName, func() { reads.Add(1) })
	release()
	for i, left := range []int{4, 3, 2, 1, 0} {
		if r := w.result(fmt.Sprintf("c%d", i)).Data; r.Outcome != events.OutcomeDelivered || r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != left {
			t.Errorf("c%d = %+v (budget %+v); want delivered with %d left", i, r, r.ReplyBudget, left)
		}
	}
	for i := 5; i < 8; i++ {
		if r := w.result(fmt.Sprintf("c%d", i)).Data; r.ErrCode != budget.CodeOutOfCount || !r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 0 {
			t.Errorf("c%d = %+v (budget %+v); want WeChat's 45047, over budget, 0 left", i, r, r.ReplyBudget)
		}
	}
	if err := w.js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if got := reads.Load(); got != 1 {
		t.Errorf("%d reads of %s for the burst, want 1 (c0's take)", got, events.InboundStreamName)
	}
	if got := metricValue(t, w.reg, "kfbridge_egress_budget_misses_total", "45047"); got != 0 {
		t.Errorf("budget_misses{45047} = %v, want 0 (each refusal predicted)", got)
	}
}

// TestObserveUsedUpEndsAtGiveBack: the last send of a burst that used its
// window up fails (WeChat refuses an unknown media id, 40007) and gives
// its send back: the send behind it takes that send instead of being
// reported over budget.
func TestObserveUsedUpEndsAtGiveBack(t *testing.T) {
	w := newReserveWorld(t)
	w.push("u1", "text", "m1")
	release := w.queueBehindTyping(6, func() {
		for i := range 4 {
			w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text("hi"))
		}
		w.command("0", "u1", "send", "c4", map[string]any{"msgtype": "image", "image": map[string]string{"media_id": "NO_SUCH_MEDIA"}})
		w.command("0", "u1", "send", "c5", text("hi"))
	})
	release()
	if r := w.result("c4").Data; r.Outcome != events.OutcomeFailed || r.BudgetExceeded {
		t.Errorf("c4 = %+v; want failed (40007), not over budget", r)
	}
	if r := w.result("c5").Data; r.Outcome != events.OutcomeDelivered || r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 0 {
		t.Errorf("c5 = %+v (budget %+v); want delivered, not over budget, 0 left", r, r.ReplyBudget)
	}
	natstest.WaitFor(t, "the stored budget at 0 left", func() bool { return w.budgetOfIn("0", "u1").Remaining == 0 })
	if n := len(w.sim.Delivered(appID)); n != 5 {
		t.Errorf("WeChat delivered %d messages, want 5", n)
	}
}

// TestObserveReturnedCountsGiven: a reserved send given back to a window
// that a newer user message replaced meanwhile goes nowhere, and
// kfbridge_egress_budget_returned_total does not count it.
func TestObserveReturnedCountsGiven(t *testing.T) {
	w := newReserveWorld(t)
	w.push("u1", "text", "m1")
	entered, release := w.holdFirstSend()
	w.queueThenRun(func() {
		w.command("0", "u1", "send", "c0", text("hi"))
		w.publish("0", "u1", "send", "c1", []byte(`{"specversion":"1.0","id":"c1","source":"/test","type":"weixin.kf.command.send","data":{"msgtype":"bogus"}}`), events.ContentType)
		w.command("0", "u1", "typing", "c2", events.TypingData{Command: "Typing"})
	})
	select {
	case <-entered:
	case <-t.Context().Done():
		t.Fatal("c0's call never came")
	}
	// c0's take, alongside its call, took one and reserved one for c1.
	natstest.WaitFor(t, "c0's take and c1's reservation stored", func() bool { return w.budgetOfIn("0", "u1").Remaining == 3 })
	// A newer message replaces the window before the reservation goes back.
	w.sim.Advance(time.Minute)
	w.push("u1", "text", "m2")
	if s, code, _, err := w.tr.SyncTakeN(t.Context(), w.in, w.conv("u1"), 1, w.sim.Now(), time.Time{}); err != nil || code != 0 || s.Remaining != 4 {
		t.Fatalf("take in the new window = %+v, %d, %v; want 4 left", s, code, err)
	}
	release()
	if r := w.result("c0").Data; r.Outcome != events.OutcomeDelivered {
		t.Errorf("c0 = %+v; want delivered", r)
	}
	if r := w.result("c1").Data; r.Reason != ReasonMalformed {
		t.Errorf("c1 = %+v; want failed malformed", r)
	}
	w.result("c2") // the typing command after c1: the lane gave c1's reserved send back before it
	if got := w.budgetOfIn("0", "u1").Remaining; got != 4 {
		t.Errorf("stored budget: %d left, want 4 (the new window, nothing given to it)", got)
	}
	if got := metricValue(t, w.reg, "kfbridge_egress_budget_returned_total", ""); got != 0 {
		t.Errorf("budget_returned = %v, want 0 (the reserved send went nowhere)", got)
	}
}

// queueBehindTyping runs a replica (w.reg set) whose first command, a
// typing command of u1 held at WeChat, keeps the n commands that queue
// publishes for u1 queued behind it until the lane holds them all, and
// returns the typing call's release: a burst that runs together, however
// the commands were fetched.
func (w *budgetWorld) queueBehindTyping(n int, queue func()) (release func()) {
	w.t.Helper()
	entered, release := w.holdFirstCall("/typing")
	w.queueThenRun(func() { w.command("0", "u1", "typing", "t0", events.TypingData{Command: "Typing"}) })
	select {
	case <-entered:
	case <-w.t.Context().Done():
		w.t.Fatal("t0's call never came")
	}
	queue()
	natstest.WaitFor(w.t, "the lane holding t0 and the burst", func() bool {
		return metricValue(w.t, w.reg, "kfbridge_egress_held_commands", "") == float64(n+1)
	})
	return release
}

// holdFirstSend holds the next replicas' first call of the send API until
// release is called (or the test ends); entered is closed when it
// arrives.
func (w *budgetWorld) holdFirstSend() (entered <-chan struct{}, release func()) {
	return w.holdFirstCall("send")
}

// holdFirstCall holds the next replicas' first call of an API whose path
// contains api until release is called (or the test ends); entered is
// closed when it arrives.
func (w *budgetWorld) holdFirstCall(api string) (entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	var hold, free sync.Once
	release = func() { free.Do(func() { close(out) }) }
	w.t.Cleanup(release) // a failed test must not leave the call hanging
	w.wrapAPI(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, api) {
				hold.Do(func() { close(in); <-out })
			}
			h.ServeHTTP(rw, r)
		})
	})
	return in, release
}

// TestObserveFindingEndsAtParts: a burst's finding of no send does not
// outlive a text in parts behind it, which takes its parts itself. Here a
// user message is stored after the first send's take found no window: the
// text's take sees it, and the send after the text takes from that
// window instead of being marked over budget on the finding.
func TestObserveFindingEndsAtParts(t *testing.T) {
	w := newReserveWorld(t)
	// WeChat's window is open; the bridge has not stored the push yet.
	w.sim.RecordInteraction(appID, "0", "u1", "text", w.sim.Now().Truncate(time.Second))
	budgetGets := make(chan struct{}, 64)
	w.onGet("KV_"+budget.Bucket, func() {
		select {
		case budgetGets <- struct{}{}:
		default:
		}
	})
	entered, release := w.holdFirstSend()
	long := strings.Repeat("A long reply. ", 200) // 2800 bytes: two parts
	w.queueThenRun(func() {
		w.command("0", "u1", "send", "c0", text("hi"))
		w.command("0", "u1", "send", "c1", text(long))
		w.command("0", "u1", "send", "c2", text("hi"))
	})
	// c0's take reads WXKF_IN (nothing) and then the bucket, alongside its
	// call, which is held.
	for _, ch := range []<-chan struct{}{entered, budgetGets} {
		select {
		case <-ch:
		case <-t.Context().Done():
			t.Fatal("c0's call or its take's read never came")
		}
	}
	w.push("u1", "text", "m1")
	release()
	if r := w.result("c0").Data; r.Outcome != events.OutcomeDelivered || !r.BudgetExceeded {
		t.Errorf("c0 = %+v; want delivered, over budget (its take found no window)", r)
	}
	if r := w.result("c1").Data; r.Outcome != events.OutcomeDelivered || r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 3 {
		t.Errorf("c1 = %+v (budget %+v); want delivered in 2 parts with 3 left", r, r.ReplyBudget)
	}
	if r := w.result("c2").Data; r.Outcome != events.OutcomeDelivered || r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 2 {
		t.Errorf("c2 = %+v (budget %+v); want delivered with 2 left, not over budget", r, r.ReplyBudget)
	}
	if got := w.budgetOfIn("0", "u1").Remaining; got != 2 {
		t.Errorf("stored budget: %d left, want 2", got)
	}
}

// TestObserveOverCountedOnce: a send over budget whose first call fails
// with a revoked token (40001) and is sent again with a fresh one counts
// once in kfbridge_egress_budget_over_total: it counts commands, and the
// retry's take finds the same.
func TestObserveOverCountedOnce(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetObserve, wxsim.SimConfig{})
	w.reg = prometheus.NewRegistry()
	// WeChat's windows are open; the bridge knows none of them.
	at := w.sim.Now().Truncate(time.Second)
	w.sim.RecordInteraction(appID, "0", "u0", "text", at)
	w.sim.RecordInteraction(appID, "0", "u1", "text", at)
	w.queueThenRun(func() {})
	w.command("0", "u0", "send", "warm", text("1")) // the replica holds a token now
	w.result("warm")
	if _, err := w.apiClient().StableToken(t.Context(), appID, secret, true); err != nil {
		t.Fatal(err) // someone else forced a new token: the replica's is revoked
	}
	w.command("0", "u1", "send", "c0", text("2"))
	if r := w.result("c0").Data; r.Outcome != events.OutcomeDelivered || r.Attempts != 2 || !r.BudgetExceeded {
		t.Errorf("c0 = %+v; want delivered on the 2nd attempt, over budget", r)
	}
	if got := metricValue(t, w.reg, "kfbridge_egress_budget_over_total", config.BudgetObserve); got != 2 {
		t.Errorf("budget_over = %v, want 2 (warm and c0, once each)", got)
	}
}

// onGet calls f for every get of a message of stream that a client asks
// for from now on (a direct get or one through the JetStream API), as
// seen on the wire.
func (w *budgetWorld) onGet(stream string, f func()) {
	w.t.Helper()
	nc := w.js.Conn()
	sub, err := nc.Subscribe("$JS.API.>", func(m *nats.Msg) {
		if strings.Contains(m.Subject, ".GET.") && strings.Contains(m.Subject, stream) {
			f()
		}
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		w.t.Fatal(err)
	}
}
