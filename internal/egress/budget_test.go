package egress

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/textsplit"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
	"github.com/kfbridge/kfbridge/schemas"
)

// budgetWorld is an egress test world with reply budgets: the env, the
// tracker the ingress would grant with, and every result as it is stored.
type budgetWorld struct {
	*env
	tr  *budget.Tracker
	in  jetstream.Stream // WXKF_IN
	mu  sync.Mutex
	res map[string]events.ResultEvent
}

// newBudgetWorld starts the env with egress.reply_budget mode; each replica
// gets its own tracker on its own connection.
func newBudgetWorld(t *testing.T, mode string, simCfg wxsim.SimConfig) *budgetWorld {
	t.Helper()
	e := newEnv(t, simCfg, func(c *config.Egress) { c.ReplyBudget = mode })
	// The inbound stream the egress brings budgets up to date from.
	in := trackBudgets(t, e, jetstream.MemoryStorage, true)
	w := &budgetWorld{env: e, tr: e.budget(e.js), in: in, res: map[string]events.ResultEvent{}}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.nc.Subscribe(events.ResultPrefix+">", func(m *nats.Msg) {
		// Every result, reply_budget and budget_exceeded included, keeps
		// to its schema.
		if err := v.Validate(schemas.ResultEvent, m.Data); err != nil {
			t.Errorf("result breaks its schema: %v\n%s", err, m.Data)
		}
		var ev events.ResultEvent
		if json.Unmarshal(m.Data, &ev) == nil {
			w.mu.Lock()
			w.res[ev.Data.CommandID] = ev
			w.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *budgetWorld) conv(openid string) events.Conversation { return w.convIn("0", openid) }

func (w *budgetWorld) convIn(bid, openid string) events.Conversation {
	return events.Conversation{AppID: appID, BusinessID: bid, OpenID: openid}
}

// push is a user's push of kind (a MsgType or user_enter_tempsession) at
// the simulator's now, in whole seconds as CreateTime, with id as its
// MsgId (a message) or SessionFrom (an enter-session): the simulator
// records it, and it is stored in WXKF_IN as the ingress stores it: a
// message with the grant it carries and nothing written to the budget; an
// enter-session granted (after the latest stored message's grant) before
// its event is stored.
//
// An event has no MsgId: its event id hashes its fields (CreateTime,
// Event, SessionFrom, …), and two equal pushes are one push and WeChat's
// retry of it (wechat-protocol.md §5: events are deduplicated by
// FromUserName + CreateTime), which neither the stream nor the budget
// applies twice. So pushes with different ids are different pushes even
// in the same second, as the simulator counts them.
func (w *budgetWorld) push(openid, kind, id string) { w.t.Helper(); w.pushIn("0", openid, kind, id) }

// pushIn is [push] in the conversation of sub-merchant bid.
func (w *budgetWorld) pushIn(bid, openid, kind, id string) *events.Inbound {
	w.t.Helper()
	now := w.sim.Now()
	at := now.Truncate(time.Second)
	w.sim.RecordInteraction(appID, bid, openid, kind, at)
	m := wxcodec.Message{ToUserName: "gh_1", FromUserName: openid, CreateTime: at.Unix(), MsgType: kind, MsgID: id, Content: "hello", BusinessID: bid}
	if kind == "user_enter_tempsession" {
		m.MsgType, m.Event, m.MsgID, m.Content, m.SessionFrom = events.MsgTypeEvent, kind, "", "", id
	}
	in, err := events.NewInbound(appID, &m)
	if err != nil {
		w.t.Fatal(err)
	}
	b := budget.MessageGrant(at, now)
	if kind == "user_enter_tempsession" {
		c := w.convIn(bid, openid)
		if _, _, err := w.tr.CatchUp(w.t.Context(), w.in, c); err != nil {
			w.t.Fatal(err)
		}
		st, err := w.tr.Grant(w.t.Context(), c, events.TriggerEnterSession, at, in.ID)
		if err != nil {
			w.t.Fatal(err)
		}
		b = st.Granted(now)
	}
	in.Budget = &b
	if _, err := w.js.PublishMsg(w.t.Context(), in.Msg("")); err != nil {
		w.t.Fatal(err)
	}
	return &in
}

// result waits for the result of command id.
func (w *budgetWorld) result(id string) events.ResultEvent {
	w.t.Helper()
	var ev events.ResultEvent
	natstest.WaitFor(w.t, "result of "+id, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		var ok bool
		ev, ok = w.res[id]
		return ok
	})
	return ev
}

// count returns how many results have outcome and reason.
func (w *budgetWorld) count(outcome, reason string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.res {
		if r.Data.Outcome == outcome && r.Data.Reason == reason {
			n++
		}
	}
	return n
}

// callsWith counts the simulator's answers with errcode code on the send
// and typing endpoints.
func (w *budgetWorld) callsWith(code int) int {
	n := 0
	for ep, codes := range w.sim.Calls().Calls {
		if strings.Contains(ep, "send") || strings.Contains(ep, "typing") {
			n += codes[code]
		}
	}
	return n
}

// TestEnforceSevenSends: 7 sends after one user message in enforce: 5
// delivered, 2 failed budget without a call, 5 calls at WeChat; each
// result carries the budget left; refusals are not dead-lettered.
func TestEnforceSevenSends(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
	w.replica(nil)
	w.push("u1", "text", "m1")
	for i := range 7 {
		w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text(fmt.Sprintf("reply %d", i)))
	}
	for i := range 7 {
		r := w.result(fmt.Sprintf("c%d", i)).Data
		if r.ReplyBudget == nil {
			t.Fatalf("result c%d has no reply_budget", i)
		}
		if i < 5 {
			if r.Outcome != events.OutcomeDelivered || r.ReplyBudget.Remaining != 4-i {
				t.Errorf("c%d = %s, %d left; want delivered, %d left", i, r.Outcome, r.ReplyBudget.Remaining, 4-i)
			}
			continue
		}
		if r.Outcome != events.OutcomeFailed || r.Reason != ReasonBudget || r.ErrCode != CodeBudget || r.Attempts != 0 ||
			!strings.Contains(r.ErrMsg, "45047") || r.ReplyBudget.Remaining != 0 {
			t.Errorf("c%d = %+v; want failed budget -1008, 0 attempts, an errmsg naming 45047, 0 left", i, r)
		}
	}
	if n := len(w.sim.Delivered(appID)); n != 5 {
		t.Errorf("WeChat delivered %d, want 5", n)
	}
	if n := w.callsWith(budget.CodeOutOfCount); n != 0 {
		t.Errorf("WeChat answered 45047 %d times, want 0", n)
	}
	if n := w.streamMsgs(events.DeadLetterStreamName); n != 0 {
		t.Errorf("%d dead letters, want 0 (budget refusals are results only)", n)
	}
}

// TestBudgetChangedBehindTheEgress: the egress writes its takes through its
// own writer, each a compare-and-set on the revision it last wrote. When
// another replica took from the budget since, or the key was deleted (its
// last entry a delete marker, which the KV reports as no key), that write
// loses and the take reads again and succeeds: every send is delivered
// with the budget WeChat has left.
func TestBudgetChangedBehindTheEgress(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
	w.replica(nil)
	c := w.conv("u1")
	w.push("u1", "text", "m1")
	send := func(id string, left int) {
		t.Helper()
		w.command("0", "u1", "send", id, text(id))
		r := w.result(id).Data
		if r.Outcome != events.OutcomeDelivered || r.ReplyBudget == nil || r.ReplyBudget.Remaining != left {
			t.Fatalf("%s = %+v; want delivered, %d left", id, r, left)
		}
	}
	send("c1", 4)
	// Another replica takes one send.
	if _, code, err := w.tr.Take(t.Context(), c, w.sim.Now()); err != nil || code != 0 {
		t.Fatalf("take: code %d, %v", code, err)
	}
	send("c2", 2)
	// The key is deleted: the next take finds the message's window again.
	kv, err := w.js.KeyValue(t.Context(), budget.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(t.Context(), c.AppID+"."+c.BusinessID+"."+c.OpenID); err != nil {
		t.Fatal(err)
	}
	send("c3", 4)
	if n := w.count(events.OutcomeDelivered, ""); n != 3 {
		t.Errorf("%d delivered, want 3", n)
	}
}

// TestNewMessageResetsHalfSpentWindow: a new user message resets a window
// that still had sends left. Its grant is only in its stored event (the
// ingress writes none), so an egress that took from the stored window
// without first applying the newest message would send 2 from the old
// window and then 5 more from the new one: 7 after the new message, and
// WeChat would answer 45047. Here: after the new message 5 sends are
// delivered, the 6th is refused, and WeChat refuses nothing.
func TestNewMessageResetsHalfSpentWindow(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
	w.replica(nil)
	w.push("u1", "text", "m1")
	for i := range 3 {
		id := fmt.Sprintf("a%d", i)
		w.command("0", "u1", "send", id, text("old window"))
		if r := w.result(id).Data; r.Outcome != events.OutcomeDelivered || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 4-i {
			t.Fatalf("%s = %+v; want delivered, %d left", id, r, 4-i)
		}
	}
	w.sim.Advance(time.Minute)
	w.push("u1", "text", "m2")
	for i := range 6 {
		id := fmt.Sprintf("b%d", i)
		w.command("0", "u1", "send", id, text("new window"))
		r := w.result(id).Data
		switch {
		case i < 5 && (r.Outcome != events.OutcomeDelivered || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 4-i):
			t.Errorf("%s = %+v; want delivered, %d left", id, r, 4-i)
		case i == 5 && (r.Outcome != events.OutcomeFailed || r.Reason != ReasonBudget):
			t.Errorf("%s = %+v; want refused (budget)", id, r)
		}
	}
	if n := len(w.sim.Delivered(appID)); n != 8 {
		t.Errorf("WeChat delivered %d, want 8 (3 + 5)", n)
	}
	if n := w.callsWith(budget.CodeOutOfCount) + w.callsWith(budget.CodeOutOfWindow); n != 0 {
		t.Errorf("WeChat refused %d sends, want 0", n)
	}
}

// TestBudgetThreeReplicas: three egress replicas, 20 commands published at
// once into a 5-send budget: exactly 5 delivered.
func TestBudgetThreeReplicas(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
	srv := w.env
	for range 3 {
		nc, _ := natstest.ConnectURL(t, srv.nc.ConnectedUrl())
		w.replica(nc)
	}
	w.push("u1", "text", "m1")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text(fmt.Sprintf("r%d", i))) })
	}
	wg.Wait()
	for i := range 20 {
		w.result(fmt.Sprintf("c%d", i))
	}
	if d, b := w.count(events.OutcomeDelivered, ""), w.count(events.OutcomeFailed, ReasonBudget); d != 5 || b != 15 {
		t.Errorf("%d delivered, %d refused; want 5 and 15", d, b)
	}
	if n := len(w.sim.Delivered(appID)); n != 5 {
		t.Errorf("WeChat delivered %d, want 5", n)
	}
}

