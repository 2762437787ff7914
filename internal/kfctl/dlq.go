package kfctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// deadLetter is one message of WXKF_DLQ, as dlq list shows it.
type deadLetter struct {
	Seq             uint64    `json:"seq"`
	CommandID       string    `json:"command_id"`
	Reason          string    `json:"reason"`
	ErrCode         int       `json:"errcode"`
	ErrMsg          string    `json:"errmsg"`
	Attempts        int       `json:"attempts"`
	Subject         string    `json:"subject"`
	OriginalSubject string    `json:"original_subject"`
	Time            time.Time `json:"time"`
	AgeSeconds      int64     `json:"age_seconds"`
}

func newDeadLetter(seq uint64, subject string, hdr nats.Header, at, now time.Time) deadLetter {
	d := deadLetter{Seq: seq, Subject: subject, Time: at.UTC(), AgeSeconds: int64(now.Sub(at).Seconds())}
	if hdr != nil {
		d.CommandID = hdr.Get(events.HeaderCommandID)
		d.Reason = hdr.Get(events.HeaderReason)
		d.ErrCode, _ = strconv.Atoi(hdr.Get(events.HeaderErrCode))
		d.ErrMsg = hdr.Get(events.HeaderErrMsg)
		d.Attempts, _ = strconv.Atoi(hdr.Get(events.HeaderAttempts))
		d.OriginalSubject = hdr.Get(events.HeaderOriginalSubject)
	}
	return d
}

// dlqFilter returns the subject filter of the dead letters of appid (all
// apps when "").
func dlqFilter(appid string) (string, error) {
	if appid == "" {
		return events.DeadLetterSubjects, nil
	}
	if err := events.CheckToken("appid", appid); err != nil {
		return "", err
	}
	return events.DeadLetterPrefix + appid + ".>", nil
}

// browse calls fn with every message of stream matching filter, oldest
// first, up to limit (0: all), with an ordered consumer.
func browse(ctx context.Context, js jetstream.JetStream, stream, filter string, limit int, fn func(jetstream.Msg) error) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	total := uint64(0)
	for _, n := range info.State.Subjects {
		total += n
	}
	if total == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	for seen := 0; limit == 0 || seen < limit; seen++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if err := fn(msg); err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil || md.NumPending == 0 {
			return err
		}
	}
	return nil
}

// dlqList prints the dead letters.
func (r *run) dlqList(ctx context.Context, args []string) error {
	fs := newFlags("dlq list", r.g, r.cfg.Stderr)
	appid := fs.String("appid", r.g.appid, "only this app's dead letters")
	limit := fs.Int("limit", 0, "at most this many (oldest first; 0: all)")
	if err := r.parseFlags(fs, args); err != nil {
		return err
	}
	filter, err := dlqFilter(*appid)
	if err != nil {
		return usageErr(r.cfg, err)
	}
	nc, js, err := r.connectJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	now := time.Now()
	list := []deadLetter{}
	err = browse(ctx, js, events.DeadLetterStreamName, filter, *limit, func(m jetstream.Msg) error {
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		list = append(list, newDeadLetter(md.Sequence.Stream, m.Subject(), m.Headers(), md.Timestamp, now))
		return nil
	})
	if err != nil {
		return err
	}
	if r.g.json {
		return writeJSON(r.out, list)
	}
	t := newTable(r.out, "SEQ", "COMMAND_ID", "REASON", "ERRCODE", "SUBJECT", "AGE")
	for _, d := range list {
		t.row(d.Seq, d.CommandID, d.Reason, d.ErrCode, d.OriginalSubject, age(now, d.Time))
	}
	return t.flush()
}

// replayed is the outcome of replaying one dead letter.
type replayed struct {
	Seq       uint64 `json:"seq"`
	CommandID string `json:"command_id"`
	NewID     string `json:"new_id"`
	Subject   string `json:"subject"`
	// Status is published, or duplicate when this replay was published
	// before (within the command stream's duplicate window).
	Status string `json:"status"`
}

// replaySuffix marks a replayed command's id: <command id>:replay:<n>.
const replaySuffix = ":replay:"

// ReplayID returns the command id a replay of a dead-lettered command with
// id gets: <id>:replay:1, or, for a replay that failed again,
// <original id>:replay:<n+1>. The same dead letter always gets the same
// id, so replaying it twice does not send twice.
func ReplayID(id string) string {
	base, n := id, 0
	if i := strings.LastIndex(id, replaySuffix); i >= 0 {
		if k, err := strconv.Atoi(id[i+len(replaySuffix):]); err == nil && k > 0 {
			base, n = id[:i], k
		}
	}
	return base + replaySuffix + strconv.Itoa(n+1)
}

