// Command naive-ingress serves the naive baseline pipeline (package naive)
// for the demo app on an embedded JetStream server, so that a load tool can
// measure it exactly as it measures the real ingress:
//
//	go run ./bench/naive/cmd/naive-ingress --listen 127.0.0.1:18081
//	PUSHES=/tmp/pushes.txt wrk -t1 -c64 -d10s -s bench/wrk/push.lua http://127.0.0.1:18081
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/kfbridge/kfbridge/bench/naive"
	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/demo"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18081", "HTTP listen address")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "naive-ingress:", err)
		os.Exit(1)
	}
}

func run(listen string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := config.Default().NATS
	cfg.Embedded.Listen = "127.0.0.1:-1"
	dir, err := os.MkdirTemp("", "naive-ingress-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.Embedded.StoreDir = dir
	b, err := broker.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.Close(context.Background())
	if err := b.EnsureStreams(ctx, cfg.Streams); err != nil {
		return err
	}
	p, err := naive.New(b.JS, demo.AppID, demo.Token, demo.EncodingAESKey)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: listen, Handler: p.Router()}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
