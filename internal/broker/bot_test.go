package broker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/examples/echobot"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestEchobotAsBotAccount runs the example bot in a bot account of its own,
// with a client's default settings and the consumers the bridge made for
// it (named after the user): it reads a push and publishes its commands,
// and reads their results.
func TestEchobotAsBotAccount(t *testing.T) {
	b, cfg := openBroker(t, func(c *config.NATS) { c.Embedded.Sync = "2m" })
	ctx := t.Context()
	setupEgress(t, b, cfg)
	if err := b.EnsureBotConsumers(ctx, cfg.Embedded.Users); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asyncErrs []error
	bot, err := nats.Connect(b.Server.ClientURL(), nats.UserInfo("bot", "bot-secret"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			asyncErrs = append(asyncErrs, err)
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bot.Close)
	js, _ := jetstream.New(bot)
	botCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- echobot.Run(botCtx, js, echobot.Options{Name: "bot"}) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("echobot: %v", err)
		}
	}()
	in, err := events.NewInbound(appID, &wxcodec.Message{ToUserName: "gh_1", FromUserName: "oUser", CreateTime: time.Now().Unix(),
		MsgType: "text", MsgID: "1", Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.PublishMsg(ctx, in.Msg("")); err != nil {
		t.Fatal(err)
	}
	out, err := b.JS.Stream(ctx, events.OutboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, "typing and the reply in WXKF_OUT", func() bool {
		info, err := out.Info(ctx)
		return err == nil && info.State.Msgs == 2
	})
	// Results reach the bot's result consumer (the egress does not run
	// here; a result as it would publish one).
	if _, err := b.JS.Publish(ctx, "wxkf.result."+appID+".0.oUser.delivered", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, "the bot to ack the result", func() bool {
		c, err := b.JS.Consumer(ctx, events.ResultStreamName, "bot")
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if len(asyncErrs) > 0 {
		t.Errorf("the server refused the bot: %v", asyncErrs)
	}
}
