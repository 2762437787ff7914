package wxsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultListen is the address `wxsim serve` listens on by default, the
// host and port of [SimURL].
const DefaultListen = "127.0.0.1:9100"

// ServeConfig configures [RunServe] (wxsim serve). The zero value serves
// the demo app without faults on [DefaultListen].
type ServeConfig struct {
	// Listen is the TCP address to listen on (default [DefaultListen];
	// port 0 picks a free port).
	Listen string
	// Sim configures the simulator. Its Logger defaults to Logger.
	Sim SimConfig
	// Logger receives the server's records (default: discard).
	Logger *slog.Logger
}

func (c *ServeConfig) setDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Sim.Logger == nil {
		c.Sim.Logger = c.Logger
	}
	c.Sim.setDefaults()
}

// Validate reports every problem of c (after defaults) at once, each
// wrapped in [ErrInvalid].
func (c *ServeConfig) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("%w: listen %q: %w", ErrInvalid, c.Listen, err))
	}
	errs = append(errs, c.Sim.Validate())
	return errors.Join(errs...)
}

// shutdownTimeout bounds the wait for calls in flight when RunServe stops.
const shutdownTimeout = 5 * time.Second

// RunServe serves a [Sim] on cfg.Listen until ctx ends, then stops taking
// calls, waits up to 5 s for the calls in flight, and returns nil. Once it
// listens it writes one line with its URL and apps to w:
//
//	wxsim serve: WeChat API at http://127.0.0.1:9100 (apps: wxkfbridgedemo01; control: /sim/)
//
// Errors wrap [ErrInvalid] for a bad cfg, or come from listening.
func RunServe(ctx context.Context, cfg ServeConfig, w io.Writer) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	sim, err := NewSim(cfg.Sim)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           sim.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(w, "wxsim serve: WeChat API at http://%s (apps: %s; control: /sim/)\n",
		ln.Addr(), strings.Join(sim.AppIDs(), ", ")); err != nil {
		return errors.Join(fmt.Errorf("write: %w", err), srv.Close(), <-served)
	}
	select {
	case err := <-served: // Serve failed; it closed the listener
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ParseApps parses "appid:secret,appid:secret,…" into a map for
// [SimConfig].Apps. Errors wrap [ErrInvalid].
func ParseApps(s string) (map[string]string, error) {
	apps := map[string]string{}
	var errs []error
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, secret, ok := strings.Cut(item, ":")
		if !ok || id == "" || secret == "" {
			errs = append(errs, fmt.Errorf("%w: app %q: want appid:secret", ErrInvalid, item))
			continue
		}
		if _, dup := apps[id]; dup {
			errs = append(errs, fmt.Errorf("%w: app %s listed twice", ErrInvalid, id))
		}
		apps[id] = secret
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return apps, nil
}
