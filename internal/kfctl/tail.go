package kfctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// tailTarget is what tail reads: the inbound events or the results.
type tailTarget struct {
	stream, prefix, all string
	line                func(buf *bytes.Buffer, body []byte)
}

var (
	tailInbound = tailTarget{events.InboundStreamName, events.InboundPrefix, events.InboundSubjects, inboundLine}
	tailResults = tailTarget{events.ResultStreamName, events.ResultPrefix, events.ResultSubjects, resultLine}
)

// filter returns the subject filter of tail's flags: subject (within the
// target's subjects), else appid's subjects, else all of them.
func (t tailTarget) filter(appid, subject string) (string, error) {
	switch {
	case subject != "" && appid != "":
		return "", errors.New("tail: --subject and --appid exclude each other")
	case subject != "":
		if subject == t.all {
			return subject, nil
		}
		rest, ok := strings.CutPrefix(subject, t.prefix)
		if !ok || rest == "" || strings.ContainsAny(rest, " \t\r\n") {
			return "", fmt.Errorf("tail: subject %q is not within %s", subject, t.all)
		}
		return subject, nil
	case appid != "":
		if err := events.CheckToken("appid", appid); err != nil {
			return "", err
		}
		return t.prefix + appid + ".>", nil
	}
	return t.all, nil
}

// tail prints the events of the inbound stream (or, with --results, the
// results) as they arrive, one line each, until ctx ends or --limit lines
// are printed.
func (r *run) tail(ctx context.Context, args []string) error {
	fs := newFlags("tail", r.g, r.cfg.Stderr)
	results := fs.Bool("results", false, "the results on "+events.ResultSubjects+" instead of the events on "+events.InboundSubjects)
	appid := fs.String("appid", r.g.appid, "only this app's events")
	subject := fs.String("subject", "", "subject filter within the stream's subjects")
	all := fs.Bool("all", false, "start at the beginning of the stream, not with the next new event")
	limit := fs.Int("limit", 0, "stop after this many events (0: until interrupted)")
	if err := r.parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 0 {
		return usageErr(r.cfg, fmt.Errorf("tail: limit %d: want 0 or more", *limit))
	}
	target := tailInbound
	if *results {
		target = tailResults
	}
	filter, err := target.filter(*appid, *subject)
	if err != nil {
		return usageErr(r.cfg, err)
	}
	nc, js, err := r.connectJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	deliver := jetstream.DeliverNewPolicy
	if *all {
		deliver = jetstream.DeliverAllPolicy
	}
	setupCtx, cancel := r.withTimeout(ctx)
	defer cancel()
	cons, err := js.OrderedConsumer(setupCtx, target.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  deliver,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("kfctl: stream %s on %s (is kfbridge running?): %w", target.stream, redact(r.g.url), err)
		}
		return fmt.Errorf("kfctl: read stream %s: %w", target.stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("kfctl: read stream %s: %w", target.stream, err)
	}
	defer it.Stop()
	var buf bytes.Buffer
	for n := 0; *limit == 0 || n < *limit; n++ {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kfctl: tail %s: %w", filter, err)
		}
		buf.Reset()
		if r.g.json {
			buf.Write(bytes.TrimSpace(msg.Data()))
		} else {
			appendPrefix(&buf, msg)
			target.line(&buf, msg.Data())
		}
		buf.WriteByte('\n')
		if _, err := r.out.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("kfctl: write event: %w", err)
		}
	}
	return nil
}

// appendPrefix writes what every line of tail starts with: the stream
// sequence, the time the stream stored the message and its subject.
func appendPrefix(buf *bytes.Buffer, msg jetstream.Msg) {
	if md, err := msg.Metadata(); err == nil {
		fmt.Fprintf(buf, "%d %s ", md.Sequence.Stream, md.Timestamp.UTC().Format(time.RFC3339))
	}
	buf.WriteString(msg.Subject())
}

// inboundLine writes the rest of an inbound event's line: its id and what
// the user sent.
func inboundLine(buf *bytes.Buffer, body []byte) {
	ev, err := events.ParseInbound(body)
	if err != nil {
		fmt.Fprintf(buf, " invalid event: %v", err)
		return
	}
	d := ev.Data
	if ev.Type == events.TypeConversationTransferred {
		fmt.Fprintf(buf, " id=%s handed to human agents", ev.ID)
		return
	}
	fmt.Fprintf(buf, " id=%s %s", ev.ID, d.MsgType)
	if d.HandledBy != "" {
		buf.WriteString(" handled_by=" + d.HandledBy)
	}
	switch {
	case d.Text != nil:
		buf.WriteString(" " + quote(d.Text.Content))
	case d.Image != nil:
		buf.WriteString(" media_id=" + d.Image.MediaID)
	case d.MiniProgramPage != nil:
		buf.WriteString(" " + quote(d.MiniProgramPage.Title) + " page=" + quote(d.MiniProgramPage.PagePath))
	case d.Event != nil:
		buf.WriteString(" " + d.Event.Name)
		if d.Event.SessionFrom != "" {
			buf.WriteString(" session_from=" + quote(d.Event.SessionFrom))
		}
	}
}

// resultLine writes the rest of a result's line: the command, its verb
// and outcome with WeChat's answer.
func resultLine(buf *bytes.Buffer, body []byte) {
	ev, err := events.ParseResult(body)
	if err != nil {
		fmt.Fprintf(buf, " invalid result: %v", err)
		return
	}
	d := ev.Data
	fmt.Fprintf(buf, " command=%s %s %s errcode=%d attempts=%d", d.CommandID, d.Verb, d.Outcome, d.ErrCode, d.Attempts)
	if d.Reason != "" {
		buf.WriteString(" reason=" + d.Reason)
	}
	if d.ErrCode != 0 && d.ErrMsg != "" {
		buf.WriteString(" errmsg=" + quote(d.ErrMsg))
	}
}

// maxQuoted is how many characters of a text tail shows.
const maxQuoted = 80

// quote returns s as a Go string literal, cut to maxQuoted characters, so
// a line never breaks.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxQuoted {
		s = string([]rune(s)[:maxQuoted]) + "…"
	}
	return strconv.Quote(s)
}
