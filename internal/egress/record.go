package egress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// States of a sent record.
const (
	stateSending = "sending" // a call may be in flight
	stateRetry   = "retry"   // a call failed before WeChat acted; retry later
	stateDone    = "done"    // the outcome is final; Result holds it
)

// record is the KV value kept per command in [SentBucket].
type record struct {
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// Retries counts the command's retries (put back for later), which
	// set its backoff.
	Retries  int    `json:"retries,omitempty"`
	LastCode int    `json:"last_code,omitempty"`
	LastMsg  string `json:"last_msg,omitempty"`
	// LastReason is why the command was last put back for later (a
	// retry class: transient, quota, token, media). When its budget ends
	// while it waits, it fails with this reason, not expired: the outcome
	// does not depend on whether the budget ran out just before or just
	// after the redelivery.
	LastReason string `json:"last_reason,omitempty"`
	// RetryAt is when a command put back for later is due: a replica that
	// takes it over waits until then too.
	RetryAt time.Time       `json:"retry_at,omitzero"`
	Result  json.RawMessage `json:"result,omitempty"`
	// Subject (wxkf.out.<appid>.<bid>.<openid>.<verb>) and Digest (of the
	// command's data) bind the record to the command that wrote it: a
	// command reusing its id with another conversation or body is not that
	// command (records written before they existed bind nothing).
	Subject string `json:"subject,omitempty"`
	Digest  string `json:"digest,omitempty"`
	// Parts, PartsSent and SentBytes follow a text sent in parts (see
	// [Egress.sendParts]): how many parts it has, how many of them WeChat
	// accepted, and how many bytes of the text those hold, where the next
	// part starts. Each write before a part's call records the parts
	// accepted before it. Zero for a command sent as one message.
	Parts     int `json:"parts,omitempty"`
	PartsSent int `json:"parts_sent,omitempty"`
	SentBytes int `json:"sent_bytes,omitempty"`
	// Budget is set once the command spent one send of its
	// conversation's reply budget (before its call): a later handling does
	// not spend again. The done record drops it.
	Budget *takenBudget `json:"budget,omitempty"`
	// Cut is set when the reply budget held only some parts of a text sent
	// in parts and its budget policy sends those (see [Egress.sendParts]):
	// every handling sends up to the same part, ending the same way. The
	// done record drops it (its result says budget_cut).
	Cut *partsCut `json:"cut,omitempty"`
	// A record that is not done ends with a member "pad" that fills it up
	// to the size of its command's largest done record (see
	// [Egress.saveRecord]); it is written, never read.
}

// A full bucket still replaces a key's value with one no larger than it
// (nats-server's DiscardNew with one value per key). So a record that is
// not done is padded to the largest done record its command can have
// ([Egress.doneBound]): the room its "sending" record takes is room its
// "done" record is sure to find, and a command that was sent is always
// recorded as done.

// maxErrMsg bounds the errmsg of a result and a record's LastMsg, as
// encoded in JSON (see [jsonLen]).
const maxErrMsg = 512

// cutErrMsg cuts s at a character boundary so that its JSON encoding is at
// most maxErrMsg bytes, "..." included.
func cutErrMsg(s string) string {
	if jsonLen(s) <= maxErrMsg {
		return s
	}
	n := 0
	for i := 0; i < len(s); {
		w, size := jsonRune(s[i:])
		if n+w > maxErrMsg-3 {
			return strings.ToValidUTF8(s[:i], "") + "..."
		}
		n, i = n+w, i+size
	}
	return s
}

// jsonLen is the length of s encoded as the content of a JSON string by
// encoding/json (see [jsonRune]).
func jsonLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		w, size := jsonRune(s[i:])
		n, i = n+w, i+size
	}
	return n
}

// jsonRune reads the first character of s and returns its length as
// encoding/json writes it in a string, and its length in s: \", \\, \n,
// \r, \t take two bytes; other control characters, <, >, &, U+2028,
// U+2029 and each byte of invalid UTF-8 (\ufffd) take six; other
// characters their UTF-8 length.
func jsonRune(s string) (w, size int) {
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && size == 1:
		return 6, 1
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2, size
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6, size
	}
	return size, size
}

