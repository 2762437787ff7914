package egress

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// publishAs publishes a structured command on any app's subject with the
// given Nats-Msg-Id and returns JetStream's ack.
func (e *env) publishAs(app, bid, openid, verb, id, msgID string, data any) *nats.Msg {
	e.t.Helper()
	raw, _ := json.Marshal(data)
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "/test",
		"type": "weixin.kf.command." + verb, "data": json.RawMessage(raw)})
	msg := nats.NewMsg(fmt.Sprintf("wxkf.out.%s.%s.%s.%s", app, bid, openid, verb))
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, msgID)
	msg.Header.Set("Content-Type", events.ContentType)
	return msg
}

// TestUnknownAppRepublishDoesNotJam: a command for an app this bridge does
// not serve, republished with the same id (another Nats-Msg-Id, as after the
// stream's duplicate window, or any redelivery), gets a second failed result
// and its partition goes on: a later valid command in the same partition is
// delivered. Before the fix the first failure wrote a sent record the second
// delivery could not create again, and the command was NAKed forever.
func TestUnknownAppRepublishDoesNotJam(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions = 1 })
	e.replica(nil)
	const bad = "wxunknownapp0001"
	for i := range 2 {
		m := e.publishAs(bad, "0", "oA", events.VerbSend, "X", fmt.Sprintf("m%d", i), text("x"))
		if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	e.interact("0", "oV")
	e.command("0", "oV", events.VerbSend, "valid", text("hi"))
	// One partition: "valid" is handed out only after both copies of X were
	// acknowledged. The copies' results share a Nats-Msg-Id, so the result
	// stream keeps one.
	res := e.results(2)
	if d := res["X"].Data; d.Reason != ReasonUnknownApp {
		t.Errorf("X: %+v, want unknown_app", d)
	}
	if d := res["valid"].Data; d.Outcome != events.OutcomeDelivered {
		t.Errorf("valid: %+v", d)
	}
}