// TestPublishThenCommand: a command published right after the push that
// opened the window is never refused: the push stores only its event, as
// the ingress does, and the egress applies its grant before the take.
func TestPublishThenCommand(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
	w.replica(nil)
	for i := range 50 {
		openid := fmt.Sprintf("u%d", i)
		w.push(openid, "text", "m"+openid)
		w.command("0", openid, "send", "c"+openid, text("hi"))
	}
	for i := range 50 {
		if r := w.result(fmt.Sprintf("cu%d", i)).Data; r.Outcome != events.OutcomeDelivered {
			t.Errorf("cu%d = %s %s %s, want delivered", i, r.Outcome, r.Reason, r.ErrMsg)
		}
	}
}

// TestObserveAnnotates: observe sends over budget anyway, counts it and
// marks the result; WeChat's 45047 is then no miss.
func TestObserveAnnotates(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetObserve, wxsim.SimConfig{})
	w.reg = prometheus.NewRegistry()
	reg := w.reg
	w.replica(nil)
	w.push("u1", "user_enter_tempsession", "e1")
	for i := range 3 {
		w.command("0", "u1", "send", fmt.Sprintf("c%d", i), text("hi"))
	}
	r := w.result("c2").Data
	if r.Outcome != events.OutcomeFailed || r.ErrCode != budget.CodeOutOfCount || !r.BudgetExceeded || r.ReplyBudget == nil {
		t.Errorf("third send = %+v; want WeChat's 45047, budget_exceeded, reply_budget", r)
	}
	if r := w.result("c1").Data; r.BudgetExceeded || r.Outcome != events.OutcomeDelivered {
		t.Errorf("second send = %+v; want delivered, not exceeded", r)
	}
	if got := metricValue(t, reg, "kfbridge_egress_budget_over_total", "observe"); got != 1 {
		t.Errorf("budget_over{observe} = %v, want 1", got)
	}
	if got := metricValue(t, reg, "kfbridge_egress_budget_misses_total", "45047"); got != 0 {
		t.Errorf("budget misses{45047} = %v, want 0 (the budget predicted it)", got)
	}
}

