package broker_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/handover"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestBotAccountDecidesHandover: a bot in a restricted account of its own
// receives the bridge's decision request on wxkf.decide.> and its answer
// reaches the bridge, while another bot, subscribed to the bridge's
// decision replies, reads nothing.
func TestBotAccountDecidesHandover(t *testing.T) {
	users := []config.User{{User: "decider", Password: "decider-secret"}, {User: "spy", Password: "spy-secret"}}
	b, cfg := openBroker(t, func(c *config.NATS) { c.Embedded.Users = users })
	ctx := t.Context()
	kv, err := handover.EnsureBucket(ctx, b.JS, 1, cfg.Streams.StorageType())
	if err != nil {
		t.Fatal(err)
	}
	h, err := handover.New(handover.Config{
		Apps:      []config.App{{AppID: appID, Token: "t", Handover: config.Handover{Mode: config.HandoverBot, Deadline: 2 * time.Second}}},
		JetStream: b.JS, KV: kv, Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })

	decider, err := nats.Connect(b.Server.ClientURL(), nats.UserInfo("decider", "decider-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(decider.Close)
	asked := make(chan string, 4)
	if _, err := decider.Subscribe(events.DecideSubjects, func(m *nats.Msg) {
		asked <- m.Subject
		m.Respond([]byte(`{"transfer":true}`))
	}); err != nil {
		t.Fatal(err)
	}
	spy, err := nats.Connect(b.Server.ClientURL(), nats.UserInfo("spy", "spy-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(spy.Close)
	seen, err := spy.SubscribeSync(handover.ReplyPrefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{decider, spy} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	in, err := events.NewInbound(appID, &wxcodec.Message{ToUserName: "gh_1", FromUserName: "oUser", CreateTime: time.Now().Unix(),
		MsgType: "text", MsgID: "41", Content: "人工"})
	if err != nil {
		t.Fatal(err)
	}
	d := h.App(appID).Begin(ctx, &in, "")
	if !d.Finish(ctx) {
		t.Fatal("Finish() = false, want the restricted bot's transfer")
	}
	if got := <-asked; got != "wxkf.decide."+appID+".0.oUser" {
		t.Errorf("bot asked on %s", got)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := seen.NextMsg(50 * time.Millisecond); err == nil {
		t.Errorf("another bot read a decision reply: %s %s", m.Subject, m.Data)
	}
	if n, _, _ := seen.Pending(); n != 0 {
		t.Errorf("another bot holds %d decision replies", n)
	}
}
