package kfctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

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

// tailOpts are the flags of tail.
type tailOpts struct {
	events, results, all bool
	appid, subject       string
	limit                int
}

// tailCmd is kfctl tail.
func (r *run) tailCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print events (wxkf.in.>) and/or results (wxkf.result.>) as they arrive",
		Long: `Tail prints one line per inbound event on ` + events.InboundSubjects + ` (the default, or --events),
per result on ` + events.ResultSubjects + ` (--results), or both (--events --results), until
Ctrl-C or --limit messages: stream sequence, stored time, subject, then the
event's id and what the user sent, or the result's command, verb, outcome and
errcode. --subject picks the stream by its prefix. With --json each message's
body is printed as is, one per line (JSON Lines).`,
		Example: `  kfctl tail --appid wx0123456789abcdef
  kfctl tail --results --all --json | jq .data.outcome
  kfctl tail --events --results
  kfctl tail --subject 'wxkf.result.*.*.*.failed'`,
		Args: r.noArgs,
	}
	var o tailOpts
	fs := cmd.Flags()
	fs.BoolVar(&o.events, "events", false, "the inbound events on "+events.InboundSubjects+" (the default)")
	fs.BoolVar(&o.results, "results", false, "the results on "+events.ResultSubjects)
	appid := r.appidFlag(cmd, "only this app's messages")
	fs.StringVar(&o.subject, "subject", "", "subject filter within "+events.InboundSubjects+" or "+events.ResultSubjects)
	fs.BoolVar(&o.all, "all", false, "start at the beginning of the stream, not with the next new message")
	fs.IntVar(&o.limit, "limit", 0, "stop after this many messages (0: until interrupted)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o.appid = appid()
		return r.tail(cmd, o)
	}
	return cmd
}

// tailTargets returns what tail reads, with the subject filter of each.
func tailTargets(o tailOpts) ([]tailTarget, []string, error) {
	var targets []tailTarget
	switch {
	case o.subject != "" && o.events && o.results:
		return nil, nil, errors.New("tail: --subject reads one stream; drop --events or --results")
	case o.subject != "" && !o.events && !o.results:
		if strings.HasPrefix(o.subject, events.ResultPrefix) || o.subject == events.ResultSubjects {
			targets = []tailTarget{tailResults}
		} else {
			targets = []tailTarget{tailInbound}
		}
	case o.results && o.events:
		targets = []tailTarget{tailInbound, tailResults}
	case o.results:
		targets = []tailTarget{tailResults}
	default:
		targets = []tailTarget{tailInbound}
	}
	filters := make([]string, len(targets))
	for i, t := range targets {
		f, err := t.filter(o.appid, o.subject)
		if err != nil {
			return nil, nil, err
		}
		filters[i] = f
	}
	return targets, filters, nil
}

// tail prints the events of the inbound stream and/or the results as they
// arrive, one line each, until ctx ends or --limit lines are printed.
func (r *run) tail(cmd *cobra.Command, o tailOpts) error {
	ctx := cmd.Context()
	if o.limit < 0 {
		return r.usageErr(cmd, fmt.Errorf("tail: limit %d: want 0 or more", o.limit))
	}
	targets, filters, err := tailTargets(o)
	if err != nil {
		return r.usageErr(cmd, err)
	}
	nc, js, err := r.connectJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	deliver := jetstream.DeliverNewPolicy
	if o.all {
		deliver = jetstream.DeliverAllPolicy
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	type line struct {
		msg    jetstream.Msg
		target tailTarget
	}
	lines := make(chan line)
	errs := make(chan error, len(targets))
	var readers sync.WaitGroup
	for i, target := range targets {
		setupCtx, cancel := r.withTimeout(ctx)
		cons, err := js.OrderedConsumer(setupCtx, target.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{filters[i]},
			DeliverPolicy:  deliver,
		})
		cancel()
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
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				msg, err := it.Next(jetstream.NextContext(ctx))
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("kfctl: tail %s: %w", filters[i], err)
					}
					return
				}
				select {
				case lines <- line{msg, target}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer readers.Wait()
	defer stop()
	var buf bytes.Buffer
	for n := 0; o.limit == 0 || n < o.limit; n++ {
		var l line
		select {
		case l = <-lines:
		case err := <-errs:
			return err
		case <-ctx.Done():
			return nil
		}
		buf.Reset()
		if r.g.json {
			buf.Write(bytes.TrimSpace(l.msg.Data()))
		} else {
			appendPrefix(&buf, l.msg)
			l.target.line(&buf, l.msg.Data())
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
	if b := d.ReplyBudget; b != nil {
		fmt.Fprintf(buf, " reply_budget=%d/%s", b.Remaining, b.ExpiresAt.UTC().Format(time.RFC3339))
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
	if d.Parts > 0 {
		fmt.Fprintf(buf, " parts_sent=%d/%d", d.PartsSent, d.Parts)
	}
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
