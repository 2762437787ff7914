package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestEnsureBotConsumersAdoptsOldDurables: bots of earlier versions
// created their own durables, named after the user, whose deliver policy,
// deliver subject or ack policy the server refuses to update. A pull
// consumer with explicit acks and the right filter is kept with its
// position; a push consumer or one without explicit acks is recreated.
// Either way the bridge starts.
func TestEnsureBotConsumersAdoptsOldDurables(t *testing.T) {
	users := []config.User{
		{User: "pullbot", Password: "pullbot-secret"},
		{User: "pushbot", Password: "pushbot-secret"},
		{User: "nonebot", Password: "nonebot-secret"},
		{User: "filterbot", Password: "filterbot-secret"},
	}
	b, _ := openEmbedded(t, users, nil)
	var logs syncBuffer
	b.logger = slog.New(slog.NewTextHandler(&logs, nil))
	ctx := t.Context()
	for range 3 {
		if _, err := b.JS.Publish(ctx, "wxkf.in.wxapp.0.oU.text", []byte(`{"push":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	old := map[string]jetstream.ConsumerConfig{
		// All four shapes are refused an update to BotConsumerConfig.
		"pullbot":   {Durable: "pullbot", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: events.InboundSubjects},
		"pushbot":   {Durable: "pushbot", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy, DeliverSubject: "pushbot.deliver"},
		"nonebot":   {Durable: "nonebot", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckNonePolicy},
		"filterbot": {Durable: "filterbot", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "wxkf.in.wxother.>"},
	}
	for _, cfg := range old {
		if _, err := b.JS.CreateConsumer(ctx, events.InboundStreamName, cfg); err != nil {
			t.Fatalf("create old consumer %s: %v", cfg.Durable, err)
		}
	}
	// pullbot has read and acknowledged one push: its position.
	pull, err := b.JS.Consumer(ctx, events.InboundStreamName, "pullbot")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := pull.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}

	if err := b.EnsureBotConsumers(ctx, users); err != nil {
		t.Fatalf("EnsureBotConsumers over old durables: %v", err)
	}

	info := func(name string) *jetstream.ConsumerInfo {
		t.Helper()
		c, err := b.JS.Consumer(ctx, events.InboundStreamName, name)
		if err != nil {
			t.Fatalf("consumer %s: %v", name, err)
		}
		return c.CachedInfo()
	}
	if ci := info("pullbot"); ci.Config.DeliverPolicy != jetstream.DeliverAllPolicy || ci.AckFloor.Stream != 1 {
		t.Errorf("pullbot: deliver %v, ack floor %d; want the old consumer kept (all, 1)", ci.Config.DeliverPolicy, ci.AckFloor.Stream)
	}
	for _, name := range []string{"pushbot", "nonebot", "filterbot"} {
		ci := info(name)
		want := BotConsumerConfig(config.BotConsumer{Stream: config.ConsumerStreamIn, Name: name})
		if ci.Config.DeliverSubject != "" || ci.Config.AckPolicy != want.AckPolicy || ci.Config.DeliverPolicy != want.DeliverPolicy ||
			ci.Config.FilterSubject != want.FilterSubject {
			t.Errorf("%s: %+v, want recreated as %+v", name, ci.Config, want)
		}
	}
	got := logs.String()
	if !strings.Contains(got, "bot consumer kept") || !strings.Contains(got, "deliver_policy all") {
		t.Errorf("no warning naming what differs on the kept consumer: %s", got)
	}
	if strings.Count(got, "bot consumer recreated") != 3 {
		t.Errorf("want 3 recreation warnings: %s", got)
	}
	// A second start changes nothing and keeps pullbot's position.
	if err := b.EnsureBotConsumers(ctx, users); err != nil {
		t.Fatalf("second EnsureBotConsumers: %v", err)
	}
	if ci := info("pullbot"); ci.AckFloor.Stream != 1 {
		t.Errorf("pullbot ack floor after a second start = %d, want 1", ci.AckFloor.Stream)
	}
}