// matches reports whether r was written for the command with subject and
// digest. A record without a subject was written before records were bound
// (an older release): it matches when its stored result names the same
// conversation and verb — its body cannot be compared — and, when it holds
// no result yet (a command in flight during the upgrade), it matches, as the
// redelivery of that command is far likelier than a reused id.
func (r record) matches(subject, digest string) bool {
	if r.Subject != "" {
		return r.Subject == subject && r.Digest == digest
	}
	if len(r.Result) == 0 {
		return true
	}
	var ev events.ResultEvent
	if json.Unmarshal(r.Result, &ev) != nil {
		return false
	}
	d := ev.Data
	s, err := events.CommandSubject(events.Conversation{AppID: d.AppID, BusinessID: d.BusinessID, OpenID: d.OpenID}, d.Verb)
	return err == nil && s == subject
}

// recordKey is the KV key of a command: its app and a hash of its id (ids
// are free-form; KV keys are not).
func recordKey(appid, commandID string) string {
	sum := sha256.Sum256([]byte(commandID))
	return appid + "." + hex.EncodeToString(sum[:20])
}

// loadRecord reads j's sent record and its revision (j.rev).
func (e *Egress) loadRecord(ctx context.Context, j *job) (record, bool, error) {
	ctx, cancel := e.natsCtx(ctx)
	defer cancel()
	entry, err := e.sent.Get(ctx, j.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("read sent record: %w", err)
	}
	var r record
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		return record{}, false, fmt.Errorf("sent record %s unreadable: %w", j.key, err)
	}
	j.rev, j.recAt = entry.Revision(), entry.Created()
	return r, true, nil
}

// resultSkew is how far before a "sending" record's time
// [Egress.storedResult] looks: the record and the result are stamped by
// their streams' leaders, which may be different servers.
const resultSkew = time.Minute

// maxResultScan bounds the results [Egress.storedResult] reads.
const maxResultScan = 100_000

// storedResult looks in WXKF_RESULT for the delivered result of j's
// command, whose record (read into j.rec, stored at j.recAt) says
// "sending": a delivered send keeps that record and its result is its
// record. It reads the conversation's delivered results stored since the
// record, and finds the one with the command's Nats-Msg-Id. This runs only
// for a command handled again after its call (a redelivery, a reused id),
// never on the first handling.
func (e *Egress) storedResult(ctx context.Context, j *job) ([]byte, bool, error) {
	subject, err := events.ResultSubject(j.cmd.Conversation, events.OutcomeDelivered)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := e.natsCtx(ctx)
	defer cancel()
	start := j.recAt.Add(-resultSkew)
	// A plain ephemeral consumer: an ordered one re-creates itself on every
	// fetch, retrying without end through an outage.
	cons, err := e.js.CreateConsumer(ctx, events.ResultStreamName, jetstream.ConsumerConfig{
		FilterSubject: subject, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: e.natsWait, MemoryStorage: true})
	if err != nil {
		return nil, false, fmt.Errorf("read results: %w", err)
	}
	info := cons.CachedInfo()
	defer func() {
		dctx, cancel := e.natsCtx(context.WithoutCancel(ctx))
		defer cancel()
		_ = e.js.DeleteConsumer(dctx, events.ResultStreamName, info.Name)
	}()
	if info.NumPending == 0 {
		return nil, false, nil
	}
	want := j.cmd.AppID + ":" + j.cmd.ID
	for read := 0; read < maxResultScan; {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, false, fmt.Errorf("read results: %w", err)
		}
		n, last := 0, false
		for msg := range batch.Messages() {
			n++
			if msg.Headers().Get(events.HeaderMsgID) == want {
				return msg.Data(), true, nil
			}
			if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
				last = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, false, fmt.Errorf("read results: %w", err)
		}
		if n == 0 || last {
			return nil, false, nil
		}
		read += n
	}
	return nil, false, fmt.Errorf("%w: more than %d results of the conversation since the command's record", errResultScanLimit, maxResultScan)
}

// errResultScanLimit says [Egress.storedResult] gave up after
// maxResultScan results: the command is taken as not found.
var errResultScanLimit = errors.New("read results")

// errRecordExists says a command's first record write found a record
// another delivery with the same id wrote in the meantime.
var errRecordExists = errors.New("sent record written by another delivery")

// errRecordTaken says a command's record changed since this replica read or
// wrote it: another replica took the command over (the consumer was pinned
// to it and the command redelivered there). This replica must not call or
// finish it.
var errRecordTaken = errors.New("sent record changed by another replica")

// errRecordsFull says the sent-record bucket is at its cap
// (nats.streams.max_bytes.sent) and refused a new command's record. Records
// of commands already recorded still update: the bucket keeps one value per
// key, and replacing one is allowed at the cap.
var errRecordsFull = errors.New("the sent-record bucket " + SentBucket + " is full (nats.streams.max_bytes.sent)")

