package egress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestPausedAppHoldsNoOtherApp: with one partition, so that every
// conversation shares one consumer, app A meets its per-minute quota with
// 20 sends queued in 20 conversations and is paused; app B's 8 commands in
// 8 new conversations are all delivered while A's commands wait for the
// pause to end.
func TestPausedAppHoldsNoOtherApp(t *testing.T) {
	const appB, quota = "wx00000000000000b2", 10 // per app: B sends 8
	// The simulated minute starts with the test, so the quota does not
	// come back while it runs.
	base, start := time.Now().Truncate(time.Minute).Add(time.Minute), time.Now()
	e := newEnv(t, wxsim.SimConfig{Apps: map[string]string{appID: secret, appB: secret}, MinuteQuota: quota, DailyQuota: -1,
		Now: func() time.Time { return base.Add(time.Since(start)) }}, func(c *config.Egress) {
		c.Partitions = 1
		c.RetryBudget = 5 * time.Minute
	})
	e.apps = []config.App{{AppID: appID, Secret: secret}, {AppID: appB, Secret: secret}}
	e.replica(nil)
	for i := range quota + 20 {
		openid := fmt.Sprintf("oA%02d", i)
		e.interact("0", openid)
		e.command("0", openid, events.VerbSend, openid, text("a"))
	}
	natstest.WaitFor(t, "app A paused for its quota", func() bool {
		kv, err := e.js.KeyValue(t.Context(), PausesBucket)
		if err != nil {
			return false
		}
		_, err = kv.Get(t.Context(), appID)
		return err == nil
	})
	for i := range 8 {
		openid := fmt.Sprintf("oB%d", i)
		e.sim.RecordInteraction(appB, "0", openid, "text", e.sim.Now())
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": openid, "source": "/test",
			"type": "weixin.kf.command.send", "data": text("b")})
		e.publishFor(appB, "0", openid, events.VerbSend, openid, body, events.ContentType)
	}
	if !natstest.Poll(time.Now().Add(30*time.Second), func() bool { return len(e.sim.Delivered(appB)) == 8 }) {
		t.Fatalf("app B: %d of 8 delivered; calls %+v; results %d", len(e.sim.Delivered(appB)), e.sim.Calls(), e.streamMsgs(events.ResultStreamName))
	}
	if n := len(e.sim.Delivered(appID)); n != quota {
		t.Errorf("app A: %d delivered while paused, want its quota %d", n, quota)
	}
	if got := e.sim.Calls().Count("/cgi-bin/message/custom/send", 45011); got < 1 {
		t.Errorf("WeChat answered %d sends with 45011, want at least the one that paused A", got)
	}
}

// TestRetryingConversationHoldsNoOther: with one partition, a conversation
// whose send fails transiently waits for its retry with its second command
// behind it; commands of 6 other conversations are delivered meanwhile,
// and the waiting conversation's second command is not sent before its
// first.
func TestRetryingConversationHoldsNoOther(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
		c.Partitions = 1
		c.RetryMin, c.RetryMax, c.RetryBudget = time.Minute, time.Minute, 5*time.Minute
	})
	var failed atomic.Int64
	api := httptest.NewServer(failSendsTo("oStuck", &failed, e.sim.Handler()))
	t.Cleanup(api.Close)
	e.cfg.APIBase = api.URL
	e.replica(nil)
	e.interact("0", "oStuck")
	e.command("0", "oStuck", events.VerbSend, "stuck-1", text("1"))
	e.command("0", "oStuck", events.VerbSend, "stuck-2", text("2"))
	natstest.WaitFor(t, "the stuck conversation's first send to fail", func() bool { return failed.Load() >= 1 })
	for i := range 6 {
		openid := fmt.Sprintf("oFree%d", i)
		e.interact("0", openid)
		e.command("0", openid, events.VerbSend, openid, text("x"))
	}
	natstest.WaitFor(t, "the other conversations' commands", func() bool { return len(e.sim.Delivered(appID)) == 6 })
	if n := failed.Load(); n != 1 {
		t.Errorf("%d failed send calls to the stuck conversation, want 1 (its first command, waiting for its retry)", n)
	}
	if slices.ContainsFunc(e.sim.Delivered(appID), func(d wxsim.Delivered) bool { return d.OpenID == "oStuck" }) {
		t.Error("the stuck conversation got a message")
	}
}

// TestGracefulStopHandsOverWaitingCommands: a replica that stops while a
// conversation waits for a retry hands its commands back; the next replica
// takes the consumer over at once (the stopped one gives up its pin),
// waits out the retry's time from the record, and delivers both commands
// in order, each with one result.
func TestGracefulStopHandsOverWaitingCommands(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
		c.Partitions = 1
		c.RetryMin, c.RetryMax, c.RetryBudget = 500*time.Millisecond, 500*time.Millisecond, time.Minute
	})
	var failed atomic.Int64
	var failing atomic.Bool
	failing.Store(true)
	wrapped := failSendsTo("oU", &failed, e.sim.Handler())
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			wrapped.ServeHTTP(w, r)
			return
		}
		e.sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	e.cfg.APIBase = api.URL
	stop := e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "c1", text("c1"))
	e.command("0", "oU", events.VerbSend, "c2", text("c2"))
	natstest.WaitFor(t, "c1 to fail once", func() bool { return failed.Load() >= 1 })
	stop()
	failing.Store(false)
	e.replica(nil)
	res := e.results(2)
	for _, id := range []string{"c1", "c2"} {
		if r := res[id].Data; r.Outcome != events.OutcomeDelivered {
			t.Errorf("%s = %+v", id, r)
		}
	}
	if r := res["c1"].Data; r.Attempts < 2 {
		t.Errorf("c1 attempts %d, want the failed one counted", r.Attempts)
	}
	if order := deliveredTexts(e, "oU"); !slices.Equal(order, []string{"c1", "c2"}) {
		t.Errorf("WeChat received %q, want c1 then c2", order)
	}
}

