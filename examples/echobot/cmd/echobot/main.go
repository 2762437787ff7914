// Command echobot runs the example bot against a kfbridge NATS server.
//
//	go run ./examples/echobot/cmd/echobot --nats nats://127.0.0.1:4222
//
// With nats.embedded.users, give it its bot account; it then uses the
// consumers the bridge made for that user (by default named <user>):
//
//	ECHOBOT_PASSWORD=… go run ./examples/echobot/cmd/echobot --user echobot
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
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/examples/echobot"
)

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS server URL")
	user := flag.String("user", "", "bot account (password in $ECHOBOT_PASSWORD); also the consumer name")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := []nats.Option{nats.Name("echobot")}
	name := "echobot"
	if *user != "" {
		opts = append(opts, nats.UserInfo(*user, os.Getenv("ECHOBOT_PASSWORD")))
		name = *user
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echobot:", err)
		os.Exit(1)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echobot:", err)
		os.Exit(1)
	}
	if err := echobot.Run(ctx, js, echobot.Options{Logger: logger, Name: name}); err != nil {
		logger.Error("echobot stopped", "err", err)
		os.Exit(1)
	}
}
