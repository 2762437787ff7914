// Command handoverbot runs the example handover bot against a kfbridge
// NATS server: it hands to human agents the messages that ask for one.
//
//	go run ./examples/handoverbot/cmd/handoverbot --nats nats://127.0.0.1:4222
//
// With nats.embedded.users, give it its bot account:
//
//	HANDOVERBOT_PASSWORD=… go run ./examples/handoverbot/cmd/handoverbot --user deskbot
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/examples/handoverbot"
)

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS server URL")
	user := flag.String("user", "", "bot account (password in $HANDOVERBOT_PASSWORD)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := []nats.Option{nats.Name("handoverbot")}
	if *user != "" {
		opts = append(opts, nats.UserInfo(*user, os.Getenv("HANDOVERBOT_PASSWORD")))
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "handoverbot:", err)
		os.Exit(1)
	}
	defer nc.Drain()
	if err := handoverbot.Run(ctx, nc, handoverbot.Options{Logger: logger}); err != nil {
		logger.Error("handoverbot stopped", "err", err)
		os.Exit(1)
	}
}
