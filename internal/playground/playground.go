// Package playground is what `kfbridge --demo` adds to a bridge so a
// newcomer sees a whole round trip on one machine with no setup: the demo
// app, an embedded NATS in a temporary directory, WeChat's API simulated by
// wxsim, the example echo bot answering every user, and the example
// handover bot deciding per message whether it goes to human agents (the
// demo app's handover.mode is bot): "人工" or "agent" in a text hands it over.
//
//	push (wxsim push) → ingress → wxkf.in… → echo bot → wxkf.out… → egress →
//	simulated WeChat API → wxkf.result…
//
// # Usage
//
//	pg, err := playground.New(cfg, playground.Options{})
//	defer pg.Close()
//	err = bridge.Run(ctx, cfg, bridge.Options{..., Extra: pg.Run})
//
// # Concurrency
//
// [Playground.Run] serves the simulator and runs the bot until ctx ends.
//
// # Errors
//
// New fails when the simulator's port is taken or the configuration does
// not validate.
package playground

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/examples/echobot"
	"github.com/kfbridge/kfbridge/examples/handoverbot"
	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// Options configures a [Playground].
type Options struct {
	// SimListen is where the simulated WeChat API listens. Default
	// wxsim.DefaultListen (127.0.0.1:9100), where `wxsim push` reports the
	// users' interactions by default.
	SimListen string
	// Logger; nil discards.
	Logger *slog.Logger
	// NoEchoBot leaves the echo and handover bots out: [Playground.Run]
	// serves the simulator only, for a bridge whose bot is another (the
	// one a team tests with pkg/kfbridgetest), and the demo app never
	// hands over.
	NoEchoBot bool
	// StoreDir, when set, is where the embedded NATS server stores its
	// data: a directory the caller owns, which Close leaves. Default a
	// temporary directory, which Close removes.
	StoreDir string
}

// Playground holds the demo's parts.
type Playground struct {
	sim     *wxsim.Sim
	ln      net.Listener
	logger  *slog.Logger
	noBot   bool
	cleanup func()
}

// New adds the demo app to cfg, points the egress at the simulator (whose
// port it binds now), and, unless cfg names a NATS server, stores the
// embedded server's data in opts.StoreDir or a temporary directory removed
// by Close.
func New(cfg *config.Config, opts Options) (*Playground, error) {
	if opts.SimListen == "" {
		opts.SimListen = wxsim.DefaultListen
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, ok := cfg.App(demo.AppID); !ok {
		app := config.App{AppID: demo.AppID, Secret: demo.Secret, Token: demo.Token, EncodingAESKey: demo.EncodingAESKey}
		if !opts.NoEchoBot {
			// The demo's handover bot decides per message.
			app.Handover.Mode = config.HandoverBot
		}
		cfg.Apps = append(cfg.Apps, app)
	}
	apps := map[string]string{}
	for _, a := range cfg.Apps {
		apps[a.AppID] = a.Secret.Value()
	}
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: apps, Logger: logger.With("component", "wxsim")})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.SimListen)
	if err != nil {
		return nil, fmt.Errorf("demo simulator: %w", err)
	}
	cfg.Egress.APIBase = "http://" + ln.Addr().String()
	pg := &Playground{sim: sim, ln: ln, logger: logger, noBot: opts.NoEchoBot, cleanup: func() {}}
	if cfg.NATS.URL == "" && opts.StoreDir != "" {
		cfg.NATS.Embedded.StoreDir = opts.StoreDir
	} else if cfg.NATS.URL == "" {
		dir, err := os.MkdirTemp("", "kfbridge-demo-")
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("demo store dir: %w", err)
		}
		cfg.NATS.Embedded.StoreDir = dir
		pg.cleanup = func() { os.RemoveAll(dir) }
	}
	if err := cfg.Validate(); err != nil {
		pg.Close()
		return nil, err
	}
	return pg, nil
}

// Sim returns the simulator, for tests.
func (p *Playground) Sim() *wxsim.Sim { return p.sim }

// SimURL returns the simulator's base URL.
func (p *Playground) SimURL() string { return "http://" + p.ln.Addr().String() }

// Run serves the simulated WeChat API and runs the echo and handover bots (unless
// Options.NoEchoBot), connected to the bridge's NATS, until ctx ends.
func (p *Playground) Run(ctx context.Context, ends bridge.Endpoints) error {
	srv := &http.Server{Handler: p.sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(p.ln) }()
	if p.noBot {
		return p.serve(ctx, srv, errc, func() {})
	}

	nc, err := nats.Connect(ends.NATS, nats.Name("kfbridge-demo-echobot"))
	if err != nil {
		srv.Close()
		return fmt.Errorf("echo bot: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		srv.Close()
		return err
	}
	botCtx, stopBot := context.WithCancel(ctx)
	defer stopBot()
	go func() {
		errc <- echobot.Run(botCtx, js, echobot.Options{Logger: p.logger.With("component", "echobot")})
	}()
	go func() {
		errc <- handoverbot.Run(botCtx, nc, handoverbot.Options{Logger: p.logger.With("component", "handoverbot")})
	}()
	return p.serve(ctx, srv, errc, stopBot)
}

// serve waits until ctx ends or a part reports on errc, then calls stop
// and shuts the simulator's server down.
func (p *Playground) serve(ctx context.Context, srv *http.Server, errc <-chan error, stop func()) error {
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	stop()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

// Close releases the simulator's port and the temporary directory.
func (p *Playground) Close() {
	p.ln.Close()
	p.cleanup()
}

// PrintBanner tells a newcomer what runs and what to try next.
func (p *Playground) PrintBanner(w io.Writer, ends bridge.Endpoints) {
	fmt.Fprintf(w, `
kfbridge demo is running: ingress + egress + embedded NATS, a simulated WeChat, an echo bot and a handover bot.
  ingress   http://%s/wx/%s   (WeChat pushes here)
  admin     http://%s/metrics   (and /healthz, /readyz; keep it private)
  nats      %s   (JetStream; bots in any language connect here)
  wechat    %s   (simulated WeChat API the egress calls)
  app       %s   (demo credentials, see internal/demo)

In another terminal:
  go run ./cmd/kfctl tail                    # every event on wxkf.in.>, one line each
  go run ./cmd/wxsim push --kind text --content hello
  go run ./cmd/wxsim push --format json --mode safe --kind image --bid 42
  curl -s '%s/sim/delivered?appid=%s'   # what the echo bot's replies delivered
  go run ./cmd/wxsim push --kind text --content '我要人工'   # the handover bot hands it to human agents

Ctrl-C stops it (in-flight pushes and commands finish first).
`, ends.Ingress, demo.AppID, ends.Health, ends.NATS, p.SimURL(), demo.AppID, p.SimURL(), demo.AppID)
}