// storeFull reports whether err is a write refused because the stream is at
// its byte cap.
func storeFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "maximum bytes exceeded")
}

// recordsFull puts back a command whose first record the full bucket
// refused. Nothing was sent: a command is never sent without its "sending"
// record. It retries with backoff (counted by deliveries and handlings:
// no record holds its retries) and fails, still unsent, when its budget ends; the partition
// is held no longer than that.
func (e *Egress) recordsFull(ctx context.Context, j *job) (action, error) {
	now := e.now()
	at := now.Add(e.backoff(int(j.md.NumDelivered) + j.tries - 1))
	if at.After(j.deadline) {
		return e.fail(ctx, j, CodeExpired, errRecordsFull.Error()+"; the command was not sent", ReasonTransient, false)
	}
	e.metrics.retries.WithLabelValues(e.appLabel(j.cmd.AppID), ReasonTransient).Inc()
	j.logger().Warn("sent-record bucket full; command not sent, will be retried", "bucket", SentBucket, "in", at.Sub(now).Round(time.Millisecond))
	return nakAfter(at.Sub(now)), nil
}

// The strings of a command that its done record holds, as indexes of a
// [boundFields].
const (
	fieldID = iota
	fieldVerb
	fieldAppID
	fieldBID
	fieldOpenID
	fieldSubject
	fieldDigest
	fieldMedia
	nFields
)

type boundFields [nFields]string

// probeDone is the length of the largest encoded done record a command with
// the strings f can have: the longest outcome, reason and codes, an errmsg
// whose encoding takes maxErrMsg bytes, strings as given; with parts, of a
// text sent in parts (up to maxParts of them, maxTextBytes long).
func probeDone(f boundFields, parts bool) (int, error) {
	worst := strings.Repeat("x", maxErrMsg)
	d := events.ResultData{CommandID: f[fieldID], Verb: f[fieldVerb],
		AppID: f[fieldAppID], BusinessID: f[fieldBID], OpenID: f[fieldOpenID], Outcome: events.OutcomeDelivered,
		ErrCode: -1 << 31, ErrMsg: worst, Attempts: 1 << 20, Reason: ReasonMaybeDelivered, MaybeDelivered: true,
		MediaID: f[fieldMedia], Time: time.Date(2000, 1, 1, 0, 0, 0, 1, time.UTC),
		ReplyBudget:    &events.ReplyBudget{Remaining: -1 << 31, ExpiresAt: time.Date(2000, 1, 1, 0, 0, 0, 1, time.UTC)},
		BudgetExceeded: true}
	if parts {
		d.Parts, d.PartsSent, d.BudgetCut = maxTextBytes, maxTextBytes, events.BudgetPolicyTruncate
	}
	ev := events.NewResult(d)
	ev.TraceParent = "00-" + strings.Repeat("0", 32) + "-" + strings.Repeat("0", 16) + "-00" // a traceparent's length
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	probe := record{State: stateDone, Attempts: 1 << 20, Retries: 1 << 20, Result: body,
		Subject: f[fieldSubject], Digest: f[fieldDigest]}
	if parts {
		probe.Parts, probe.PartsSent, probe.SentBytes = maxTextBytes, maxTextBytes, maxTextBytes
	}
	b, err := json.Marshal(probe)
	return len(b), err
}

// doneSize computes done-record bounds without encoding one per command:
// the encoded record is its size with empty strings plus, for each
// non-empty string, the members it adds (those omitted when it is empty)
// and the number of times it appears times its encoded length.
type doneSize struct {
	base   int
	member [nFields]int
	times  [nFields]int
	parts  int // added for a text sent in parts
}

// maxTextBytes bounds a text's length, its number of parts and its bytes
// sent: no NATS message is as long (a command is at most the server's
// max_payload, 1 MiB by default, 64 MiB at most).
const maxTextBytes = 1 << 30

func newDoneSize() (doneSize, error) {
	base, err := probeDone(boundFields{}, false)
	if err != nil {
		return doneSize{}, err
	}
	withParts, err := probeDone(boundFields{}, true)
	if err != nil {
		return doneSize{}, err
	}
	ds := doneSize{base: base, parts: withParts - base}
	for i := range nFields {
		var one, two boundFields
		one[i], two[i] = "x", "xx"
		n1, err := probeDone(one, false)
		if err != nil {
			return doneSize{}, err
		}
		n2, err := probeDone(two, false)
		if err != nil {
			return doneSize{}, err
		}
		ds.times[i] = n2 - n1
		ds.member[i] = n1 - base - ds.times[i]
	}
	return ds, nil
}

