package broker

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
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
