package egress

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// resultsUntil returns the stored results in stream order once one for
// command last is among them.
func (e *env) resultsUntil(last string) []events.ResultEvent {
	e.t.Helper()
	var out []events.ResultEvent
	natstest.WaitFor(e.t, "result of "+last, func() bool {
		out = e.allResults(1)
		for _, r := range out {
			if r.Data.CommandID == last {
				return true
			}
		}
		return false
	})
	return out
}

// TestMalformedDoesNotTakeTheIDsResult: a malformed command that claims id
// X (its event's "id") fails, and a corrected command X published after it
// still gets its own result: the malformed one's result and dead letter do
// not occupy <appid>:X in the streams' duplicate windows. Commands of one
// conversation are handled in order, so once the last command's result is
// stored the others' are too.
func TestMalformedDoesNotTakeTheIDsResult(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	bad := func(id string) []byte {
		return []byte(`{"specversion":"2.0","id":"` + id + `","type":"weixin.kf.command.send","data":{"msgtype":"text","text":{"content":"hi"}}}`)
	}
	// oA has a send window: X is delivered. oB has none (the simulator
	// refuses the send: permanent): Y fails too, and both of Y's dead
	// letters are kept.
	e.interact("0", "oA")
	e.publish("0", "oA", events.VerbSend, "bad-X", bad("X"), events.ContentType)
	e.command("0", "oA", events.VerbSend, "X", text("fixed"))
	e.command("0", "oA", events.VerbSend, "last-A", text("after"))
	e.publish("0", "oB", events.VerbSend, "bad-Y", bad("Y"), events.ContentType)
	e.command("0", "oB", events.VerbSend, "Y", text("fixed"))
	e.command("0", "oB", events.VerbSend, "last-B", text("after"))
	e.resultsUntil("last-A")
	got := map[string][]string{}
	for _, r := range e.resultsUntil("last-B") {
		got[r.Data.CommandID] = append(got[r.Data.CommandID], r.Data.Outcome+"/"+r.Data.Reason)
	}
	want := map[string]string{
		"X": "failed/malformed delivered/",
		"Y": "failed/malformed failed/permanent",
	}
	for id, w := range want {
		if g := strings.Join(got[id], " "); g != w {
			t.Errorf("results of %s: %q, want %q", id, g, w)
		}
	}
	var ys []string
	for _, m := range e.streamContents(events.DeadLetterStreamName, 2) {
		if m.Headers().Get(events.HeaderCommandID) == "Y" {
			ys = append(ys, m.Headers().Get(events.HeaderReason)+" "+m.Headers().Get(events.HeaderMsgID))
		}
	}
	if len(ys) != 2 || !strings.HasPrefix(ys[0], ReasonMalformed+" "+appID+":Y:malformed:") || ys[1] != ReasonPermanent+" "+appID+":Y" {
		t.Errorf("dead letters of Y: %q, want the malformed one under a suffixed Nats-Msg-Id, then the permanent one", ys)
	}
}

// TestUnknownAppBeforeMalformed: a command whose subject names an app this
// bridge does not serve fails unknown_app whatever its body; on a served
// app the same body fails malformed.
func TestUnknownAppBeforeMalformed(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	invalid := map[string]any{"msgtype": "text", "text": map[string]string{"content": ""}}
	for _, c := range []struct{ app, id string }{{"wxffffffffffffffff", "U"}, {appID, "M"}} {
		m := e.publishAs(c.app, "0", "oA", events.VerbSend, c.id, c.id, invalid)
		if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	res := e.results(2)
	if d := res["U"].Data; d.Reason != ReasonUnknownApp || d.ErrCode != CodeUnknownApp {
		t.Errorf("U on an unknown app: %s %d %s, want unknown_app", d.Reason, d.ErrCode, d.ErrMsg)
	}
	if d := res["M"].Data; d.Reason != ReasonMalformed || d.ErrCode != CodeMalformed {
		t.Errorf("M on a served app: %s %d %s, want malformed", d.Reason, d.ErrCode, d.ErrMsg)
	}
}

// TestBotJetStreamHeadersStayOutOfTheDeadLetter: a bot's command may carry
// JetStream headers that held for its publish to WXKF_OUT (here
// Nats-Expected-Stream: WXKF_OUT and Nats-Expected-Last-Subject-Sequence:
// 0); its dead letter is published without them, so a failed command still
// gets its dead letter and result instead of being retried for ever. Its
// other headers are kept.
func TestBotJetStreamHeadersStayOutOfTheDeadLetter(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	msg := nats.NewMsg("wxkf.out." + appID + ".0.oU.send")
	msg.Data = []byte(`{"specversion":"1.0","id":"h1","type":"weixin.kf.command.send","data":{"msgtype":"nope"}}`)
	msg.Header.Set(nats.MsgIdHdr, "h1")
	msg.Header.Set("Nats-Expected-Stream", events.OutboundStreamName)
	msg.Header.Set("Nats-Expected-Last-Subject-Sequence", "0")
	msg.Header.Set("X-Bot", "kept")
	if _, err := e.js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	if r := e.results(1)["h1"].Data; r.Reason != ReasonMalformed {
		t.Errorf("h1 = %+v, want failed malformed", r)
	}
	dl := e.streamContents(events.DeadLetterStreamName, 1)[0]
	if got := dl.Headers().Get("X-Bot"); got != "kept" {
		t.Errorf("dead letter's X-Bot = %q, want kept", got)
	}
	for _, h := range []string{"Nats-Expected-Stream", "Nats-Expected-Last-Subject-Sequence"} {
		if got := dl.Headers().Get(h); got != "" {
			t.Errorf("dead letter carries %s: %q", h, got)
		}
	}
}
