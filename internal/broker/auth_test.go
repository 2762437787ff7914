package broker

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestBotsCannotReadTokens runs the embedded server with a bot account: the
// bot consumes pushes and results and publishes commands, but cannot read
// the token bucket, publish pushes, or connect without its password.
func TestBotsCannotReadTokens(t *testing.T) {
	cfg := config.Default().NATS
	cfg.Embedded.Listen = "127.0.0.1:-1"
	cfg.Embedded.StoreDir = t.TempDir()
	cfg.Embedded.Users = []config.User{{User: "bot", Password: "bot-secret"}, {User: "ops", Password: "ops-secret", Role: "bridge"}}
	ctx := t.Context()
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	if err := b.EnsureStreams(ctx, cfg.Streams); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []jetstream.StreamConfig{events.ResultStream(), events.OutboundStream(4)} {
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	tokens, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "WXKF_TOKENS"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Put(ctx, "wxapp", []byte(`{"access_token":"SECRET"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "wxkf.in.wxapp.0.oU.text", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	url := b.Server.ClientURL()

	if _, err := nats.Connect(url); err == nil {
		t.Fatal("anonymous connection accepted")
	}
	if _, err := nats.Connect(url, nats.UserInfo("bot", "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	var mu sync.Mutex
	var violations []string
	bot, err := nats.Connect(url, nats.UserInfo("bot", "bot-secret"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		violations = append(violations, err.Error())
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	js, _ := jetstream.New(bot)

	// Allowed: consume pushes with a durable consumer, publish a command.
	cons, err := js.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{Durable: "mybot", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("bot consumer on WXKF_IN: %v", err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("bot reads a push: %v", err)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatalf("bot acks: %v", err)
	}
	if _, err := js.Publish(ctx, "wxkf.out.wxapp.0.oU.send", []byte(`{}`), jetstream.WithMsgID("c1")); err != nil {
		t.Fatalf("bot publishes a command: %v", err)
	}
	if _, err := js.OrderedConsumer(ctx, events.ResultStreamName, jetstream.OrderedConsumerConfig{}); err != nil {
		t.Fatalf("bot reads results: %v", err)
	}

	// Refused: the token bucket, by KV API, direct get or subscription.
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if kv, err := js.KeyValue(sctx, "WXKF_TOKENS"); err == nil {
		if e, err := kv.Get(sctx, "wxapp"); err == nil {
			t.Fatalf("bot read a token: %s", e.Value())
		}
	}
	if _, err := bot.SubscribeSync("$KV.WXKF_TOKENS.>"); err == nil {
		bot.Flush()
	}
	if _, err := bot.Request("$JS.API.STREAM.MSG.GET.KV_WXKF_TOKENS", []byte(`{"last_by_subj":"$KV.WXKF_TOKENS.wxapp"}`), time.Second); err == nil {
		t.Fatal("bot fetched the token stream's message")
	}
	// Refused: forging pushes.
	if _, err := js.Publish(sctx, "wxkf.in.wxapp.0.oU.text", []byte(`{}`)); err == nil {
		t.Fatal("bot published a push")
	}
	bot.Flush()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(violations, "\n"), "Permissions Violation") {
		t.Errorf("no permission violation reported; got %v", violations)
	}

	// A bridge-role user (operators' tools) may read everything.
	ops, err := nats.Connect(url, nats.UserInfo("ops", "ops-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	ojs, _ := jetstream.New(ops)
	kv, err := ojs.KeyValue(ctx, "WXKF_TOKENS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "wxapp"); err != nil {
		t.Errorf("bridge user cannot read tokens: %v", err)
	}
}
