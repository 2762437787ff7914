package bridge

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"go.opentelemetry.io/otel"

	"github.com/kfbridge/kfbridge/internal/buildinfo"
	"github.com/kfbridge/kfbridge/internal/config"
)

// Prepare adjusts a binary's configuration and options after loading and
// before running (e.g. the demo); cleanup runs after Run returns.
type Prepare func(cfg *config.Config, opts *Options) (cleanup func(), err error)

// Main is the whole main function of kfbridge's binaries: it parses
// --config (and any flags the binary defined before calling it), loads the
// configuration with KFBRIDGE_… overrides, checks it ([Preflight], and the
// listen addresses), runs the parts in opts until SIGINT or SIGTERM, and
// exits 2 on a bad configuration (one line per problem) and 1 on failure.
// With the argument check (`kfbridge check --config FILE`) it loads and
// checks only, starting nothing: exit 0 with a short summary, or 2 with one
// line per problem.
func Main(name string, opts Options, prepare Prepare) {
	os.Exit(mainCode(name, flag.CommandLine, os.Args[1:], os.Environ(), os.Stdout, os.Stderr, opts, prepare))
}

// mainCode is [Main] with its inputs and outputs explicit; it returns the
// exit code.
func mainCode(name string, fs *flag.FlagSet, args, environ []string, stdout, stderr io.Writer, opts Options, prepare Prepare) int {
	configPath := fs.String("config", "", "YAML configuration file (KFBRIDGE_… environment variables override it)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]         run\n       %s check [flags]   check the configuration and the listen addresses, start nothing\n", name, name)
		fs.PrintDefaults()
	}
	check, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		fs.Usage()
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, name, buildinfo.Read())
		return 0
	}
	cfg, err := LoadConfig(*configPath, environ)
	if err != nil {
		PrintProblems(stderr, name, err)
		return 2
	}
	cleanup := func() {}
	if prepare != nil {
		if cleanup, err = prepare(cfg, &opts); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
	}
	defer cleanup()
	if err := Check(cfg, opts); err != nil {
		PrintProblems(stderr, name, err)
		return 2
	}
	if check {
		src := *configPath
		if src == "" {
			src = "defaults and environment"
		}
		fmt.Fprintf(stdout, "%s: configuration OK (%s)\n%s", name, src, Summary(cfg, opts))
		return 0
	}
	logger := cfg.Log.NewLogger(stderr)
	// The OpenTelemetry SDK reports export failures (a collector down)
	// through its process-wide handler: into this process's JSON log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("trace export", "err", err)
	}))
	if gogc, ok := gcPercent(lookupIn(environ)); ok {
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
	if err != nil {
		logger.Error(name+" stopped", slog.Any("err", err))
		return 1
	}
	return 0
}

// parseArgs parses the flags in args, before or after the optional check
// command, and reports whether it was given. Any other argument is an error.
func parseArgs(fs *flag.FlagSet, args []string) (check bool, err error) {
	if len(args) > 0 && args[0] == "check" {
		check, args = true, args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if !check && fs.NArg() > 0 && fs.Arg(0) == "check" {
		check = true
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return false, err
		}
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return check, nil
}

// lookupIn looks variables up in environ (os.Environ's form; the last
// of duplicates wins, as in os.Getenv).
func lookupIn(environ []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
				return v, true
			}
		}
		return "", false
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