// TestOffTracksNothing: off neither annotates nor writes budgets.
func TestOffTracksNothing(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetOff, wxsim.SimConfig{})
	w.replica(nil)
	w.interact("0", "u1")
	w.command("0", "u1", "send", "c1", text("hi"))
	r := w.result("c1").Data
	if r.Outcome != events.OutcomeDelivered || r.ReplyBudget != nil || r.BudgetExceeded {
		t.Errorf("result = %+v; want delivered without reply_budget", r)
	}
	if s, err := w.tr.Get(t.Context(), w.conv("u1")); err != nil || s.Remaining != 0 || !s.ExpiresAt.IsZero() {
		t.Errorf("budget = %+v, %v; want none", s, err)
	}
}

// TestMissCorrectsToZero: WeChat refuses with 45047 a send the budget
// allowed (here the tracker never saw the window shrink): the budget
// drops to zero and the miss is counted; the next send is refused before
// any call (enforce), or sent and marked over budget (observe, whose take
// runs alongside the call).
func TestMissCorrectsToZero(t *testing.T) {
	for _, mode := range []string{config.BudgetEnforce, config.BudgetObserve} {
		t.Run(mode, func(t *testing.T) { testMissCorrectsToZero(t, mode) })
	}
}

func testMissCorrectsToZero(t *testing.T, mode string) {
	w := newBudgetWorld(t, mode, wxsim.SimConfig{})
	w.reg = prometheus.NewRegistry()
	reg := w.reg
	w.replica(nil)
	w.push("u1", "text", "m1")
	// WeChat's window shrinks behind the tracker's back: enter-session
	// after five sends made through another channel.
	for range 5 {
		if code := w.sendDirect("u1"); code != 0 {
			t.Fatalf("direct send = %d", code)
		}
	}
	w.command("0", "u1", "send", "c1", text("hi"))
	r := w.result("c1").Data
	if r.ErrCode != budget.CodeOutOfCount || r.Reason != ReasonWindow || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 0 {
		t.Errorf("result = %+v; want WeChat's 45047 (window), 0 left", r)
	}
	if got := metricValue(t, reg, "kfbridge_egress_budget_misses_total", "45047"); got != 1 {
		t.Errorf("budget misses{45047} = %v, want 1", got)
	}
	w.command("0", "u1", "send", "c2", text("hi"))
	r = w.result("c2").Data
	switch mode {
	case config.BudgetEnforce:
		if r.Reason != ReasonBudget || r.Attempts != 0 {
			t.Errorf("next send = %+v; want refused (budget)", r)
		}
	default:
		if r.ErrCode != budget.CodeOutOfCount || r.Attempts != 1 || !r.BudgetExceeded || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 0 {
			t.Errorf("next send = %+v; want sent, WeChat's 45047, marked over budget, 0 left", r)
		}
		if got := metricValue(t, reg, "kfbridge_egress_budget_misses_total", "45047"); got != 1 {
			t.Errorf("budget misses{45047} = %v after a predicted 45047, want still 1", got)
		}
	}
}

