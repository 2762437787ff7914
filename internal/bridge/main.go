package bridge

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/kfbridge/kfbridge/internal/config"
)

// Prepare adjusts a binary's configuration and options after loading and
// before running (e.g. the demo); cleanup runs after Run returns.
type Prepare func(cfg *config.Config, opts *Options) (cleanup func(), err error)

// Main is the whole main function of kfbridge's binaries: it parses
// --config (and any flags the binary defined before calling it), loads the
// configuration with KFBRIDGE_… overrides, runs the parts in opts until
// SIGINT or SIGTERM, and exits 2 on a bad configuration and 1 on failure.
func Main(name string, opts Options, prepare Prepare) {
	configPath := flag.String("config", "", "YAML configuration file (KFBRIDGE_… environment variables override it)")
	flag.Parse()
	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	cleanup := func() {}
	if prepare != nil {
		if cleanup, err = prepare(cfg, &opts); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(2)
		}
	}
	logger := cfg.Log.NewLogger(os.Stderr)
	if gogc, ok := gcPercent(os.LookupEnv); ok {
		debug.SetGCPercent(gogc)
		logger.Debug("garbage collector set to the kfbridge default", "gogc", gogc)
	}
	if opts.Logger == nil {
		opts.Logger = logger
	}
	if opts.Name == "" {
		opts.Name = name
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = Run(ctx, cfg, opts)
	stop()
	cleanup()
	if err != nil {
		logger.Error(name+" stopped", slog.Any("err", err))
		os.Exit(1)
	}
}

// DefaultGOGC is the garbage collector's target percentage when the GOGC
// environment variable is not set. Under load the heap is mostly garbage of
// single requests around a small live set (the duplicate window, buffers),
// and Go's default of 100 collects so often that the collections show in
// tail latency; 400 collects a quarter as often, for a heap that peaks at
// up to five times the live set. GOMEMLIMIT still bounds it.
const DefaultGOGC = 400

// gcPercent returns the GC percentage to set: DefaultGOGC, unless GOGC is
// set in the environment (then the runtime already applied it).
func gcPercent(lookup func(string) (string, bool)) (int, bool) {
	if _, ok := lookup("GOGC"); ok {
		return 0, false
	}
	return DefaultGOGC, true
}
