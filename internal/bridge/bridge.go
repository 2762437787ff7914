// Package bridge runs the parts of kfbridge a binary asks for on one NATS
// connection: the embedded NATS server when no URL is configured, stream
// setup, the ingress and the egress with the management service of
// internal/manage beside it.
//
// The bridge builds the WeChat parts of an egress process once (package
// wechat: API client, token manager, media store and fetcher) and hands
// the same ones to the egress and the management service, so both share one
// token per app and one allow list. It owns them: they run nothing in the
// background and need no stopping, and they outlive both parts because
// the NATS connection closes only after Run has stopped them. One admin
// listener serves /healthz, /readyz and /metrics (telemetry.HealthHandler);
// every part adds its readiness check. With telemetry.otlp.endpoint set, one
// OpenTelemetry tracer provider exports every part's spans over OTLP/HTTP
// and is flushed at shutdown.
//
// Before anything starts, Run runs [Check]: [Preflight], and a try of
// every listen address (bound and released), so a configuration that
// cannot run fails at once with the problem named. [Check] is also the
// binaries' `check` command ([Main]).
//
// # Usage
//
//	err := bridge.Run(ctx, cfg, bridge.Options{Logger: logger, Ingress: true, Egress: true})
//
// # Concurrency
//
// Run blocks until ctx ends or a part fails; then it shuts every part down in
// order — stop HTTP intake, let in-flight pushes publish and in-flight
// commands finish and be acknowledged, drain NATS, stop the embedded server —
// and returns.
//
// # Errors
//
// Errors from start-up are returned wrapped with the part that failed
// (problems found before anything starts wrap [ErrPreflight], one joined
// error each); a clean shutdown returns nil.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/egress"
	"github.com/kfbridge/kfbridge/internal/handover"
	"github.com/kfbridge/kfbridge/internal/ingress"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// Options selects the parts to run.
type Options struct {
	// Logger receives all logs; nil discards.
	Logger *slog.Logger
	// Name is the NATS connection name. Default "kfbridge".
	Name string
	// Ingress runs the HTTP ingress.
	Ingress bool
	// Egress runs the egress.
	Egress bool
	// Registry, when set, receives every part's metrics (it is what the
	// admin listener's /metrics serves); nil makes one with
	// [telemetry.NewRegistry].
	Registry telemetry.Registry
	// OnReady, when set, is called once every part is serving.
	OnReady func(Endpoints)
	// Extra, when set, runs beside the parts once they are ready (the demo's
	// simulator and echo bot) and is stopped with them; its error stops Run.
	Extra func(ctx context.Context, ends Endpoints) error
}

// Endpoints says where a running bridge can be reached.
type Endpoints struct {
	// Ingress is the ingress listen address (empty without ingress).
	Ingress string
	// Health is the address serving /healthz, /readyz and /metrics: the
	// ingress's admin listener (ingress.admin_listen), or the egress's own
	// listener (egress.listen) without ingress.
	Health string
	// NATS is the URL bots connect to: the embedded server's, or the
	// configured one.
	NATS string
}