// sendDirect sends a text to openid with WeChat's API directly.
func (w *budgetWorld) sendDirect(openid string) int {
	w.t.Helper()
	api := &testworld.API{URL: w.api, Client: w.apiClient(), HTTP: http.DefaultClient}
	return api.Send(w.t, appID, secret, "0", openid, `{"msgtype":"text","text":{"content":"direct"}}`)
}

// wrapAPI serves the simulator through wrap for the next replicas.
func (w *budgetWorld) wrapAPI(wrap func(http.Handler) http.Handler) {
	api := testworld.ServeAPI(w.t, wrap(w.sim.Handler()))
	w.api, w.cfg.APIBase = api.URL, api.URL
}

// metricValue returns the value of counter or gauge name with one label
// of value label in reg, or of the unlabelled one when label is empty (0
// when absent).
func metricValue(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// failSends answers the next n calls of the send API with HTTP 502 (a
// transient failure after the request was written) in front of the
// simulator, and returns the count of those still to fail (at most 0 once
// all n have).
func (w *budgetWorld) failSends(n int32) *atomic.Int32 {
	var fail atomic.Int32
	fail.Store(n)
	w.wrapAPI(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/custom/send") && fail.Add(-1) >= 0 {
				http.Error(rw, "bad gateway", http.StatusBadGateway)
				return
			}
			h.ServeHTTP(rw, r)
		})
	})
	return &fail
}

