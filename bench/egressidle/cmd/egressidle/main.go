// Command egressidle runs issue 11's idle-cost measurement (see package
// bench/egressidle) and prints its report:
//
//	go run ./bench/egressidle/cmd/egressidle -duration 30s
//	go run ./bench/egressidle/cmd/egressidle -server process   # NATS server in a child process
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kfbridge/kfbridge/bench/egressidle"
	"github.com/kfbridge/kfbridge/bench/internal/benchcmd"
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
	benchcmd.Run("egressidle", func(ctx context.Context, logger *slog.Logger) (egressidle.Report, error) {
		cfg.Logger = logger
		return egressidle.Run(ctx, cfg)
	})
}
