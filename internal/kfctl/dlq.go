package kfctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// dlqQuery selects dead letters: a subject filter (the server applies it)
// and the header and age filters (kfctl applies them; the stream is in
// time order, so --older-than stops the read at its cut).
type dlqQuery struct {
	appid, bid, openid   string
	reasons              []string
	errcodes             []int
	olderThan, newerThan time.Duration
}

// addFlags defines the filter flags on fs.
func (q *dlqQuery) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&q.bid, "bid", "", "only dead letters of this business_id (with --appid)")
	fs.StringVar(&q.openid, "openid", "", "only dead letters of this user (with --appid)")
	fs.StringSliceVar(&q.reasons, "reason", nil, "only these reasons (Kfbridge-Reason: window, quota, permanent, …; repeat or comma-separate)")
	fs.IntSliceVar(&q.errcodes, "errcode", nil, "only these errcodes (Kfbridge-Errcode; repeat or comma-separate)")
	fs.DurationVar(&q.olderThan, "older-than", 0, "only dead letters stored longer ago than this (e.g. 24h)")
	fs.DurationVar(&q.newerThan, "newer-than", 0, "only dead letters stored within this (e.g. 1h)")
	// --app is --appid.
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "app" {
			name = "appid"
		}
		return pflag.NormalizedName(name)
	})
}

// subject returns the server-side subject filter:
// wxkf.dlq.<appid>.<bid>.<openid>.> with * for what is not given.
func (q dlqQuery) subject() (string, error) {
	if q.appid == "" {
		if q.bid != "" || q.openid != "" {
			return "", errors.New("--bid and --openid need --appid")
		}
		return events.DeadLetterSubjects, nil
	}
	if err := events.CheckToken("appid", q.appid); err != nil {
		return "", err
	}
	if q.bid == "" && q.openid == "" {
		return events.DeadLetterPrefix + q.appid + ".>", nil
	}
	bid, openid := "*", "*"
	if q.bid != "" {
		if err := events.CheckToken("bid", q.bid); err != nil {
			return "", err
		}
		bid = q.bid
	}
	if q.openid != "" {
		if err := events.CheckToken("openid", q.openid); err != nil {
			return "", err
		}
		openid = q.openid
	}
	return events.DeadLetterPrefix + q.appid + "." + bid + "." + openid + ".>", nil
}

// check reports a query that cannot match.
func (q dlqQuery) check() error {
	if q.olderThan < 0 || q.newerThan < 0 {
		return errors.New("--older-than and --newer-than want a positive age")
	}
	if q.olderThan > 0 && q.newerThan > 0 && q.olderThan >= q.newerThan {
		return fmt.Errorf("--older-than %s and --newer-than %s match nothing", q.olderThan, q.newerThan)
	}
	_, err := q.subject()
	return err
}

// byHeaders reports whether the query filters on headers (so every dead
// letter of the subject filter must be read to count the matches).
func (q dlqQuery) byHeaders() bool { return len(q.reasons) > 0 || len(q.errcodes) > 0 }

// match reports whether dead letter d passes the header filters.
func (q dlqQuery) match(d deadLetter) bool {
	if len(q.reasons) > 0 && !slices.Contains(q.reasons, d.Reason) {
		return false
	}
	return len(q.errcodes) == 0 || slices.Contains(q.errcodes, d.ErrCode)
}

// dlqBatch is how many dead letters one pull asks for.
const dlqBatch = 1000

// scan calls fn with every dead letter of q, oldest first, stored before
// now, until fn returns false. It reads only the headers, with the subject
// filter and start time applied by the server, on an ephemeral consumer
// it deletes at the end. It returns how many of the dead letters of the
// subject filter (and --newer-than) were not read when fn stopped, for
// queries without header or --older-than filters (-1 otherwise).
func scan(ctx context.Context, js jetstream.JetStream, q dlqQuery, now time.Time, fn func(deadLetter) bool) (rest int64, err error) {
	subject, err := q.subject()
	if err != nil {
		return 0, err
	}
	s, err := js.Stream(ctx, events.DeadLetterStreamName)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", events.DeadLetterStreamName, err)
	}
	cfg := jetstream.ConsumerConfig{
		FilterSubject:     subject,
		AckPolicy:         jetstream.AckNonePolicy,
		HeadersOnly:       true,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	}
	if q.newerThan > 0 {
		start := now.Add(-q.newerThan)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := s.CreateConsumer(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", events.DeadLetterStreamName, err)
	}
	name := cons.CachedInfo().Name
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.DeleteConsumer(dctx, name)
	}()
	pending := int64(cons.CachedInfo().NumPending)
	cut := time.Time{}
	if q.olderThan > 0 {
		cut = now.Add(-q.olderThan)
	}
	exact := !q.byHeaders() && cut.IsZero()
	for pending > 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		// No wait: what is stored is there at once; a dead letter removed
		// by the stream's limits since NumPending was counted must not make
		// the pull wait for it.
		batch, err := cons.FetchNoWait(int(min(pending, dlqBatch)))
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", events.DeadLetterStreamName, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return 0, err
			}
			pending = int64(md.NumPending)
			if !cut.IsZero() && md.Timestamp.After(cut) || md.Timestamp.After(now) {
				pending = 0 // the rest is newer
				break
			}
			d := newDeadLetter(md.Sequence.Stream, m.Subject(), m.Headers(), md.Timestamp, now)
			if q.match(d) && !fn(d) {
				if exact {
					return pending, nil
				}
				return -1, nil
			}
		}
		if err := batch.Error(); err != nil {
			return 0, fmt.Errorf("read %s: %w", events.DeadLetterStreamName, err)
		}
		if got == 0 {
			break // the rest was removed (max age, max messages) meanwhile
		}
	}
	return 0, nil
}

