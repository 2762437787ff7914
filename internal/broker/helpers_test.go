package broker

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

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

// asyncErrors records a connection's asynchronous errors (permission
// violations) so that a test can wait for the one it caused.
type asyncErrors struct {
	mu   sync.Mutex
	errs []string
}

func (a *asyncErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err.Error())
	a.mu.Unlock()
}

func (a *asyncErrors) has(substr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.errs {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

// waitViolation waits until the server refused op ("Publish" or
// "Subscription") on subject.
func (a *asyncErrors) waitViolation(t testing.TB, op, subject string) {
	t.Helper()
	want := "Permissions Violation for " + op + ` to "` + subject + `"`
	waitFor(t, want, func() bool { return a.has(want) })
}

// connectBot connects as a bot, with a client's default settings.
func connectBot(t testing.TB, url, user, password string) (*nats.Conn, *asyncErrors) {
	t.Helper()
	errs := &asyncErrors{}
	nc, err := nats.Connect(url, nats.UserInfo(user, password), nats.ErrorHandler(errs.handler))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