// TestFailedSendGivesBack: a send WeChat refused for another reason
// (40007, an unknown media id) gives its send back; a transient failure and its retry
// spend one send only.
func TestFailedSendGivesBack(t *testing.T) {
	for _, mode := range []string{config.BudgetEnforce, config.BudgetObserve} {
		t.Run(mode, func(t *testing.T) { testFailedSendGivesBack(t, mode) })
	}
}

func testFailedSendGivesBack(t *testing.T, mode string) {
	w := newBudgetWorld(t, mode, wxsim.SimConfig{})
	w.failSends(1)
	w.replica(nil)
	w.push("u1", "text", "m1")
	w.command("0", "u1", "send", "c1", text("hi"))
	if r := w.result("c1").Data; r.Outcome != events.OutcomeDelivered || r.Attempts != 2 || r.ReplyBudget.Remaining != 4 {
		t.Errorf("retried send = %+v; want delivered after 2 attempts, 4 left", r)
	}
	w.command("0", "u1", "send", "c2", map[string]any{"msgtype": "image", "image": map[string]string{"media_id": "NO_SUCH_MEDIA"}})
	if r := w.result("c2").Data; r.ErrCode != 40007 || r.Reason != ReasonPermanent || r.ReplyBudget.Remaining != 4 {
		t.Errorf("send of an unknown media id = %+v; want 40007 (permanent), 4 left", r)
	}
}

// TestEnterSessionTwiceInOneSecond: a user enters the session, two sends
// use the minute's window up, and the user enters again in the same second
// (another push: its SessionFrom differs). WeChat opens the window again,
// and so does the budget; WeChat's retry of that push opens nothing.
func TestEnterSessionTwiceInOneSecond(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{Now: func() time.Time { return start }})
	w.replica(nil)
	matches := func(when string, left int) {
		t.Helper()
		s, win := w.budgetOfIn("0", "u1"), w.sim.Window(appID, "0", "u1")
		if s.Remaining != win.Left || !s.ExpiresAt.Equal(win.Until) || win.Left != left {
			t.Fatalf("%s: budget %d until %s, simulator %d until %s; want both %d", when, s.Remaining, s.ExpiresAt, win.Left, win.Until, left)
		}
	}
	sends := func(prefix string) {
		t.Helper()
		for i := range 3 {
			id := fmt.Sprintf("%s%d", prefix, i)
			w.command("0", "u1", "send", id, text("hi"))
			r := w.result(id).Data
			if want := i < 2; (r.Outcome == events.OutcomeDelivered) != want || !want && r.Reason != ReasonBudget {
				t.Fatalf("%s = %s %s; want delivered %v, else refused (budget)", id, r.Outcome, r.Reason, want)
			}
		}
	}
	w.push("u1", "user_enter_tempsession", "e1")
	sends("a")
	matches("after the first entry's sends", 0)
	e2 := w.pushIn("0", "u1", "user_enter_tempsession", "e2")
	matches("second entry in the same second", budget.SessionSends)
	sends("b")
	// WeChat's retry of the second entry (the same push: the same event
	// id), granted and stored again as the ingress would.
	if _, err := w.tr.Grant(t.Context(), w.conv("u1"), events.TriggerEnterSession, start, e2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.js.PublishMsg(t.Context(), e2.Msg("")); err != nil {
		t.Fatal(err)
	}
	matches("retried second entry", 0)
	if n := w.callsWith(budget.CodeOutOfCount) + w.callsWith(budget.CodeOutOfWindow); n != 0 {
		t.Errorf("WeChat refused %d sends, want 0", n)
	}
}