// replayMsg builds the command that replays dead letter m: its body and
// headers without the Nats-* and Kfbridge-* ones, with the new id as
// Nats-Msg-Id and, for a structured event, as its id.
func replayMsg(m *jetstream.RawStreamMsg) (*nats.Msg, replayed, error) {
	rep := replayed{Seq: m.Sequence}
	if m.Header != nil {
		rep.CommandID = m.Header.Get(events.HeaderCommandID)
		rep.Subject = m.Header.Get(events.HeaderOriginalSubject)
	}
	if rep.CommandID == "" || rep.Subject == "" {
		return nil, rep, fmt.Errorf("dead letter %d has no %s or %s header", m.Sequence, events.HeaderCommandID, events.HeaderOriginalSubject)
	}
	if _, _, err := events.ParseCommandSubject(rep.Subject); err != nil {
		return nil, rep, fmt.Errorf("dead letter %d: %w", m.Sequence, err)
	}
	rep.NewID = ReplayID(rep.CommandID)
	if len(rep.NewID) > events.MaxCommandIDLength {
		return nil, rep, fmt.Errorf("dead letter %d: replay id of %q is over %d bytes", m.Sequence, rep.CommandID, events.MaxCommandIDLength)
	}
	out := nats.NewMsg(rep.Subject)
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Nats-") || strings.HasPrefix(k, "Kfbridge-") {
			continue
		}
		out.Header[k] = v
	}
	out.Header.Set(nats.MsgIdHdr, rep.NewID)
	out.Data = m.Data
	var ev map[string]json.RawMessage
	if json.Unmarshal(m.Data, &ev) == nil && ev["specversion"] != nil {
		id, _ := json.Marshal(rep.NewID)
		ev["id"] = id
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, rep, err
		}
		out.Data = b
	}
	return out, rep, nil
}

// dlqReplay republishes dead letters to their original subjects.
func (r *run) dlqReplay(ctx context.Context, args []string) error {
	fs := newFlags("dlq replay", r.g, r.cfg.Stderr)
	all := fs.Bool("all", false, "replay every dead letter (of --appid)")
	appid := fs.String("appid", r.g.appid, "with --all: only this app's dead letters")
	pos, err := r.parse(fs, args)
	if err != nil {
		return err
	}
	var seqs []uint64
	for _, p := range pos {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || n == 0 {
			return usageErr(r.cfg, fmt.Errorf("dlq replay: %q is not a sequence number", p))
		}
		seqs = append(seqs, n)
	}
	if *all == (len(seqs) > 0) {
		return usageErr(r.cfg, errors.New("dlq replay needs sequence numbers (dlq list shows them) or --all"))
	}
	filter, err := dlqFilter(*appid)
	if err != nil {
		return usageErr(r.cfg, err)
	}
	nc, js, err := r.connectJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	stream, err := js.Stream(ctx, events.DeadLetterStreamName)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.DeadLetterStreamName, err)
	}
	if *all {
		err := browse(ctx, js, events.DeadLetterStreamName, filter, 0, func(m jetstream.Msg) error {
			md, err := m.Metadata()
			if err == nil {
				seqs = append(seqs, md.Sequence.Stream)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	var done []replayed
	var errs []error
	for _, seq := range seqs {
		raw, err := stream.GetMsg(ctx, seq)
		if err != nil {
			errs = append(errs, fmt.Errorf("dead letter %d: %w", seq, err))
			continue
		}
		msg, rep, err := replayMsg(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			errs = append(errs, fmt.Errorf("dead letter %d: publish %s: %w", seq, rep.Subject, err))
			continue
		}
		rep.Status = "published"
		if ack.Duplicate {
			rep.Status = "duplicate"
		}
		done = append(done, rep)
	}
	if r.g.json {
		if done == nil {
			done = []replayed{}
		}
		if err := writeJSON(r.out, done); err != nil {
			return err
		}
	} else {
		t := newTable(r.out, "SEQ", "COMMAND_ID", "NEW_ID", "SUBJECT", "STATUS")
		for _, d := range done {
			t.row(d.Seq, d.CommandID, d.NewID, d.Subject, d.Status)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}
