package egress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// job is one delivery of one command.
type job struct {
	msg      jetstream.Msg
	md       *jetstream.MsgMetadata
	received time.Time // when this replica first got the command (its clock)
	cmd      events.Command
	key      string // sent-record key
	rec      record
	stored   bool      // rec is in the KV bucket (later writes update it)
	rev      uint64    // rec's revision in the bucket, when stored
	recAt    time.Time // when rec was stored, when read
	tries    int       // handlings of this delivery so far, this one included
	dup      string    // set for a reused id: suffix of the result's own id
	deadline time.Time
	trace    string // traceparent of the API calls and the result
	mediaID  string // uploaded for this command, reported in the result
	uploaded bool   // the media id came from our own upload (re-upload on 40007)
	// root is the egress's logger; log, made from it on first use (see
	// [job.logger]), adds the command's id, subject and trace id.
	root, log *slog.Logger
	// yield is closed when the lane wants its commands back (a stop, a pin
	// gone): a text sent in parts stops between two parts (see
	// [Egress.sendParts]).
	yield <-chan struct{}
	// The reply budget: as read or left after this handling's take (nil
	// when not tracked), and the errcode it predicted (0: none), which
	// observe sends anyway (exceeded).
	budget    *budget.State
	predicted int
	exceeded  bool
	// spentUnsaved: rec.Budget holds a take no stored record has yet.
	spentUnsaved bool
	// res is the conversation's reservation in the lane (nil: none kept).
	res *reservation
	// settle ends the handling later, when a delivered result's write
	// does: the worker does not wait for its ack (outStoring).
	settle func(action)
}

// logger returns the command's logger. It is made on first use: most
// commands log nothing, and With formats its attributes right away.
func (j *job) logger() *slog.Logger {
	if j.log == nil {
		j.log = j.root.With("command_id", j.cmd.ID, "subject", j.msg.Subject(), "trace_id", telemetry.TraceID(j.trace))
	}
	return j.log
}

// debug logs at debug level, making the command's logger only when that
// level is on.
func (j *job) debug(msg string, args ...any) {
	if j.root.Enabled(context.Background(), slog.LevelDebug) {
		j.logger().Debug(msg, args...)
	}
}

// outcome is what became of one handling of a held command.
type outcome int

const (
	outAck   outcome = iota // finished: its result is stored; acknowledge it
	outTerm                 // unusable: terminate it
	outPark                 // handle it again after a wait
	outTaken                // another replica took it over: let go of it
	// outStoring: delivered, its result on its way to WXKF_RESULT; the
	// handling's settle finishes it once the write is acked or failed.
	outStoring
)

func (o outcome) String() string {
	switch o {
	case outAck:
		return "ack"
	case outTerm:
		return "term"
	case outPark:
		return "park"
	case outTaken:
		return "taken"
	case outStoring:
		return "storing"
	}
	return "unknown"
}

// action is what to do with a held command once a handling is over: the
// outcome, and for outPark the time to wait.
type action struct {
	out  outcome
	wait time.Duration
	// result is a delivered send's result that could not be stored (the
	// handling was interrupted after WeChat's answer): the next handling
	// stores it instead of deciding again.
	result []byte
}

var ack = action{} // outAck

func nakAfter(d time.Duration) action { return action{out: outPark, wait: max(d, time.Millisecond)} }

