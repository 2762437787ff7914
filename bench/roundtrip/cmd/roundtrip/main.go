// Command roundtrip runs issue 11's open-loop round-trip measurement (see
// package bench/roundtrip) and prints its report:
//
//	go run ./bench/roundtrip/cmd/roundtrip -rate 200 -duration 10s
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

	"github.com/kfbridge/kfbridge/bench/roundtrip"
)

func main() {
	var cfg roundtrip.Config
	flag.Float64Var(&cfg.Rate, "rate", 200, "pushes per second (open loop)")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long pushes are scheduled")
	flag.DurationVar(&cfg.Warmup, "warmup", time.Second, "first part of the run sent but not measured (negative: none)")
	flag.IntVar(&cfg.Users, "users", 200, "distinct users the pushes cycle through")
	flag.DurationVar(&cfg.Drain, "drain", 10*time.Second, "wait for the last replies at most this long")
	flag.StringVar(&cfg.Sync, "sync", "always", "embedded NATS nats.embedded.sync: always, or an interval such as 2m")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	verbose := flag.Bool("v", false, "log the bridge's warnings to stderr")
	flag.Parse()
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := roundtrip.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "roundtrip:", err)
		os.Exit(1)
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(rep) //nolint:errcheck // stdout
		return
	}
	fmt.Print(rep)
}
