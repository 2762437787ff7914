// Command egressidle runs issue 11's idle-cost measurement (see package
// bench/egressidle) and prints its report:
//
//	go run ./bench/egressidle/cmd/egressidle -duration 30s
//	go run ./bench/egressidle/cmd/egressidle -server process   # NATS server in a child process
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/kfbridge/kfbridge/bench/egressidle"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == egressidle.ServeArg {
		// The child server of -server process.
		if err := egressidle.ServeNATS(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "egressidle server:", err)
			os.Exit(1)
		}
		return
	}
	var cfg egressidle.Config
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "measured window")
	flag.DurationVar(&cfg.Settle, "settle", 5*time.Second, "wait after the bridge is ready, before the window")
	flag.StringVar(&cfg.Server, "server", egressidle.ServerInProcess, "where the NATS server runs: inprocess or process")
	flag.StringVar(&cfg.Sync, "sync", "always", "nats.embedded.sync: always, or an interval such as 2m")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	verbose := flag.Bool("v", false, "log the bridge's warnings to stderr")
	flag.Parse()
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := egressidle.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "egressidle:", err)
		os.Exit(1)
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(rep) //nolint:errcheck // stdout
		return
	}
	fmt.Print(rep)
}
