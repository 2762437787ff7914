// Package handoverbot is a small bot that decides, per user message,
// whether WeChat hands it to the mini program's human customer-service
// agents. It answers the decision requests an ingress sends for apps whose
// apps[].handover.mode is bot: it hands over a text that asks for a human
// ("人工", "agent" in any case) and keeps everything else with the bots.
// It needs nothing but NATS and JSON: the request body is the inbound
// event, the answer {"transfer": true|false}.
//
// # Usage
//
//	err := handoverbot.Run(ctx, nc, handoverbot.Options{Logger: logger})
//
// # Concurrency
//
// Run answers in a queue group (replicas of the bot share the requests)
// until ctx ends, then drains its subscription and returns.
//
// # Errors
//
// A request it cannot read is answered {"transfer": false}: when unsure,
// the bots keep the conversation. Run returns an error only when it cannot
// subscribe.
package handoverbot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// Options configures the bot.
type Options struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// Queue is the queue group. Default "handoverbot".
	Queue string
}

// Wants reports whether a user message asks for a human agent: its text
// contains "人工" or, in any case, "agent".
func Wants(ev *events.InboundEvent) bool {
	t := ev.Data.Text
	if t == nil {
		return false
	}
	return strings.Contains(t.Content, "人工") || strings.Contains(strings.ToLower(t.Content), "agent")
}

// Run answers decision requests on wxkf.decide.> until ctx ends.
func Run(ctx context.Context, nc *nats.Conn, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	queue := opts.Queue
	if queue == "" {
		queue = "handoverbot"
	}
	sub, err := nc.QueueSubscribe(events.DecideSubjects, queue, func(m *nats.Msg) {
		ans := events.DecideAnswer{}
		ev, err := events.ParseInbound(m.Data)
		if err != nil {
			logger.Warn("handoverbot: unreadable request; keeping the message", "subject", m.Subject, "err", err)
		} else {
			ans.Transfer = Wants(&ev)
		}
		body, _ := json.Marshal(ans) // a struct of one bool always encodes
		if err := m.Respond(body); err != nil {
			logger.Warn("handoverbot: answer not sent", "subject", m.Subject, "err", err)
			return
		}
		logger.Info("handoverbot: decided", "subject", m.Subject, "transfer", ans.Transfer, "handled_by", ev.Data.HandledBy)
	})
	if err != nil {
		return fmt.Errorf("handoverbot: subscribe %s: %w", events.DecideSubjects, err)
	}
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("handoverbot: %w", err)
	}
	logger.Info("handoverbot running", "subject", events.DecideSubjects, "queue", queue)
	<-ctx.Done()
	return sub.Drain()
}
