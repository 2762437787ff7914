// Command ingress receives WeChat's pushes over HTTP and publishes them to
// JetStream. It is kfbridge without the egress, for scaling the two apart;
// point nats.url at the shared NATS (with it empty, it runs an embedded one).
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
		fmt.Fprintln(os.Stderr, "ingress:", err)
		os.Exit(2)
	}
	logger := cfg.Log.NewLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = bridge.Run(ctx, cfg, bridge.Options{Logger: logger, Name: "kfbridge-ingress", Ingress: true})
	stop()
	if err != nil {
		logger.Error("ingress stopped", slog.Any("err", err))
		os.Exit(1)
	}
}
