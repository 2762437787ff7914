// Command egress delivers bots' reply commands from JetStream to WeChat's
// send and typing APIs and publishes their results. It is kfbridge without
// the ingress, for scaling the two apart: run several replicas against the
// shared NATS (nats.url); they share the work and keep each conversation in
// order. /healthz, /readyz and /metrics are served on egress.listen.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
)

func main() {
	configPath := flag.String("config", "", "YAML configuration file (KFBRIDGE_… environment variables override it)")
	flag.Parse()

	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "egress:", err)
		os.Exit(2)
	}
	logger := cfg.Log.NewLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = bridge.Run(ctx, cfg, bridge.Options{Logger: logger, Name: "kfbridge-egress", Egress: true})
	stop()
	if err != nil {
		logger.Error("egress stopped", slog.Any("err", err))
		os.Exit(1)
	}
}