// budgetSeed replays a run of TestBudgetMatchesSimulator: the seed it
// logged (0: a new seed from the clock).
var budgetSeed = flag.Uint64("budget.seed", 0, "TestBudgetMatchesSimulator: replay the run of this seed (0: a new seed from the clock)")

// TestBudgetMatchesSimulator runs random pushes, sends, typing commands and
// clock advances against the simulator with enforce: after every step the
// tracked budget equals the simulator's window, and WeChat never answers
// 45015, 45047, 45080 or 45081 (the budget refused those before calling).
func TestBudgetMatchesSimulator(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{Now: func() time.Time { return start }})
	w.replica(nil)
	seed := *budgetSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -budget.seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	type user struct{ bid, openid string }
	users := []user{{"0", "u1"}, {"0", "u2"}, {"7", "u1"}}
	advances := []time.Duration{time.Second, 5 * time.Second, 14 * time.Second, 16 * time.Second,
		29 * time.Second, 31 * time.Second, 59 * time.Second, 61 * time.Second, 10 * time.Minute}
	lastPush := map[user]*events.Inbound{}
	seen := map[string]int{} // outcomes of sends and typing
	steps := 200
	if testing.Short() {
		steps = 40
	}
	for step := range steps {
		u := users[rng.IntN(len(users))]
		var what string
		switch k := rng.IntN(10); {
		case k < 1:
			lastPush[u] = w.pushIn(u.bid, u.openid, "text", fmt.Sprintf("m%d", step))
			what = "message"
		case k < 2:
			w.pushIn(u.bid, u.openid, "user_enter_tempsession", fmt.Sprintf("e%d", step))
			what = "enter_session"
		case k < 3 && lastPush[u] != nil:
			// WeChat retries the last message, stored again (as after the
			// stream's duplicate window): its grant must not apply again
			// (the simulator never sees a retry).
			m := lastPush[u].Msg("")
			m.Header.Del(events.HeaderMsgID)
			if _, err := w.js.PublishMsg(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			what = "retried push"
		case k < 7:
			id := fmt.Sprintf("s%d", step)
			w.command(u.bid, u.openid, "send", id, text("hi"))
			r := w.result(id).Data
			what = "send: " + r.Outcome + " " + r.Reason
			seen["send "+r.Outcome+" "+r.Reason]++
		case k < 8:
			id := fmt.Sprintf("t%d", step)
			cmd := "Typing"
			if rng.IntN(3) == 0 {
				cmd = "CancelTyping"
			}
			w.command(u.bid, u.openid, "typing", id, map[string]string{"command": cmd})
			r := w.result(id).Data
			what = cmd + ": " + r.Outcome + " " + r.Reason
			seen["typing "+r.Outcome+" "+r.Reason]++
		default:
			d := advances[rng.IntN(len(advances))]
			w.sim.Advance(d)
			what = "advance " + d.String()
		}
		for _, u := range users {
			s, win := w.budgetOfIn(u.bid, u.openid), w.sim.Window(appID, u.bid, u.openid)
			if s.Remaining != win.Left || !s.ExpiresAt.Equal(win.Until) || !s.Interaction.Equal(win.LastInteraction) ||
				!s.TypingUntil.Equal(win.TypingUntil) {
				t.Fatalf("step %d (%s of %s): budget of %s = %d until %s, interaction %s, typing until %s; simulator %d until %s, %s, %s",
					step, what, u, u, s.Remaining, s.ExpiresAt, s.Interaction, s.TypingUntil, win.Left, win.Until, win.LastInteraction, win.TypingUntil)
			}
		}
	}
	for _, code := range []int{45015, 45047, 45080, 45081} {
		if n := w.callsWith(code); n != 0 {
			t.Errorf("WeChat answered %d %d times, want 0", code, n)
		}
	}
	t.Logf("outcomes: %v", seen)
	if !testing.Short() && (seen["send delivered "] == 0 || seen["send failed budget"] == 0 || seen["typing delivered "] == 0 || seen["typing failed budget"] == 0) {
		t.Errorf("the run did not cover delivered and refused sends and typing: %v", seen)
	}
}

