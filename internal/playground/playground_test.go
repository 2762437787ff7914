package playground_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/playground"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestDemoRoundTrip runs what `kfbridge --demo` runs — ingress, egress,
// embedded NATS, simulated WeChat, echo bot — and follows one push through
// the whole loop: push → event → bot → typing + reply commands → WeChat →
// results. The bot's side is read as a bot in another process would, over
// TCP from the embedded server.
func TestDemoRoundTrip(t *testing.T) {
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
	cfg.Ingress.Listen = "127.0.0.1:0"
	cfg.Ingress.AdminListen = "127.0.0.1:0"
	cfg.Egress.Partitions = 16
	pg, err := playground.New(&cfg, playground.Options{SimListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)

	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan bridge.Endpoints, 1)
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(ctx, &cfg, bridge.Options{Ingress: true, Egress: true, Extra: pg.Run,
			OnReady: func(e bridge.Endpoints) { ready <- e }})
	}()
	var ends bridge.Endpoints
	select {
	case ends = <-ready:
	case err := <-done:
		t.Fatalf("Run() = %v before ready", err)
	case <-time.After(30 * time.Second):
		t.Fatal("bridge not ready")
	}
	nc, err := nats.Connect(ends.NATS)
	if err != nil {
		t.Fatalf("bot connect to %s: %v", ends.NATS, err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	// The bot's consumer delivers only messages stored after it was made:
	// wait until it exists.
	natstest.WaitFor(t, "the echo bot's consumer", func() bool {
		_, err := js.Consumer(t.Context(), events.InboundStreamName, "echobot")
		return err == nil
	})

	// The user writes, as WeChat would deliver it, and the simulator learns
	// of the interaction (its send window opens).
	var out strings.Builder
	err = wxpush.RunPush(t.Context(), wxpush.PushConfig{
		URL: "http://" + ends.Ingress, SimURL: pg.SimURL(),
		Spec: wxpush.Spec{Kind: "text", Content: "hello bridge", BusinessID: 7},
	}, &out)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}

	// The bot answered: two commands, two results, one message at WeChat.
	cons, err := js.OrderedConsumer(t.Context(), events.ResultStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for len(outcomes) < 2 {
		m, err := cons.Next(jetstream.FetchMaxWait(15 * time.Second))
		if err != nil {
			t.Fatalf("results so far %v: %v", outcomes, err)
		}
		var r events.ResultEvent
		json.Unmarshal(m.Data(), &r)
		outcomes = append(outcomes, r.Data.Verb+":"+r.Data.Outcome)
	}
	if strings.Join(outcomes, ",") != "typing:delivered,send:delivered" {
		t.Errorf("results %v, want typing then send, both delivered", outcomes)
	}
	got := pg.Sim().Delivered(demo.AppID)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "echo: hello bridge") || got[0].BusinessID != "7" {
		t.Errorf("WeChat received %+v", got)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + ends.Health + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s = %v, %v", path, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	// The push listener serves pushes and /healthz only.
	for _, path := range []string{"/readyz", "/metrics"} {
		resp, err := http.Get("http://" + ends.Ingress + path)
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the push listener = %v, %v; want 404", path, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() after cancel = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bridge did not stop")
	}
}

// TestStoreDir: the embedded server stores in a temporary directory that
// Close removes, or in Options.StoreDir, which Close leaves to its owner.
func TestStoreDir(t *testing.T) {
	cfg := config.Default()
	pg, err := playground.New(&cfg, playground.Options{SimListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	dir := cfg.NATS.Embedded.StoreDir
	if _, err := os.Stat(dir); err != nil || dir == config.Default().NATS.Embedded.StoreDir {
		t.Fatalf("store dir %q: %v, want a new temporary directory", dir, err)
	}
	pg.Close()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store dir %s after Close: %v, want it removed", dir, err)
	}

	cfg = config.Default()
	own := t.TempDir()
	pg, err = playground.New(&cfg, playground.Options{SimListen: "127.0.0.1:0", StoreDir: own})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Embedded.StoreDir != own {
		t.Errorf("store dir %q, want Options.StoreDir %q", cfg.NATS.Embedded.StoreDir, own)
	}
	pg.Close()
	if _, err := os.Stat(own); err != nil {
		t.Errorf("Options.StoreDir after Close: %v, want it left", err)
	}
}