// handle handles one delivery of a command, which its lane holds (and
// acknowledges, terminates or parks as the action says). received is when
// the lane first got the command. tries counts its
// handlings in this replica, this one included. yield is closed when the
// lane wants its commands back: a text sent in parts is parked between two
// parts, to be handed over. retained is the result an earlier handling
// could not store (see [action]), if any. A delivered command's handling
// returns outStoring as soon as its result is handed to the writer, and
// settle gets the action it ends with — ack once the result is stored, a
// park otherwise — on the writer's callback goroutine or one of its own.
func (e *Egress) handle(msg jetstream.Msg, md *jetstream.MsgMetadata, received time.Time, tries int, yield <-chan struct{}, retained []byte, res *reservation, settle func(action)) action {
	e.metrics.inflight.Inc()
	defer e.metrics.inflight.Dec()

	// Calls and publishes are not cut short by shutdown: a command in hand
	// is finished, then acknowledged.
	ctx, cancel := context.WithTimeout(context.Background(), 4*e.cfg.CallTimeout+10*time.Second)
	defer cancel()
	if e.tracer != nil {
		var span trace.Span
		ctx, span = e.startSpan(ctx, msg, tries)
		defer span.End()
		act, err := e.handleOnce(ctx, msg, md, received, tries, yield, retained, res, settle)
		span.SetAttributes(attribute.String("kfbridge.action", act.out.String()))
		if err != nil {
			span.SetStatus(codes.Error, "interrupted")
		}
		return act
	}
	act, _ := e.handleOnce(ctx, msg, md, received, tries, yield, retained, res, settle)
	return act
}

// startSpan starts the consumer span of one handling of a command, a child
// of the command's traceparent (a new trace when it has none).
func (e *Egress) startSpan(ctx context.Context, msg jetstream.Msg, tries int) (context.Context, trace.Span) {
	return e.tracer.Start(telemetry.RemoteParent(ctx, header(msg, events.HeaderTraceParent)), "process "+events.OutboundStreamName,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", events.OutboundStreamName),
			attribute.Int("kfbridge.tries", tries)))
}

// handleOnce is [Egress.handle] under ctx; the error is the interruption
// the action parks the command for, if any.
func (e *Egress) handleOnce(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, received time.Time, tries int, yield <-chan struct{}, retained []byte, res *reservation, settle func(action)) (action, error) {
	act, err := e.process(ctx, msg, md, received, tries, tries > 1, yield, retained, res, settle)
	for try := 0; errors.Is(err, errRecordExists) && try < 3; try++ {
		// Another delivery of this id recorded first, and nothing was sent:
		// decide again against its record (a reused id, this command's own
		// record from an earlier delivery, or its retry state).
		act, err = e.process(ctx, msg, md, received, tries, true, yield, retained, res, settle)
	}
	switch {
	case errors.Is(err, errRecordTaken):
		// Another replica handles this command now (it wrote its record
		// since this one read it): leave it to that replica.
		e.logger.Info("command taken over by another replica", "subject", msg.Subject())
		return action{out: outTaken}, nil
	case err != nil:
		return e.retryLater(msg.Subject(), act.result, err), err
	}
	// An ack lost after outAck means a redelivery, which finds the done
	// record and republishes the result (deduplicated).
	return act, nil
}

// retryLater parks a command whose handling NATS trouble interrupted
// (a record, result or dead-letter publish): nothing final is known to be
// stored, and the next try resumes from the sent record, or from result,
// a delivered result not stored, when set (the lane keeps an earlier one
// otherwise).
func (e *Egress) retryLater(subject string, result []byte, err error) action {
	e.logger.Warn("command handling interrupted; will retry", "subject", subject, "err", err)
	park := nakAfter(e.cfg.RetryMin)
	park.result = result
	return park
}

