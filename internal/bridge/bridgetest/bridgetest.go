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
// Run does the same outside a test (pkg/kfbridgetest builds on it).
//
// # Concurrency
//
// Run and Start return once every part is ready; the bridge runs until
// Running.Stop or the end of the test, then shuts down as on SIGTERM.
//
// # Errors
//
// Run returns start-up errors; Start ends the test with t.Fatal on them,
// and reports an error of bridge.Run after the start as a test error.
package bridgetest

import (
	"context"
	"errors"
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

// Running is a bridge started by [Run].
type Running struct {
	// Endpoints says where the bridge can be reached.
	Endpoints bridge.Endpoints
	cancel    context.CancelFunc
	done      chan error
	err       error
	stopped   bool
}

// Run starts bridge.Run(cfg, opts) and returns once the bridge is ready:
// its parts serve and /readyz answers 200 (the management service
// included). ctx bounds the start only (30 s at most); the
// bridge runs until [Running.Stop]. opts.OnReady is Run's own.
func Run(ctx context.Context, cfg *config.Config, opts bridge.Options) (*Running, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bridge config: %w", err)
	}
	ready := make(chan bridge.Endpoints, 1)
	opts.OnReady = func(e bridge.Endpoints) { ready <- e }
	runCtx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- bridge.Run(runCtx, cfg, opts) }()
	wait, cancelWait := context.WithTimeout(ctx, startTimeout)
	defer cancelWait()
	select {
	case r.Endpoints = <-ready:
	case err := <-r.done:
		cancel()
		return nil, fmt.Errorf("bridge stopped before it was ready: %w", err)
	case <-wait.Done():
		return nil, errors.Join(fmt.Errorf("bridge not ready: %w", wait.Err()), r.Stop())
	}
	if err := waitReady(wait, "http://"+r.Endpoints.Health+"/readyz"); err != nil {
		return nil, errors.Join(fmt.Errorf("bridge not ready: %w", err), r.Stop())
	}
	return r, nil
}

// Stop shuts the bridge down as on SIGTERM and returns the error of
// bridge.Run; calling it again returns the same error. Stop is not safe
// for concurrent use.
func (r *Running) Stop() error {
	if !r.stopped {
		r.stopped = true
		r.cancel()
		r.err = <-r.done
	}
	return r.err
}

// Start runs the bridge with [Run] until the test ends.
func Start(t testing.TB, cfg *config.Config, opts bridge.Options) bridge.Endpoints {
	t.Helper()
	r, err := Run(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("bridge.Run() = %v", err)
		}
	})
	return r.Endpoints
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
