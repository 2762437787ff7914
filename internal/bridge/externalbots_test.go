package bridge_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestExternalNATSBots runs the egress on an external nats-server with the
// configuration docker-compose.yml ships (deploy/nats/secure.conf and its
// accounts.conf): the bridge connects as user kfbridge and creates the
// consumers nats.bots lists, and the echo bot's account sends a command and
// reads its result from its own consumer, while it cannot create a
// consumer, reach the token bucket, and a client without a password is
// refused.
func TestExternalNATSBots(t *testing.T) {
	pw := map[string]string{
		"KFB_NATS_BRIDGE_PASSWORD": "pbridge1", "KFB_NATS_OPS_PASSWORD": "pops1",
		"KFB_NATS_SYS_PASSWORD": "psys1", "KFB_NATS_ECHOBOT_PASSWORD": "pechobot1",
	}
	for k, v := range pw {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile("../../deploy/nats/secure.conf")
	if err != nil {
		t.Fatalf("deploy/nats/secure.conf: %v", err)
	}
	opts.Host, opts.Port, opts.HTTPPort, opts.StoreDir, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, 0, t.TempDir(), true, true
	s := natstest.StartServer(t, opts)

	sim, _ := startEgress(t, func(cfg *config.Config) {
		cfg.NATS.URL, cfg.NATS.User, cfg.NATS.Password = s.ClientURL(), "kfbridge", config.Secret(pw["KFB_NATS_BRIDGE_PASSWORD"])
		cfg.NATS.Bots = []config.Bot{{User: "echobot"}}
	})

	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Error("a client without credentials connected")
	}
	bot, js := natstest.ConnectURL(t, s.ClientURL(), nats.UserInfo("echobot", pw["KFB_NATS_ECHOBOT_PASSWORD"]))
	ctx := t.Context()
	results, err := js.Consumer(ctx, events.ResultStreamName, "echobot")
	if err != nil {
		t.Fatalf("the bot's result consumer, from nats.bots: %v", err)
	}
	if _, err := js.Consumer(ctx, events.InboundStreamName, "echobot"); err != nil {
		t.Fatalf("the bot's push consumer, from nats.bots: %v", err)
	}
	sim.RecordInteraction(appID, "0", openID, "text", time.Time{})
	msg, err := events.NewCommandMsg(events.Conversation{AppID: appID, BusinessID: "0", OpenID: openID}, events.VerbSend, "ext-bot-1", "/test/bot",
		events.SendData{MsgType: "text", Text: &events.SendText{Content: "hi"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("the bot's command: %v", err)
	}
	m, err := results.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("the command's result: %v", err)
	}
	var res events.ResultEvent
	if err := json.Unmarshal(m.Data(), &res); err != nil || res.Data.CommandID != "ext-bot-1" || res.Data.Outcome != events.OutcomeDelivered {
		t.Fatalf("result = %s, %v", m.Data(), err)
	}
	m.Ack()
	if _, err := js.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{Durable: "mine"}); err == nil {
		t.Error("the bot created a consumer")
	}
	if _, err := js.KeyValue(ctx, "WXKF_TOKENS"); err == nil {
		t.Error("the bot opened the token bucket")
	}
	if _, err := bot.Request("$JS.API.STREAM.INFO.WXKF_IN", nil, time.Second); err == nil {
		t.Error("the bot reached the stream API")
	}
}