// process decides what to do with one delivery of a command. load reads
// the command's sent record first; otherwise (the first handling of a
// first delivery) the record's create before the call finds one, if any
// (errRecordExists).
func (e *Egress) process(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, received time.Time, tries int, load bool, yield <-chan struct{}, retained []byte, res *reservation, settle func(action)) (action, error) {
	var err error
	j := &job{msg: msg, md: md, received: received, tries: tries, deadline: md.Timestamp.Add(e.cfg.RetryBudget), yield: yield, root: e.logger, res: res, settle: settle}
	if e.tracer != nil {
		// The handling's span (see handle) continues the command's trace.
		j.trace = telemetry.TraceParentOf(trace.SpanFromContext(ctx))
	} else {
		j.trace = telemetry.ChildTraceParent(header(msg, events.HeaderTraceParent))
	}
	cmd, perr := events.ParseCommand(msg.Subject(), msg.Headers(), msg.Data())
	if perr != nil {
		var cerr *events.CommandError
		if !errors.As(perr, &cerr) || cerr.Verb == "" {
			// The stream only accepts wxkf.out.*.*.*.*; a bad token there has
			// no conversation to answer on.
			e.logger.Error("command on an unusable subject dropped", "subject", msg.Subject(), "err", perr)
			return action{out: outTerm}, nil
		}
		cmd = events.Command{ID: cerr.ID, Conversation: cerr.Conversation, Verb: cerr.Verb,
			Type: events.TypeCommandPrefix + cerr.Verb}
	}
	if cmd.ID == "" || len(cmd.ID) > events.MaxCommandIDLength {
		cmd.ID = "seq-" + strconv.FormatUint(md.Sequence.Stream, 10)
	}
	conv, verb := cmd.Conversation, cmd.Verb
	j.cmd = cmd
	if e.tracer != nil && e.apps[conv.AppID] && perr == nil {
		// Bounded values only: a configured app, a verb the contract knows.
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("kfbridge.appid", conv.AppID), attribute.String("kfbridge.verb", verb))
	}
	j.key = recordKey(conv.AppID, cmd.ID)
	// A command refused before it owns its id (unknown app, malformed) must
	// not take that id's place in the result and dead-letter streams'
	// duplicate windows: a well-formed command with the id would have its
	// result dropped. Its Nats-Msg-Ids get a suffix naming the refusal and
	// the message, the same on every redelivery.
	if !e.apps[conv.AppID] {
		j.dup = idSuffix(ReasonUnknownApp, conv.String()+"."+verb, msg.Data())
		return e.fail(ctx, j, CodeUnknownApp, "app "+conv.AppID+" is not configured in this bridge", ReasonUnknownApp, false)
	}
	if perr != nil {
		j.dup = idSuffix(ReasonMalformed, conv.String()+"."+verb, msg.Data())
		return e.fail(ctx, j, CodeMalformed, perr.Error(), ReasonMalformed, false)
	}

	if retained != nil {
		// Delivered by an earlier handling here, whose result is not stored.
		return e.republish(ctx, j, record{Result: retained})
	}

	// The record is consulted for every command, not only redeliveries: a
	// bot that republishes a command id after the stream's duplicate window
	// must not send it twice either. On a first delivery it is not read:
	// the record's create before the call fails when one exists, and the
	// command is decided again against it. A record written for another
	// conversation, verb or body belongs to another command that used the
	// same id: this one fails, and neither borrows nor touches its record.
	subject := events.OutboundPrefix + conv.String() + "." + verb
	digest := dataDigest(cmd.Data)
	var rec record
	var ok bool
	if load || md.NumDelivered > 1 || verb == events.VerbTyping {
		// Typing writes no record, but reads one: a typing command reusing a
		// send's id is a duplicate_id too.
		if rec, ok, err = e.loadRecord(ctx, j); err != nil {
			return action{}, err
		}
	}
	if ok && !rec.matches(subject, digest) {
		j.dup = idSuffix("duplicate", subject, []byte(digest))
		return e.fail(ctx, j, CodeDuplicateID, "command id "+cmd.ID+" was already used by another command "+
			"(another conversation, verb or body); use a new id for every command", ReasonDuplicateID, false)
	}
	j.stored = ok
	if ok {
		switch rec.State {
		case stateDone:
			j.logger().Info("command already finished; republishing its result", "deliveries", md.NumDelivered)
			return e.republish(ctx, j, rec)
		case stateSending:
			j.rec = rec
			// A delivered send's record stays "sending": its result is its
			// record.
			body, found, err := e.storedResult(ctx, j)
			switch {
			case found:
				j.logger().Info("command already delivered; republishing its result", "deliveries", md.NumDelivered)
				return e.republish(ctx, j, record{Result: body})
			case err != nil && !errors.Is(err, errResultScanLimit) && !e.now().After(j.deadline):
				return action{}, err // NATS trouble: look again later
			case err != nil:
				// Given up on (too many results, or the retry budget ended
				// while NATS was in trouble): not known to be delivered.
				j.logger().Warn("delivered result not found", "err", err)
			}
			return e.fail(ctx, j, CodeMaybeDelivered,
				"the replica handling this command stopped during its call; WeChat may have delivered it", ReasonMaybeDelivered, true)
		default:
			j.rec = rec
		}
	}
	j.rec.Subject, j.rec.Digest = subject, digest
	now := e.now()
	if now.After(j.deadline) {
		// A command put back for a retry fails with its retry's reason;
		// expired is for one whose budget ran out before it was tried.
		reason := ReasonExpired
		if j.rec.State == stateRetry && j.rec.LastReason != "" {
			reason = j.rec.LastReason
		}
		return e.fail(ctx, j, lastCode(j.rec, CodeExpired), lastMsg(j.rec, "retry budget exhausted"), reason, false)
	}
	if until := e.pauses.get(conv.AppID); now.Before(until) {
		return e.retryAt(ctx, j, until, ReasonQuota)
	}
	if j.rec.State == stateRetry && now.Before(j.rec.RetryAt) {
		// Put back for later by this or another replica: not due yet.
		return nakAfter(j.rec.RetryAt.Sub(now)), nil
	}
	if verb == events.VerbTyping {
		return e.typing(ctx, j, *cmd.Typing)
	}
	return e.send(ctx, j, cmd.Send)
}

