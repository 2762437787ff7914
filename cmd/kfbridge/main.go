// Command kfbridge runs the whole bridge in one process: the ingress, and an
// embedded NATS server with JetStream unless nats.url names one.
//
//	kfbridge --demo              # zero setup: demo app, embedded NATS
//	kfbridge --config kfbridge.yaml
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
	"github.com/kfbridge/kfbridge/internal/demo"
)

func main() {
	configPath := flag.String("config", "", "YAML configuration file (KFBRIDGE_… environment variables override it)")
	demoMode := flag.Bool("demo", false, "run with the demo app and an embedded NATS in a temporary directory")
	flag.Parse()

	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfbridge:", err)
		os.Exit(2)
	}
	cleanup := func() {}
	if *demoMode {
		cfg.Log.Format = "text"
		if cleanup, err = demo.Configure(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "kfbridge:", err)
			os.Exit(2)
		}
	}
	logger := cfg.Log.NewLogger(os.Stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = bridge.Run(ctx, cfg, bridge.Options{
		Logger:  logger,
		Name:    "kfbridge",
		Ingress: true,
		Egress:  true,
		OnReady: func(ends bridge.Endpoints) {
			if *demoMode {
				demo.PrintBanner(os.Stdout, ends.Ingress, ends.NATS)
			}
		},
	})
	stop()
	cleanup()
	if err != nil {
		logger.Error("kfbridge stopped", slog.Any("err", err))
		os.Exit(1)
	}
}