// TestPinMoveKeepsOrder: the consumer's pin is taken (as a consumer leader
// change does) from the replica that holds a conversation — c1 in handling,
// its send request held back before it reaches WeChat, c2 and c3 queued —
// while a second replica waits to be pinned. Whichever replica is pinned
// next sends c2 only after c1 is finished: no send request but c1's
// arrives while c1 is held back (the first command of another
// conversation, published to make the server pin anew, waits too: the new
// replica starts nothing before c1 is done), and WeChat receives c1, c2,
// c3 in order, each with one result.
func TestPinMoveKeepsOrder(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
		c.Partitions = 1
		c.RetryBudget = time.Minute
	})
	gate := make(chan struct{})
	var mu sync.Mutex
	var arrived []string // send requests in arrival order, by text
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/message/custom/send") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct{ Text struct{ Content string } }
			json.Unmarshal(body, &m) //nolint:errcheck // an empty text is recorded as such
			mu.Lock()
			arrived = append(arrived, m.Text.Content)
			mu.Unlock()
			if m.Text.Content == "c1" {
				<-gate
			}
		}
		e.sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(arrived)
	}
	e.cfg.APIBase = api.URL
	e.replica(nil)
	e.interact("0", "oU")
	for _, id := range []string{"c1", "c2", "c3"} {
		e.command("0", "oU", events.VerbSend, id, text(id))
	}
	natstest.WaitFor(t, "c1's send request", func() bool { return slices.Contains(seen(), "c1") })
	e.replica(nil)
	out, err := e.js.Stream(t.Context(), events.OutboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := out.Consumer(t.Context(), laneName(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, "both replicas pulling", func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.NumWaiting >= 2
	})
	if err := out.UnpinConsumer(t.Context(), laneName(0, 1), priorityGroup); err != nil {
		t.Fatal(err)
	}
	// The server pins anew when it next has a command to hand out.
	e.interact("0", "oV")
	e.command("0", "oV", events.VerbSend, "v1", text("v1"))
	natstest.WaitFor(t, "the queued commands handed back and handed out again", func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.NumRedelivered >= 1
	})
	// Whoever holds c2 now must not send it while c1 is held back: give a
	// wrong replica a second to show itself (an absence has no event to
	// wait for).
	if natstest.Poll(time.Now().Add(time.Second), func() bool { return len(seen()) > 1 }) {
		t.Fatalf("send requests %q arrived while c1 was held back", seen())
	}
	close(gate)
	res := e.results(4)
	for _, id := range []string{"c1", "c2", "c3", "v1"} {
		if r := res[id].Data; r.Outcome != events.OutcomeDelivered {
			t.Errorf("%s = %+v", id, r)
		}
	}
	if order := deliveredTexts(e, "oU"); !slices.Equal(order, []string{"c1", "c2", "c3"}) {
		t.Errorf("WeChat received %q, want c1, c2, c3", order)
	}
}

// deliveredTexts is the text of each message WeChat accepted for openid,
// in the order it accepted them.
func deliveredTexts(e *env, openid string) []string {
	var texts []string
	for _, d := range e.sim.Delivered(appID) {
		var body struct{ Text struct{ Content string } }
		json.Unmarshal(d.Body, &body) //nolint:errcheck // a non-text message counts as ""
		if d.OpenID == openid {
			texts = append(texts, body.Text.Content)
		}
	}
	return texts
}

// TestRunPullsWithoutLookups: Run starts consuming with the consumers
// Setup made, asking the JetStream API nothing about them, so a start
// during a cluster's leader election (API answers 503) cannot stop it;
// every partition's consumer gets a pull.
func TestRunPullsWithoutLookups(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	eg := e.newEgress(e.js)
	var mu sync.Mutex
	lookups, pulled := 0, map[string]bool{}
	sub, err := e.nc.Subscribe("$JS.API.CONSUMER.>", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.HasPrefix(m.Subject, "$JS.API.CONSUMER.MSG.NEXT."+events.OutboundStreamName+"."):
			pulled[m.Subject] = true
		case strings.Contains(m.Subject, "."+events.OutboundStreamName+"."):
			lookups++ // not the pauses bucket's watch
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	testworld.Run(t, "egress", eg.Run)
	natstest.WaitFor(t, "a pull on every partition", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(pulled) == e.cfg.Partitions
	})
	mu.Lock()
	defer mu.Unlock()
	if lookups != 0 {
		t.Errorf("Run made %d API requests about %s's consumers before pulling, want none", lookups, events.OutboundStreamName)
	}
}