// idSuffix is the Nats-Msg-Id suffix (j.dup) of a command that fails
// without owning its id — refused (label its reason) or a reused id
// (label "duplicate"): :<label>:<hash of where it went and what it said>,
// the same on every redelivery.
func idSuffix(label, where string, what []byte) string {
	h := sha256.New()
	h.Write([]byte(where + "\n"))
	h.Write(what)
	return ":" + label + ":" + hex.EncodeToString(h.Sum(nil)[:8])
}

func header(msg jetstream.Msg, name string) string {
	if h := msg.Headers(); h != nil {
		return h.Get(name)
	}
	return ""
}

func lastCode(r record, def int) int {
	if r.LastCode != 0 {
		return r.LastCode
	}
	return def
}

func lastMsg(r record, def string) string {
	if r.LastMsg != "" {
		return r.LastMsg
	}
	return def
}

// call runs one API call with metrics and the job's trace context.
func (e *Egress) call(ctx context.Context, j *job, op string, f func(context.Context) error) error {
	start := time.Now()
	err := f(wxapi.WithTraceParent(ctx, j.trace))
	e.metrics.apiSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		e.metrics.apiErrors.WithLabelValues(op, strconv.Itoa(wxapi.CodeOf(err))).Inc()
		j.debug("api call failed", "op", op, "err", err)
	}
	return err
}

// backoff is the delay before the next retry after attempts calls.
func (e *Egress) backoff(attempts int) time.Duration {
	d := e.cfg.RetryMin
	for i := 1; i < attempts && d < e.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, e.cfg.RetryMax)
	// ±20% jitter spreads retries of many conversations.
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// quotaHorizon is when a quota error's limit lifts: a minute for 45011, the
// next midnight in China for the daily 45009.
func quotaHorizon(code int, now time.Time) time.Time {
	if code == wxapi.CodeDailyQuota {
		cst := now.In(chinaTime)
		y, m, d := cst.Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, chinaTime)
	}
	return now.Add(time.Minute)
}

var chinaTime = time.FixedZone("CST", 8*3600)
