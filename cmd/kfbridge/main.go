// Command kfbridge runs the whole bridge in one process: ingress, egress,
// and an embedded NATS server with JetStream unless nats.url names one.
//
//	kfbridge --demo              # zero setup: demo app, simulated WeChat, echo bot
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
	"github.com/kfbridge/kfbridge/internal/playground"
)

func main() {
	configPath := flag.String("config", "", "YAML configuration file (KFBRIDGE_… environment variables override it)")
	demoMode := flag.Bool("demo", false, "add the demo app, a simulated WeChat API and an echo bot; embedded NATS in a temporary directory")
	flag.Parse()

	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfbridge:", err)
		os.Exit(2)
	}
	if *demoMode {
		cfg.Log.Format = "text"
	}
	logger := cfg.Log.NewLogger(os.Stderr)
	opts := bridge.Options{Logger: logger, Name: "kfbridge", Ingress: true, Egress: true}
	closeDemo := func() {}
	if *demoMode {
		pg, err := playground.New(cfg, playground.Options{Logger: logger})
		if err != nil {
			fmt.Fprintln(os.Stderr, "kfbridge:", err)
			os.Exit(2)
		}
		closeDemo = pg.Close
		opts.Extra = pg.Run
		opts.OnReady = func(ends bridge.Endpoints) { pg.PrintBanner(os.Stdout, ends) }
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = bridge.Run(ctx, cfg, opts)
	stop()
	closeDemo()
	if err != nil {
		logger.Error("kfbridge stopped", slog.Any("err", err))
		os.Exit(1)
	}
}
