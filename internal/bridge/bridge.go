// Package bridge runs the parts of kfbridge a binary asks for on one NATS
// connection: the embedded NATS server when no URL is configured, stream
// setup, the ingress and the egress (with the management service of
// internal/manage beside it, sharing its access tokens).
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
// Errors from start-up are returned wrapped with the part that failed; a
// clean shutdown returns nil.
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/egress"
	"github.com/kfbridge/kfbridge/internal/ingress"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/telemetry"
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
	ends := Endpoints{NATS: cfg.NATS.URL}
	if b.Server != nil {
		ends.NATS = b.Server.ClientURL()
	}
	reg := telemetry.NewRegistry()
	ready := []func(context.Context) error{
		func(ctx context.Context) error { return b.Ready(ctx, events.InboundStreamName) },
	}

	var eg *egress.Egress
	var mg *manage.Service
	if opts.Egress {
		eg, err = egress.New(egress.Config{
			Egress: cfg.Egress, Streams: cfg.NATS.Streams, NATSTimeout: cfg.NATS.RequestTimeout, Apps: cfg.Apps, JS: b.JS,
			Logger: logger.With("component", "egress"), Registry: reg,
		})
		if err != nil {
			return err
		}
		if err := eg.Setup(ctx); err != nil {
			return fmt.Errorf("egress setup: %w", err)
		}
		ready = append(ready, eg.Ready)
		if mg, err = newManage(cfg, b, eg, logger); err != nil {
			return err
		}
		ready = append(ready, mg.Ready)
	}
	if b.Server != nil {
		// Bots of the embedded server cannot create consumers: the bridge
		// makes the ones their users list (after the egress's streams).
		if err := b.EnsureBotConsumers(ctx, cfg.NATS.Embedded.Users); err != nil {
			return fmt.Errorf("bot consumers: %w", err)
		}
	}
	readyAll := func(ctx context.Context) error {
		for _, r := range ready {
			if err := r(ctx); err != nil {
				return err
			}
		}
		return nil
	}

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

	var ingressLn, adminLn net.Listener
	var srv *ingress.Server
	if opts.Ingress {
		srv, err = ingress.New(ingress.Config{
			Ingress: cfg.Ingress, Apps: cfg.Apps, JetStream: b.JS,
			Ready: readyAll, Logger: logger.With("component", "ingress"), Registry: reg,
		})
		if err != nil {
			return err
		}
		if ingressLn, err = net.Listen("tcp", cfg.Ingress.Listen); err != nil {
			return fmt.Errorf("ingress listen: %w", err)
		}
		if adminLn, err = net.Listen("tcp", cfg.Ingress.AdminListen); err != nil {
			ingressLn.Close()
			return fmt.Errorf("ingress admin listen: %w", err)
		}
		ends.Ingress = ingressLn.Addr().String()
		ends.Health = adminLn.Addr().String()
	} else {
		ln, err := net.Listen("tcp", cfg.Egress.Listen)
		if err != nil {
			return fmt.Errorf("egress listen: %w", err)
		}
		ends.Health = ln.Addr().String()
		run("health", func(ctx context.Context) error { return serveHealth(ctx, ln, reg, readyAll) })
	}
	if srv != nil {
		run("ingress", func(ctx context.Context) error { return srv.Serve(ctx, ingressLn) })
		run("ingress admin", func(ctx context.Context) error { return srv.ServeAdmin(ctx, adminLn) })
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

// serveHealth serves /healthz, /readyz and /metrics for a process without
// ingress.
func serveHealth(ctx context.Context, ln net.Listener, reg *prometheus.Registry, ready func(context.Context) error) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
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

// newManage builds the management service of an egress process, sharing
// the egress's token manager, API client and media object store.
func newManage(cfg *config.Config, b *broker.Broker, eg *egress.Egress, logger *slog.Logger) (*manage.Service, error) {
	apps := make([]string, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		apps = append(apps, a.AppID)
	}
	return manage.New(manage.Config{
		Conn: b.Conn, API: eg.API(), Tokens: eg.Tokens(), Store: eg.MediaObjects(), Apps: apps,
		Fetcher: eg.MediaFetcher(),
		Logger:  logger.With("component", "manage"),
	})
}
