// Package benchcmd is the shared main of the bench/ measurement commands:
// the -json and -v flags, interrupt handling and printing the report.
package benchcmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
)

// Run parses the command line (the caller has defined its own flags on
// flag.CommandLine), runs measure until it returns or the process is
// interrupted, and prints its report as text, or as JSON with -json; it
// exits 1 when measure fails. measure gets a logger of the bridge's
// warnings to stderr with -v, nil otherwise.
func Run[R fmt.Stringer](name string, measure func(ctx context.Context, logger *slog.Logger) (R, error)) {
	asJSON := flag.Bool("json", false, "print the report as JSON")
	verbose := flag.Bool("v", false, "log the bridge's warnings to stderr")
	flag.Parse()
	var logger *slog.Logger
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := measure(ctx, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		stop()
		os.Exit(1)
	}
	if *asJSON {
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
		return
	}
	fmt.Print(rep)
}