// doneBound is the largest encoded done record j's command can have, with
// a media id of at least 128 bytes (not known yet before the upload).
func (e *Egress) doneBound(j *job) int {
	c := j.cmd
	f := boundFields{fieldID: c.ID, fieldVerb: c.Verb, fieldAppID: c.AppID, fieldBID: c.BusinessID,
		fieldOpenID: c.OpenID, fieldSubject: j.rec.Subject, fieldDigest: j.rec.Digest, fieldMedia: j.mediaID}
	n := e.done.base
	for i, s := range f {
		l := jsonLen(s)
		if i == fieldMedia {
			l = max(l, 128)
		}
		if l > 0 {
			n += e.done.member[i] + e.done.times[i]*l
		}
	}
	if j.rec.Parts > 0 {
		n += e.done.parts
	}
	return n + 16 // the time's fraction may have more digits
}

// appendDashes appends n dashes to b.
func appendDashes(b []byte, n int) []byte {
	const dashes = "----------------------------------------------------------------"
	for n > 0 {
		k := min(n, len(dashes))
		b, n = append(b, dashes[:k]...), n-k
	}
	return b
}

// putRecord writes a sent record: a create (rev 0) or a compare-and-set on
// rev, with the errors of [jetstream.KeyValue]'s Create and Update,
// through the run's writer.
func (e *Egress) putRecord(ctx context.Context, key string, b []byte, rev uint64) (uint64, error) {
	m := &nats.Msg{Subject: "$KV." + SentBucket + "." + key, Data: b, Header: nats.Header{}}
	seq, err := e.w.publish(ctx, m, jetstream.WithExpectLastSequencePerSubject(rev))
	if budget.ConditionLost(err) {
		if rev == 0 {
			// The key has a value, or a delete marker: Create knows both.
			ctx, cancel := e.natsCtx(ctx)
			defer cancel()
			return e.sent.Create(ctx, key, b)
		}
		return 0, fmt.Errorf("%w: %w", jetstream.ErrKeyRevisionMismatch, err)
	}
	return seq, err
}

// writeBudget is the reply budget's [budget.WriteFunc]: a compare-and-set
// on a key's subject in budget.Bucket through the run's writer (budget
// writes happen only in handlings, while Run runs), cheaper than the KV's
// synchronous publish.
func (e *Egress) writeBudget(ctx context.Context, subject string, value []byte, lastSeq uint64) (uint64, error) {
	m := &nats.Msg{Subject: subject, Data: value, Header: nats.Header{}}
	seq, err := e.w.publish(ctx, m, jetstream.WithExpectLastSequencePerSubject(lastSeq))
	if budget.ConditionLost(err) {
		return 0, fmt.Errorf("%w: %w", jetstream.ErrKeyExists, err)
	}
	return seq, err
}

// saveRecord writes j's record. The first write of a command's record is a
// create: when another command with the same id (in another partition)
// wrote first, it fails with errRecordExists, and [Egress.handle] handles
// the command again, deciding on that record. Later writes are a
// compare-and-set on the revision this replica read or wrote last: when
// another replica wrote since, it fails with errRecordTaken.
func (e *Egress) saveRecord(ctx context.Context, j *job) error {
	bound := 0
	if j.rec.State != stateDone {
		bound = e.doneBound(j)
	}
	var b []byte
	if bound > 0 {
		b = make([]byte, 0, bound+len(`,"pad":"-"}`)) // the record and its pad: one allocation
	}
	b, err := appendRecord(b, &j.rec)
	if err != nil {
		return err
	}
	if len(b) < bound {
		// The object's last member: ,"pad":"---…"}
		n := max(bound-len(b)-len(`,"pad":""`), 1)
		b = append(b[:len(b)-1], `,"pad":"`...)
		b = append(appendDashes(b, n), `"}`...)
	}
	var rev uint64
	if j.stored {
		rev, err = e.putRecord(ctx, j.key, b, j.rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return errRecordTaken
		}
	} else {
		rev, err = e.putRecord(ctx, j.key, b, 0)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		// Nothing was sent by this delivery yet (its first write is the one
		// before the call): handle it again against the record found.
		return errRecordExists
	}
	if storeFull(err) {
		return fmt.Errorf("%w: %w", errRecordsFull, err)
	}
	if err != nil {
		return fmt.Errorf("write sent record: %w", err)
	}
	j.stored, j.rev = true, rev
	j.spentUnsaved = false // the take, if any, is recorded
	return nil
}
