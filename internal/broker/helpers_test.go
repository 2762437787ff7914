package broker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// openEmbedded opens an embedded broker with users and the inbound stream,
// closed when the test ends.
func openEmbedded(t testing.TB, users []config.User, tune func(*config.NATS)) (*Broker, config.NATS) {
	t.Helper()
	cfg := config.Default().NATS
	cfg.Embedded.Listen = "127.0.0.1:-1"
	cfg.Embedded.StoreDir = t.TempDir()
	cfg.Embedded.Users = users
	if tune != nil {
		tune(&cfg)
	}
	b, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	if err := b.EnsureStreams(t.Context(), cfg.Streams); err != nil {
		t.Fatal(err)
	}
	return b, cfg
}

// bridgeWorld creates, as the bridge does, the result and command streams
// and the bots' consumers next to WXKF_IN (openEmbedded's, for example).
func bridgeWorld(t *testing.T, b *Broker, users []config.User) {
	t.Helper()
	ctx := t.Context()
	for _, sc := range []jetstream.StreamConfig{events.ResultStream(), events.OutboundStream(4)} {
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.EnsureBotConsumers(ctx, users); err != nil {
		t.Fatal(err)
	}
}

// connectBot connects as a bot, with a client's default settings.
func connectBot(t testing.TB, url, user, password string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo(user, password))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// readPush reads, as bot user, one push with the consumer the bridge made
// for it on WXKF_IN, double-acks it and returns its data.
func readPush(t testing.TB, js jetstream.JetStream, user string) []byte {
	t.Helper()
	cons, err := js.Consumer(t.Context(), events.InboundStreamName, user)
	if err != nil {
		t.Fatalf("%s's consumer on WXKF_IN: %v", user, err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("%s reads a push: %v", user, err)
	}
	if err := m.DoubleAck(t.Context()); err != nil {
		t.Fatalf("%s acks: %v", user, err)
	}
	return m.Data()
}