// dlqCmd is kfctl dlq with list and replay.
func (r *run) dlqCmd() *cobra.Command {
	return r.group("dlq", "Dead letters (WXKF_DLQ): list, replay", r.dlqListCmd(), r.dlqReplayCmd())
}

// dlqListCmd is kfctl dlq list.
func (r *run) dlqListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters: why they failed, how old",
		Long: `List shows the dead letters of WXKF_DLQ, oldest first, a page of --limit (50)
at a time, and how many more match (on stderr); --all lists every one.
--appid (also --app), --bid and --openid filter by subject on the server;
--reason and --errcode filter by the Kfbridge-Reason and Kfbridge-Errcode
headers; --older-than and --newer-than by the time the dead letter was stored.`,
		Example: `  kfctl dlq list
  kfctl dlq list --app wx0123456789abcdef --reason window,quota --newer-than 24h
  kfctl dlq list --errcode 45015 --older-than 1h --limit 200
  kfctl dlq list --all --json > dead-letters.json`,
		Args: r.noArgs,
	}
	var q dlqQuery
	appid := r.appidFlag(cmd, "only this app's dead letters")
	q.addFlags(cmd.Flags())
	limit := cmd.Flags().Int("limit", 50, "at most this many dead letters (oldest first)")
	all := cmd.Flags().Bool("all", false, "every matching dead letter, no --limit")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		q.appid = appid()
		if *limit < 1 {
			return r.usageErr(cmd, fmt.Errorf("dlq list: limit %d: want 1 or more (--all for no limit)", *limit))
		}
		if *all {
			*limit = 0
		}
		if err := q.check(); err != nil {
			return r.usageErr(cmd, fmt.Errorf("dlq list: %w", err))
		}
		return r.dlqList(cmd.Context(), q, *limit)
	}
	return cmd
}

// dlqList prints the dead letters of q, at most limit (0: all), and how
// many more match.
func (r *run) dlqList(ctx context.Context, q dlqQuery, limit int) error {
	nc, js, err := r.connectJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	now := time.Now()
	list := []deadLetter{}
	more := int64(0)
	rest, err := scan(ctx, js, q, now, func(d deadLetter) bool {
		if limit > 0 && len(list) == limit {
			more++
			// Without header or --older-than filters, the server's count
			// of the rest is exact: stop at the page.
			return q.byHeaders() || q.olderThan > 0
		}
		list = append(list, d)
		return true
	})
	if err != nil {
		return err
	}
	if rest > 0 {
		more += rest
	}
	if r.g.json {
		err = writeJSON(r.out, list)
	} else {
		t := newTable(r.out, "SEQ", "COMMAND_ID", "REASON", "ERRCODE", "SUBJECT", "AGE")
		for _, d := range list {
			t.row(d.Seq, d.CommandID, d.Reason, d.ErrCode, d.OriginalSubject, age(now, d.Time))
		}
		err = t.flush()
	}
	if more > 0 {
		fmt.Fprintf(r.cfg.Stderr, "kfctl: %d more dead letters match; --limit N or --all shows them\n", more)
	}
	return err
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

// dlqReplayCmd is kfctl dlq replay.
func (r *run) dlqReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay (<seq>... | --all [filters])",
		Short: "Republish dead letters to their original subjects",
		Long: `Replay republishes dead letters, by stream sequence (dlq list shows them) or
every one matching the filters with --all, on their Kfbridge-Original-Subject
with the command id <id>:replay:<n>; replaying a dead letter twice gives the
same id, so the second is dropped as a duplicate instead of sent twice.`,
		Example: `  kfctl dlq replay 42 43
  kfctl dlq replay --all --app wx0123456789abcdef --reason window
  kfctl dlq replay --all --errcode 45015 --newer-than 2h --json`,
	}
	var q dlqQuery
	appid := r.appidFlag(cmd, "with --all: only this app's dead letters")
	q.addFlags(cmd.Flags())
	all := cmd.Flags().Bool("all", false, "replay every dead letter matching the filters")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		q.appid = appid()
		var seqs []uint64
		for _, p := range args {
			n, err := strconv.ParseUint(p, 10, 64)
			if err != nil || n == 0 {
				return r.usageErr(cmd, fmt.Errorf("dlq replay: %q is not a sequence number", p))
			}
			seqs = append(seqs, n)
		}
		if *all == (len(seqs) > 0) {
			return r.usageErr(cmd, errors.New("dlq replay needs sequence numbers (dlq list shows them) or --all"))
		}
		filtered := slices.ContainsFunc([]string{"appid", "bid", "openid", "reason", "errcode", "older-than", "newer-than"}, cmd.Flags().Changed)
		if !*all && filtered {
			return r.usageErr(cmd, errors.New("dlq replay: the filters go with --all, not with sequence numbers"))
		}
		if err := q.check(); err != nil {
			return r.usageErr(cmd, fmt.Errorf("dlq replay: %w", err))
		}
		return r.dlqReplay(cmd.Context(), q, *all, seqs)
	}
	return cmd
}

// dlqReplay republishes dead letters to their original subjects: seqs, or
// with all every one of q.
func (r *run) dlqReplay(ctx context.Context, q dlqQuery, all bool, seqs []uint64) error {
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
	if all {
		_, err := scan(ctx, js, q, time.Now(), func(d deadLetter) bool {
			seqs = append(seqs, d.Seq)
			return true
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
