// Package bridgetest runs a whole bridge in a test, as bridge.Run runs it
// in a process: the embedded NATS server on a free loopback port storing
// in t.TempDir(), the egress with its management service, and the ingress
// when asked for, calling a WeChat API (the simulator) the test serves.
//
// # Usage
//
//	api := testworld.ServeAPI(t, sim.Handler())
//	cfg := bridgetest.Config(t, api.URL, config.App{AppID: appID, Secret: secret})
//	ends := bridgetest.Start(t, &cfg, bridge.Options{Egress: true})
//
// # Concurrency
//
// Start returns once every part is ready; the bridge runs until the test
// ends, then shuts down as on SIGTERM.
//
// # Errors
//
// Failures end the test with t.Fatal; an error from bridge.Run after the
// start is a test error.
package bridgetest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/testworld"
)

// startTimeout bounds the start of a bridge.
const startTimeout = 30 * time.Second

// Config returns the configuration of a test bridge for apps: the
// embedded NATS server on a free loopback port storing in t.TempDir()
// (flushed every 2 minutes, not on every write), every listener on a free
// loopback port, and the egress settings of [testworld.Egress] (4
// partitions) calling the API at apiBase.
func Config(t testing.TB, apiBase string, apps ...config.App) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
	cfg.NATS.Embedded.StoreDir = t.TempDir()
	cfg.NATS.Embedded.Sync = "2m"
	cfg.Ingress.Listen = "127.0.0.1:0"
	cfg.Ingress.AdminListen = "127.0.0.1:0"
	cfg.Egress = testworld.Egress(apiBase, 4)
	cfg.Egress.Listen = "127.0.0.1:0"
	cfg.Apps = apps
	return cfg
}

// Start runs bridge.Run(cfg, opts) until the test ends and returns where
// the bridge can be reached once it is ready: its parts serve and /readyz
// answers 200 (the management service included). opts.OnReady is Start's
// own.
func Start(t testing.TB, cfg *config.Config, opts bridge.Options) bridge.Endpoints {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("bridge config: %v", err)
	}
	ready := make(chan bridge.Endpoints, 1)
	opts.OnReady = func(e bridge.Endpoints) { ready <- e }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bridge.Run(ctx, cfg, opts) }()
	stopped := false
	t.Cleanup(func() {
		cancel()
		if stopped {
			return
		}
		if err := <-done; err != nil {
			t.Errorf("bridge.Run() = %v", err)
		}
	})
	wait, cancelWait := context.WithTimeout(t.Context(), startTimeout)
	defer cancelWait()
	var ends bridge.Endpoints
	select {
	case ends = <-ready:
	case err := <-done:
		stopped = true
		t.Fatalf("bridge.Run() = %v before it was ready", err)
	case <-wait.Done():
		t.Fatalf("bridge not ready: %v", wait.Err())
	}
	if err := waitReady(wait, "http://"+ends.Health+"/readyz"); err != nil {
		t.Fatalf("bridge not ready: %v", err)
	}
	return ends
}

// waitReady polls url until it answers 200 or ctx ends.
func waitReady(ctx context.Context, url string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}