func (w *budgetWorld) budgetOfIn(bid, openid string) budget.State {
	w.t.Helper()
	s, err := w.tr.Live(w.t.Context(), w.in, w.convIn(bid, openid))
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// TestBudgetParts: each part of a long text is one send. In enforce a
// 3-part text after a user message leaves 2; the next 3-part text does not
// fit and is refused whole, before any call; a 2-part text still fits.
func TestBudgetParts(t *testing.T) {
	w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
	w.replica(nil)
	w.push("u1", "text", "m1")
	w.command("0", "u1", "send", "p1", text(chineseText(5000)))
	if r := w.result("p1").Data; r.Outcome != events.OutcomeDelivered || r.Parts != 3 || r.ReplyBudget == nil || r.ReplyBudget.Remaining != 2 {
		t.Fatalf("first text = %+v; want delivered in 3 parts, 2 left", r)
	}
	w.command("0", "u1", "send", "p2", text(chineseText(5000)))
	if r := w.result("p2").Data; r.Reason != ReasonBudget || r.PartsSent != 0 || r.ReplyBudget.Remaining != 2 || !strings.Contains(r.ErrMsg, "45047") {
		t.Errorf("second text = %+v; want refused whole (budget), 2 left", r)
	}
	w.command("0", "u1", "send", "p3", text(chineseText(3000)))
	if r := w.result("p3").Data; r.Outcome != events.OutcomeDelivered || r.Parts != 2 || r.ReplyBudget.Remaining != 0 {
		t.Errorf("third text = %+v; want delivered in 2 parts, 0 left", r)
	}
	if n := len(w.sim.Delivered(appID)); n != 5 {
		t.Errorf("WeChat delivered %d messages, want 5", n)
	}
	if n := w.callsWith(budget.CodeOutOfCount); n != 0 {
		t.Errorf("WeChat answered 45047 %d times, want 0", n)
	}
}

// TestBudgetPolicies: in enforce, a text of 3 parts meets a window with 2
// sends left (a user message, then 3 single sends). fail sends nothing;
// partial sends the 2 parts as cut; truncate sends 2, the second cut
// shorter to end with "…" within the limit; a command's own policy wins
// over its app's (apps[].budget_policy). Each result keeps to its schema
// (the world checks), and WeChat never answers 45047.
func TestBudgetPolicies(t *testing.T) {
	long := chineseText(5000) // 3 parts of at most 2048 bytes
	parts, err := textsplit.Split(long, 2048)
	if err != nil || len(parts) != 3 {
		t.Fatalf("the text splits into %d parts, %v; want 3", len(parts), err)
	}
	withPolicy := func(policy string) map[string]any {
		d := text(long)
		if policy != "" {
			d["text"].(map[string]any)["budget_policy"] = policy
		}
		return d
	}
	tests := []struct {
		name, appPolicy, cmdPolicy string
		want                       string // the policy that applies
	}{
		{name: "default fail", want: events.BudgetPolicyFail},
		{name: "command partial", cmdPolicy: events.BudgetPolicyPartial, want: events.BudgetPolicyPartial},
		{name: "command truncate", cmdPolicy: events.BudgetPolicyTruncate, want: events.BudgetPolicyTruncate},
		{name: "app truncate", appPolicy: events.BudgetPolicyTruncate, want: events.BudgetPolicyTruncate},
		{name: "command fail over app partial", appPolicy: events.BudgetPolicyPartial, cmdPolicy: events.BudgetPolicyFail, want: events.BudgetPolicyFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newBudgetWorld(t, config.BudgetEnforce, wxsim.SimConfig{})
			w.apps = []config.App{{AppID: appID, Secret: secret, BudgetPolicy: tt.appPolicy}}
			w.replica(nil)
			w.push("u1", "text", "m1")
			for i := range 3 {
				w.command("0", "u1", "send", fmt.Sprintf("s%d", i), text("hi"))
				if r := w.result(fmt.Sprintf("s%d", i)).Data; r.Outcome != events.OutcomeDelivered {
					t.Fatalf("single send %d = %+v", i, r)
				}
			}
			w.command("0", "u1", "send", "long", withPolicy(tt.cmdPolicy))
			r := w.result("long").Data
			var texts []string
			for _, d := range w.sim.Delivered(appID)[3:] {
				var body struct {
					Text struct {
						Content string `json:"content"`
					} `json:"text"`
				}
				if err := json.Unmarshal(d.Body, &body); err != nil {
					t.Fatal(err)
				}
				texts = append(texts, body.Text.Content)
			}
			switch tt.want {
			case events.BudgetPolicyFail:
				if r.Outcome != events.OutcomeFailed || r.Reason != ReasonBudget || r.ErrCode != CodeBudget || r.PartsSent != 0 || r.BudgetCut != "" || len(texts) != 0 {
					t.Errorf("fail: result %+v, %d texts at WeChat; want failed budget, nothing sent", r, len(texts))
				}
				if r.ReplyBudget == nil || r.ReplyBudget.Remaining != 2 {
					t.Errorf("fail: reply_budget %+v, want 2 left (nothing taken)", r.ReplyBudget)
				}
			default:
				if r.Outcome != events.OutcomeDelivered || r.Parts != 3 || r.PartsSent != 2 || r.BudgetCut != tt.want {
					t.Fatalf("%s: result %+v; want delivered, 2 of 3 parts, budget_cut %s", tt.want, r, tt.want)
				}
				if r.ReplyBudget == nil || r.ReplyBudget.Remaining != 0 {
					t.Errorf("reply_budget %+v, want 0 left", r.ReplyBudget)
				}
				if len(texts) != 2 || texts[0] != parts[0] {
					t.Fatalf("WeChat got %d texts, the first equal to part 1: %v; want 2", len(texts), len(texts) > 0 && texts[0] == parts[0])
				}
				for _, s := range texts {
					if len(s) > 2048 || !utf8.ValidString(s) {
						t.Errorf("a part of %d bytes (valid UTF-8 %v), want ≤ 2048", len(s), utf8.ValidString(s))
					}
				}
				if tt.want == events.BudgetPolicyPartial && texts[1] != parts[1] {
					t.Errorf("partial: second text differs from part 2")
				}
				if tt.want == events.BudgetPolicyTruncate {
					head, ok := strings.CutSuffix(texts[1], "…")
					if !ok || !strings.HasPrefix(parts[1], head) || head == "" {
						t.Errorf("truncate: second text (%d bytes) is not a prefix of part 2 ending with …", len(texts[1]))
					}
				}
			}
			if n := w.callsWith(budget.CodeOutOfCount); n != 0 {
				t.Errorf("WeChat answered 45047 %d times, want 0", n)
			}
		})
	}
}

// TestCutParts: a truncated last part ends with the ellipsis within the
// limit, whether the part had room for it or had to be cut; partial keeps
// the parts; n is bounded by the parts there are.
func TestCutParts(t *testing.T) {
	a, b := strings.Repeat("一", 100), strings.Repeat("二", 100) // 300 bytes each
	parts := []string{a, b}
	got := cutParts(parts, 2, events.BudgetPolicyTruncate, 400)
	if got[1].send != b+"…" || got[1].text != b || got[0].send != a {
		t.Errorf("room for the ellipsis: %+v", got)
	}
	got = cutParts(parts, 1, events.BudgetPolicyTruncate, 300)
	if len(got) != 1 || len(got[0].send) > 300 || !strings.HasSuffix(got[0].send, "…") || got[0].text != a ||
		!strings.HasPrefix(a, strings.TrimSuffix(got[0].send, "…")) {
		t.Errorf("no room: %q (%d bytes)", got[0].send, len(got[0].send))
	}
	if got := cutParts(parts, 5, events.BudgetPolicyPartial, 300); len(got) != 2 || got[1].send != b {
		t.Errorf("partial, n over the parts: %+v", got)
	}
}
