package wxsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TailConfig configures [RunTail] (wxsim tail). The zero value prints the
// new pushes arriving at the demo's NATS.
type TailConfig struct {
	// NATSURL is the NATS server (default [demo.NATSURL]).
	NATSURL string
	// Subject filters the stream (default [events.InboundSubjects]).
	Subject string
	// All starts at the beginning of the stream instead of with the next
	// new event.
	All bool
	// Raw prints each event's body (the CloudEvent JSON) on one line and
	// nothing else, for jq and other JSON Lines tools.
	Raw bool
	// Logger receives connection events (default: discard).
	Logger *slog.Logger
}

func (c *TailConfig) setDefaults() {
	if c.NATSURL == "" {
		c.NATSURL = demo.NATSURL
	}
	if c.Subject == "" {
		c.Subject = events.InboundSubjects
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports a problem of c (after defaults), wrapped in [ErrInvalid].
func (c *TailConfig) Validate() error {
	if c.Subject != events.InboundSubjects && !subjectWithin(c.Subject, events.InboundPrefix) {
		return fmt.Errorf("%w: subject %q is not within %s", ErrInvalid, c.Subject, events.InboundSubjects)
	}
	return nil
}

// subjectWithin reports whether subject (or wildcard) starts with prefix,
// has more after it and no white space; NATS checks the rest.
func subjectWithin(subject, prefix string) bool {
	rest, ok := strings.CutPrefix(subject, prefix)
	return ok && rest != "" && !strings.ContainsAny(rest, " \t\r\n")
}

// RunTail reads the inbound stream ([events.InboundStreamName]) with an
// ordered consumer and writes every event to w: its subject, stream
// sequence and Nats-Msg-Id on one line, then the CloudEvent as indented
// JSON (cfg.Raw: only the JSON, one line per event). A body that is not a
// valid kfbridge event is printed as is, after a "# invalid event" line.
//
// It returns nil when ctx ends, and an error when NATS cannot be reached,
// the stream does not exist ([jetstream.ErrStreamNotFound]: is kfbridge
// running?), the connection is lost for good or w fails.
func RunTail(ctx context.Context, cfg TailConfig, w io.Writer) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := cfg.Logger
	nc, err := nats.Connect(cfg.NATSURL,
		nats.Name("wxsim tail"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}))
	if err != nil {
		return fmt.Errorf("connect %s: %w", cfg.NATSURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	deliver := jetstream.DeliverNewPolicy
	if cfg.All {
		deliver = jetstream.DeliverAllPolicy
	}
	setupCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(setupCtx, events.InboundStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{cfg.Subject},
		DeliverPolicy:  deliver,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("stream %s on %s (is kfbridge running?): %w", events.InboundStreamName, cfg.NATSURL, err)
		}
		return fmt.Errorf("consume stream %s: %w", events.InboundStreamName, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume stream %s: %w", events.InboundStreamName, err)
	}
	defer it.Stop()
	logger.Info("tailing", "stream", events.InboundStreamName, "subject", cfg.Subject, "all", cfg.All)

	var buf bytes.Buffer
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tail %s: %w", cfg.Subject, err)
		}
		buf.Reset()
		appendEvent(&buf, msg, cfg.Raw)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
	}
}

// appendEvent formats one message for [RunTail].
func appendEvent(buf *bytes.Buffer, msg jetstream.Msg, raw bool) {
	body := msg.Data()
	if raw {
		buf.Write(bytes.TrimSpace(body))
		buf.WriteByte('\n')
		return
	}
	buf.WriteString(msg.Subject())
	if md, err := msg.Metadata(); err == nil {
		fmt.Fprintf(buf, "  seq=%d", md.Sequence.Stream)
	}
	if id := msg.Headers().Get(events.HeaderMsgID); id != "" {
		fmt.Fprintf(buf, "  msg_id=%s", id)
	}
	buf.WriteByte('\n')
	if _, err := events.ParseInbound(body); err != nil {
		fmt.Fprintf(buf, "# invalid event: %v\n", err)
	}
	n := buf.Len()
	if err := json.Indent(buf, body, "", "  "); err != nil {
		buf.Truncate(n)
		buf.Write(body)
	}
	buf.WriteByte('\n')
}
