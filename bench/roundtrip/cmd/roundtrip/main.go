// Command roundtrip runs issue 11's open-loop round-trip measurement (see
// package bench/roundtrip) and prints its report:
//
//	go run ./bench/roundtrip/cmd/roundtrip -rate 200 -duration 10s
package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/kfbridge/kfbridge/bench/internal/benchcmd"
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
	flag.DurationVar(&cfg.DiskProbe, "disk-probe", 2*time.Second, "time the store directory's fsync this long before the run (negative: not)")
	benchcmd.Run("roundtrip", func(ctx context.Context, logger *slog.Logger) (roundtrip.Report, error) {
		cfg.Logger = logger
		return roundtrip.Run(ctx, cfg)
	})
}