// Run runs the selected parts until ctx ends.
func Run(ctx context.Context, cfg *config.Config, opts Options) (err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := opts.Name
	if name == "" {
		name = "kfbridge"
	}
	// Before anything starts: a configuration problem or an address in use
	// fails at once, named, rather than after NATS started. The HTTP
	// addresses are bound for serving only once NATS is there (below), so
	// that while the process waits for NATS a load balancer's TCP check
	// finds nothing listening.
	if err := Check(cfg, opts); err != nil {
		return err
	}
	b, err := broker.Open(ctx, cfg.NATS, broker.WithLogger(logger), broker.WithName(name))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Ingress.ShutdownTimeout)
		defer cancel()
		err = errors.Join(err, b.Close(cctx))
	}()
	if err := b.EnsureStreams(ctx, cfg.NATS.Streams); err != nil {
		return err
	}
	// Reply budgets are shared by the ingress (which grants them), the
	// egress (which spends them) and the management service (budget.get).
	var tracker *budget.Tracker
	if cfg.Egress.ReplyBudget != config.BudgetOff {
		s := cfg.NATS.Streams
		tracker, err = budget.Open(ctx, b.JS, budget.Config{Replicas: s.Replicas, Storage: s.StorageType(), MaxBytes: s.MaxBytes.Budget})
		if err != nil {
			return err
		}
	}
	ends := Endpoints{NATS: cfg.NATS.URL}
	if b.Server != nil {
		ends.NATS = b.Server.ClientURL()
	}
	reg := opts.Registry
	if reg == nil {
		reg = telemetry.NewRegistry()
	}
	// Span export (telemetry.otlp.endpoint): one provider for every part,
	// flushed at the end within the shutdown timeout. Off, the parts get
	// none and record nothing.
	var tracing trace.TracerProvider
	if ep := cfg.Telemetry.OTLP.Endpoint; ep != "" {
		service := cfg.Telemetry.OTLP.ServiceName
		if service == "" {
			service = name
		}
		tp, err := telemetry.NewTracerProvider(ctx, ep, service)
		if err != nil {
			return fmt.Errorf("telemetry: %w", err)
		}
		defer func() {
			// Runs before the NATS connection closes (deferred earlier).
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Ingress.ShutdownTimeout)
			defer cancel()
			if err := tp.Shutdown(cctx); err != nil {
				logger.Warn("spans not flushed at shutdown", "err", err)
			}
		}()
		tracing = tp
		logger.Info("exporting trace spans over OTLP", "service", service)
	}
	checks := []telemetry.Check{
		func(ctx context.Context) error { return b.Ready(ctx, events.InboundStreamName) },
	}

	var eg *egress.Egress
	var mg *manage.Service
	if opts.Egress {
		if eg, mg, err = newEgress(ctx, cfg, b, reg, tracing, logger, tracker); err != nil {
			return err
		}
		checks = append(checks, eg.Ready, mg.Ready)
		reg.MustRegister(telemetry.NewBacklog(b.JS))
	}
	// Bots cannot create consumers: the bridge makes the ones their users
	// list (after the egress's streams), those of the embedded server's
	// users or, on an external NATS, of nats.bots.
	bots := cfg.NATS.BotUsers()
	if b.Server != nil {
		bots = cfg.NATS.Embedded.Users
	}
	if err := b.EnsureBotConsumers(ctx, bots); err != nil {
		return fmt.Errorf("bot consumers: %w", err)
	}
	// The embedded server holds its own address by now: only the HTTP
	// listeners are bound.
	lns, err := bind(cfg, opts, false)
	if err != nil {
		return err
	}
	defer lns.close() // the servers close theirs; this covers a failed start
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(part string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(runCtx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", part, err))
				mu.Unlock()
				cancel() // one part failing stops the others
			}
		})
	}

	var srv *ingress.Server
	if opts.Ingress {
		// The ingress's admin listener serves the process's health, with
		// the ingress's own check (it is not draining) before these.
		var handoverKV jetstream.KeyValue
		if handoverTracked(cfg.Apps) {
			st := cfg.NATS.Streams
			if handoverKV, err = handover.EnsureBucket(ctx, b.JS, st.Replicas, st.StorageType()); err != nil {
				return err
			}
		}
		srv, err = ingress.New(ingress.Config{
			Ingress: cfg.Ingress, Apps: cfg.Apps, JetStream: b.JS, HandoverKV: handoverKV,
			Ready: all(checks), Logger: logger.With("component", "ingress"), Registry: reg, Budget: tracker,
			TracerProvider: tracing,
		})
		if err != nil {
			return err
		}
		ends.Ingress = lns.ingress.Addr().String()
		ends.Health = lns.admin.Addr().String()
	} else {
		ends.Health = lns.health.Addr().String()
		health := telemetry.HealthHandler(reg, checks...)
		run("health", func(ctx context.Context) error { return serveHealth(ctx, lns.health, health) })
	}
	if srv != nil {
		run("ingress", func(ctx context.Context) error { return srv.Serve(ctx, lns.ingress) })
		run("ingress admin", func(ctx context.Context) error { return srv.ServeAdmin(ctx, lns.admin) })
	}
	if eg != nil {
		run("egress", eg.Run)
	}
	if mg != nil {
		run("manage", mg.Run)
	}
	if opts.OnReady != nil {
		opts.OnReady(ends)
	}
	if opts.Extra != nil {
		run("demo", func(ctx context.Context) error { return opts.Extra(ctx, ends) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// handoverTracked reports whether an app decides handovers by rules or a
// bot: only then does the ingress need the conversation bucket.
func handoverTracked(apps []config.App) bool {
	for _, a := range apps {
		if a.HandoverTracked() {
			return true
		}
	}
	return false
}

// all is one check made of checks, run in order.
func all(checks []telemetry.Check) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, check := range checks {
			if err := check(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// serveHealth serves the health handler (/healthz, /readyz and /metrics)
// for a process without ingress.
func serveHealth(ctx context.Context, ln net.Listener, health http.Handler) error {
	srv := &http.Server{Handler: health, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-errc
	return nil
}

// newEgress builds the WeChat parts once and hands the same ones to the
// egress (set up, not yet running) and the management service.
func newEgress(ctx context.Context, cfg *config.Config, b *broker.Broker, reg telemetry.Registry, tracing trace.TracerProvider, logger *slog.Logger, tracker *budget.Tracker) (*egress.Egress, *manage.Service, error) {
	wx, err := wechat.New(ctx, wechat.Config{
		JS: b.JS, Egress: cfg.Egress, Streams: cfg.NATS.Streams, Apps: cfg.Apps,
		Logger: logger.With("component", "wechat"), Registry: reg, TracerProvider: tracing,
	})
	if err != nil {
		return nil, nil, err
	}
	eg, err := egress.New(egress.Config{
		Egress: cfg.Egress, Streams: cfg.NATS.Streams, NATSTimeout: cfg.NATS.RequestTimeout, Apps: cfg.Apps, JS: b.JS,
		API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Media: wx.Media,
		Logger: logger.With("component", "egress"), Registry: reg, Budget: tracker, TracerProvider: tracing,
	})
	if err != nil {
		return nil, nil, err
	}
	if err := eg.Setup(ctx); err != nil {
		return nil, nil, fmt.Errorf("egress setup: %w", err)
	}
	apps := make([]string, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		apps = append(apps, a.AppID)
	}
	mg, err := manage.New(manage.Config{
		Conn: b.Conn, API: wx.API, Tokens: wx.Tokens, Store: wx.Media, Fetcher: wx.Fetcher, Apps: apps,
		Logger: logger.With("component", "manage"), Budget: tracker, JetStream: b.JS,
	})
	if err != nil {
		return nil, nil, err
	}
	return eg, mg, nil
}
