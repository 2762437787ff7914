package egress

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestOrderAcrossReplicas: commands of many conversations, send and typing
// mixed, handled by three replicas, reach WeChat in publish order per
// conversation, each with one result.
func TestOrderAcrossReplicas(t *testing.T) {
	// The budget only needs to outlast a partition's queue on a loaded
	// machine: nothing here is retried.
	e := newEnv(t, wxsim.SimConfig{Latency: 5 * time.Millisecond}, func(c *config.Egress) { c.RetryBudget = time.Minute })
	for range 3 {
		e.replica(nil)
	}
	// A user message allows 5 sends, so each conversation gets 5 sends and
	// a typing command in between.
	const convs, perConv = 40, 6
	var ids []string
	for c := range convs {
		e.interact("0", fmt.Sprintf("oU%d", c))
	}
	for i := range perConv {
		for c := range convs {
			openid := fmt.Sprintf("oU%d", c)
			id := fmt.Sprintf("%s-%02d", openid, i)
			if i == 3 {
				e.command("0", openid, events.VerbTyping, id, map[string]any{"command": "CancelTyping"})
			} else {
				e.command("0", openid, events.VerbSend, id, text(id))
			}
			ids = append(ids, id)
		}
	}
	res := e.results(len(ids))
	for _, id := range ids {
		if r := res[id].Data; r.Outcome != events.OutcomeDelivered {
			t.Errorf("%s: %+v", id, r)
		}
	}
	last := map[string]string{}
	for _, d := range e.sim.Delivered(appID) {
		var body struct{ Text struct{ Content string } }
		json.Unmarshal(d.Body, &body)
		if prev := last[d.OpenID]; body.Text.Content <= prev {
			t.Errorf("%s: %q delivered after %q", d.OpenID, body.Text.Content, prev)
		}
		last[d.OpenID] = body.Text.Content
	}
}

// TestDeadReplicaHandsOver: a replica whose NATS connection dies in the
// middle of a call loses the command to another replica after AckWait; the
// command it was sending is reported maybe_delivered (it did reach WeChat)
// and the conversation goes on in order.
func TestDeadReplicaHandsOver(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{Latency: 600 * time.Millisecond}, func(c *config.Egress) {
		c.Partitions = 1
		c.RetryBudget = time.Minute
	})
	victimConn, err := nats.Connect(e.nc.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	e.replica(victimConn)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "warm", text("warm")) // token fetched
	e.results(1)
	e.command("0", "oU", events.VerbSend, "c1", text("c1"))
	e.command("0", "oU", events.VerbSend, "c2", text("c2"))
	// The victim is inside the call for c1: WeChat took it into effect and
	// holds its answer back for the latency.
	natstest.WaitFor(t, "the victim's send call for c1", func() bool {
		return slices.ContainsFunc(e.sim.Calls().Answering, func(c wxsim.APICall) bool { return c.Path == "/cgi-bin/message/custom/send" })
	})
	victimConn.Close() // it dies: no progress acks, no ack
	e.replica(nil)     // a survivor
	start := time.Now()
	res := e.results(3)
	if took := time.Since(start); took > 3*e.cfg.AckWait {
		t.Errorf("handover took %v", took)
	}
	if r := res["c1"].Data; r.Reason != ReasonMaybeDelivered {
		t.Errorf("c1 = %+v, want maybe_delivered", r)
	}
	if r := res["c2"].Data; r.Outcome != events.OutcomeDelivered {
		t.Errorf("c2 = %+v", r)
	}
	got := e.sim.Delivered(appID)
	if len(got) != 3 {
		t.Fatalf("WeChat received %d, want 3 (warm, c1 from the victim, c2 from the survivor)", len(got))
	}
}

// TestClassicTokenOneRefresher: in classic mode replicas share one token:
// WeChat sees one /cgi-bin/token call and no token is ever rejected.
func TestClassicTokenOneRefresher(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{Latency: 20 * time.Millisecond}, func(c *config.Egress) { c.Token.Mode = "classic" })
	e.replica(nil)
	e.replica(nil)
	var n int
	for c := range 8 {
		openid := fmt.Sprintf("oU%d", c)
		e.interact("0", openid)
		for i := range 3 {
			e.command("0", openid, events.VerbSend, fmt.Sprintf("%s-%d", openid, i), text("x"))
			n++
		}
	}
	res := e.results(n)
	for id, r := range res {
		if r.Data.Outcome != events.OutcomeDelivered {
			t.Errorf("%s: %+v", id, r.Data)
		}
	}
	stats := e.sim.Calls()
	if got := stats.Total("/cgi-bin/token"); got != 1 {
		t.Errorf("%d classic token fetches, want 1", got)
	}
	if got := stats.Count("/cgi-bin/message/custom/send", 40001); got != 0 {
		t.Errorf("%d sends rejected for an invalidated token", got)
	}
}

// TestTypingDelivered: typing right after a user message is accepted.
func TestTypingDelivered(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("7", "oU")
	e.command("7", "oU", events.VerbTyping, "t1", map[string]any{"command": "Typing"})
	e.command("7", "oU", events.VerbTyping, "t2", map[string]any{"command": "CancelTyping"})
	res := e.results(2)
	for _, id := range []string{"t1", "t2"} {
		if r := res[id].Data; r.Outcome != events.OutcomeDelivered || r.Verb != events.VerbTyping {
			t.Errorf("%s = %+v", id, r)
		}
	}
	if calls := e.sim.Typing(appID); len(calls) != 2 {
		t.Errorf("WeChat saw %d typing calls", len(calls))
	}
}

// TestTraceContinues: the traceparent a bot copies from the event onto its
// command continues on the API call and on the result, with new span ids.
func TestTraceContinues(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	seen := make(chan string, 8)
	wrapped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/message/custom/") {
			seen <- r.Header.Get("Traceparent")
		}
		e.sim.Handler().ServeHTTP(w, r)
	}))
	defer wrapped.Close()
	e.cfg.APIBase = wrapped.URL
	e.replica(nil)
	e.interact("0", "oU")
	const bot = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	raw, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "traced", "type": "weixin.kf.command.send", "data": text("hi")})
	msg := nats.NewMsg("wxkf.out." + appID + ".0.oU.send")
	msg.Data = raw
	msg.Header.Set(nats.MsgIdHdr, "traced")
	msg.Header.Set(events.HeaderTraceParent, bot)
	if _, err := e.js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	e.results(1)
	call := <-seen
	if telemetry.TraceID(call) != telemetry.TraceID(bot) || call == bot {
		t.Errorf("API call traceparent %q, want trace %s with a new span", call, telemetry.TraceID(bot))
	}
	s, _ := e.js.Stream(t.Context(), events.ResultStreamName)
	r, err := s.GetLastMsgForSubject(t.Context(), "wxkf.result."+appID+".0.oU.delivered")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get(events.HeaderTraceParent); telemetry.TraceID(got) != telemetry.TraceID(bot) {
		t.Errorf("result traceparent %q, want trace %s", got, telemetry.TraceID(bot))
	}
}
