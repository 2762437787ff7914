// Package bridge runs the parts of kfbridge a binary asks for on one NATS
// connection: the embedded NATS server when no URL is configured, stream
// setup, and the ingress (the egress joins in a later version).
//
// # Usage
//
//	err := bridge.Run(ctx, cfg, bridge.Options{Logger: logger, Ingress: true})
//
// # Concurrency
//
// Run blocks until ctx ends or a part fails; then it shuts every part down in
// order (stop HTTP intake, finish in-flight publishes, drain NATS, stop the
// embedded server) and returns.
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

	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/ingress"
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
	// OnReady, when set, is called once every part is serving.
	OnReady func(Endpoints)
}

// Endpoints says where a running bridge can be reached.
type Endpoints struct {
	// Ingress is the ingress listen address (empty without ingress).
	Ingress string
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
	if !opts.Ingress {
		if opts.OnReady != nil {
			opts.OnReady(ends)
		}
		<-ctx.Done()
		return nil
	}
	reg := telemetry.NewRegistry()
	srv, err := ingress.New(ingress.Config{
		Ingress:   cfg.Ingress,
		Apps:      cfg.Apps,
		Publisher: events.NewPublisher(b.JS),
		Ready:     func(ctx context.Context) error { return b.Ready(ctx, events.InboundStreamName) },
		Logger:    logger.With("component", "ingress"),
		Registry:  reg,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Ingress.Listen)
	if err != nil {
		return fmt.Errorf("ingress listen: %w", err)
	}
	if opts.OnReady != nil {
		ends.Ingress = ln.Addr().String()
		opts.OnReady(ends)
	}
	return srv.Serve(ctx, ln)
}
