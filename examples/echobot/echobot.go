// Package echobot is a small customer-service bot of the kind a team writes
// in any language against kfbridge: it reads pushes from the WXKF_IN stream
// with a durable consumer, and answers each user message by publishing
// commands — "typing", then the reply — on wxkf.out.…; it stays quiet on
// messages of a conversation handed to human agents (data.handled_by
// human_pending). It also reads the results of its commands. It needs nothing but NATS and JSON.
//
// # Usage
//
//	err := echobot.Run(ctx, js, echobot.Options{Logger: logger})
//
// # Concurrency
//
// Run consumes until ctx ends, then drains its consumers and returns.
//
// # Errors
//
// A push it cannot read is acknowledged and skipped (logged); a command it
// cannot publish is left unacknowledged, so JetStream redelivers the push.
package echobot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// Options configures the bot.
type Options struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// Name is the durable consumer name, on WXKF_IN and on WXKF_RESULT.
	// Default "echobot". A bot account of the embedded server uses the
	// consumers the bridge made from its nats.embedded.users entry (by
	// default named after the user); elsewhere Run creates them.
	Name string
}

// Run runs the bot until ctx ends.
func Run(ctx context.Context, js jetstream.JetStream, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := opts.Name
	if name == "" {
		name = "echobot"
	}
	in, err := consumer(ctx, js, events.InboundStreamName, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: events.InboundSubjects,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckWait:       30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("echobot: %w", err)
	}
	results, err := consumer(ctx, js, events.ResultStreamName, jetstream.ConsumerConfig{
		Durable:       name, // another stream: the same name is another consumer
		FilterSubject: events.ResultSubjects,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("echobot: %w", err)
	}
	pushes, err := in.Consume(func(m jetstream.Msg) { answer(ctx, js, m, logger) })
	if err != nil {
		return err
	}
	outcomes, err := results.Consume(func(m jetstream.Msg) {
		if r, err := events.ParseResult(m.Data()); err == nil {
			logger.Info("echobot: result", "command_id", r.Data.CommandID, "outcome", r.Data.Outcome,
				"errcode", r.Data.ErrCode, "reason", r.Data.Reason)
		}
		m.Ack()
	})
	if err != nil {
		pushes.Stop()
		return err
	}
	logger.Info("echobot running", "consumer", name)
	<-ctx.Done()
	pushes.Drain()
	outcomes.Drain()
	<-pushes.Closed()
	<-outcomes.Closed()
	return nil
}

// consumer returns the durable consumer cfg.Durable on stream: the one the
// operator configured, or, where the bot may create consumers (a NATS
// without bot accounts), a new one with cfg. A bot account of the embedded
// server can create none: the bridge creates the consumers its
// nats.embedded.users entry lists.
func consumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		c, err = js.CreateOrUpdateConsumer(ctx, stream, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s (is it listed in the bot's nats.embedded.users or nats.bots entry?): %w", cfg.Durable, stream, err)
	}
	return c, nil
}

// answer replies to one push.
func answer(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, logger *slog.Logger) {
	ev, err := events.ParseInbound(m.Data())
	if err != nil {
		logger.Warn("echobot: unreadable push skipped", "subject", m.Subject(), "err", err)
		m.Ack()
		return
	}
	d := ev.Data
	if d.HandledBy == events.HandledByHumanPending {
		// Handed to human agents in the last 30 minutes: the user is
		// queued for an agent (or one closed the session); stay quiet.
		logger.Info("echobot: conversation with human agents; not answering", "subject", m.Subject())
		m.Ack()
		return
	}
	var reply string
	switch {
	case d.Text != nil:
		reply = "echo: " + d.Text.Content
	case d.Image != nil:
		reply = "Nice picture!"
	case d.MiniProgramPage != nil:
		reply = "Thanks for sharing “" + d.MiniProgramPage.Title + "”."
	case d.Event != nil && d.Event.Name == events.EventUserEnterTempSession:
		reply = "Hi! I am the kfbridge echo bot. Send me anything."
	default:
		m.Ack() // nothing to say
		return
	}
	conv := events.Conversation{AppID: d.AppID, BusinessID: d.BusinessID, OpenID: ev.Subject}
	// Continue the push's trace on the commands.
	trace := m.Headers().Get(events.HeaderTraceParent)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if d.Event == nil {
		// Typing first: the egress keeps a conversation's commands in order.
		if err := publish(ctx, js, conv, events.VerbTyping, "typing-"+ev.ID, events.TypingData{Command: events.TypingOn}, trace); err != nil {
			logger.Warn("echobot: typing not published", "err", err)
		}
	}
	data := events.SendData{MsgType: "text", Text: &events.SendText{Content: reply}}
	if err := publish(ctx, js, conv, events.VerbSend, "echo-"+ev.ID, data, trace); err != nil {
		logger.Warn("echobot: reply not published; the push will be redelivered", "err", err)
		m.NakWithDelay(time.Second)
		return
	}
	m.Ack()
}

// publish sends one command as a structured CloudEvent; its id doubles as
// Nats-Msg-Id, so a redelivered push does not produce a second reply.
func publish(ctx context.Context, js jetstream.JetStream, conv events.Conversation, verb, id string, data any, trace string) error {
	msg, err := events.NewCommandMsg(conv, verb, id, "/examples/echobot", data, trace)
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(ctx, msg)
	return err
}
