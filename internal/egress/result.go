package egress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// appLabel is the appid label of a metric: the appid of a configured app,
// else "unknown" (an appid from a bot's subject must not mint series).
func (e *Egress) appLabel(appid string) string {
	if e.apps[appid] {
		return appid
	}
	return "unknown"
}

// deliver finishes a command WeChat accepted.
func (e *Egress) deliver(ctx context.Context, j *job) (action, error) {
	d := events.ResultData{
		Outcome: events.OutcomeDelivered, ErrCode: 0, ErrMsg: "ok", Attempts: j.rec.Attempts, MediaID: j.mediaID,
		Parts: j.rec.Parts, PartsSent: j.rec.PartsSent,
	}
	if c := j.rec.Cut; c != nil {
		d.BudgetCut = c.Policy
		d.ErrMsg = fmt.Sprintf("ok: the reply budget held %d of %d parts (budget policy %s)", j.rec.PartsSent, j.rec.Parts, c.Policy)
	}
	return e.finish(ctx, j, d)
}

// fail finishes a command that will not be delivered.
func (e *Egress) fail(ctx context.Context, j *job, code int, msg, reason string, maybe bool) (action, error) {
	if code == 0 {
		code = -1
	}
	return e.finish(ctx, j, events.ResultData{
		Outcome: events.OutcomeFailed, ErrCode: code, ErrMsg: msg, Attempts: j.rec.Attempts,
		Reason: reason, MaybeDelivered: maybe, MediaID: j.mediaID,
		Parts: j.rec.Parts, PartsSent: j.rec.PartsSent,
	})
}

// finish records the outcome (send commands), stores the dead letter
// (failed sends) and the result, and acknowledges.
func (e *Egress) finish(ctx context.Context, j *job, d events.ResultData) (action, error) {
	c := j.cmd
	d.CommandID, d.Verb = c.ID, c.Verb
	d.AppID, d.BusinessID, d.OpenID = c.AppID, c.BusinessID, c.OpenID
	d.Time = e.now().UTC()
	d.ErrMsg = cutErrMsg(d.ErrMsg) // keeps the done record under recordReserve
	// What WeChat did not deliver goes back to its window.
	e.giveBack(ctx, j, unsent(j, d.Outcome, d.Reason))
	d.ReplyBudget, d.BudgetExceeded = e.resultBudget(j), j.exceeded
	ev := events.NewResult(d)
	ev.TraceParent = j.trace
	if e.tracer != nil {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("kfbridge.outcome", d.Outcome), attribute.String("kfbridge.reason", d.Reason))
	}
	body, err := encodeResult(ev)
	if err != nil {
		return action{}, err
	}
	// A reused id's record belongs to the command that wrote it. Commands
	// refused before their record was read (malformed, unknown app) write
	// none: a record they created would collide with their own redelivery.
	// A delivered send's result is its record: its "sending" record stays,
	// and a later handling finds the result in WXKF_RESULT (see
	// [Egress.storedResult]).
	delivered := d.Outcome == events.OutcomeDelivered
	if c.Verb == events.VerbSend && d.Reason != ReasonMalformed && d.Reason != ReasonUnknownApp && j.dup == "" && !delivered {
		if err := e.saveDone(ctx, j, body); errors.Is(err, errRecordsFull) && !j.stored {
			// A command without a record was never sent (its "sending"
			// record comes first): its failure is published unrecorded.
			j.logger().Warn("result not recorded: sent-record bucket full", "bucket", SentBucket)
		} else if err != nil {
			return action{}, err
		}
	}
	reason := d.Reason
	if reason == "" {
		reason = "none"
	}
	e.metrics.commands.WithLabelValues(e.appLabel(c.AppID), c.Verb, d.Outcome, reason).Inc()
	if d.Outcome == events.OutcomeFailed {
		j.logger().Warn("command failed", "reason", d.Reason, "errcode", d.ErrCode, "errmsg", d.ErrMsg, "attempts", d.Attempts)
	} else {
		j.debug("command delivered", "attempts", d.Attempts)
	}
	if delivered {
		m, err := e.resultMsg(j, body, d.Outcome)
		if err != nil {
			return action{}, err
		}
		e.storeResult(j, m, body)
		return action{out: outStoring}, nil
	}
	return e.publishOutcome(ctx, j, body, d.Outcome, d.Reason, d.ErrCode, d.ErrMsg, d.Attempts)
}

// saveDone writes j's done record, which keeps only the result (see
// [Egress.doneBound]).
func (e *Egress) saveDone(ctx context.Context, j *job, body []byte) error {
	j.rec.State, j.rec.Result, j.rec.LastCode, j.rec.LastMsg = stateDone, body, 0, ""
	j.rec.LastReason, j.rec.RetryAt, j.rec.Budget, j.rec.Cut = "", time.Time{}, nil, nil
	return e.saveRecord(ctx, j)
}

// republish stores again the outcome a previous delivery recorded; the
// streams drop what they already hold by Nats-Msg-Id.
func (e *Egress) republish(ctx context.Context, j *job, rec record) (action, error) {
	var ev events.ResultEvent
	if err := json.Unmarshal(rec.Result, &ev); err != nil {
		return action{}, fmt.Errorf("stored result of %s: %w", j.cmd.ID, err)
	}
	d := ev.Data
	if ev.TraceParent != "" {
		// The stored result's header stays equal to its attribute.
		j.trace = ev.TraceParent
	}
	return e.publishOutcome(ctx, j, rec.Result, d.Outcome, d.Reason, d.ErrCode, d.ErrMsg, d.Attempts)
}

// publishOutcome stores the dead letter (failed sends) and the result. Both
// carry Nats-Msg-Id <appid>:<command id>, with a suffix (j.dup) for a
// command that does not own its id — a duplicate_id, unknown_app or
// malformed failure — so that it neither replaces nor is dropped as the
// result of the command that owns it.
func (e *Egress) publishOutcome(ctx context.Context, j *job, result []byte, outcome, reason string, code int, msg string, attempts int) (action, error) {
	c := j.cmd
	// A budget refusal is an answer to the bot, not a command to replay.
	if outcome == events.OutcomeFailed && c.Verb == events.VerbSend && reason != ReasonBudget {
		if err := e.deadLetter(ctx, j, reason, code, msg, attempts); err != nil {
			return action{}, err
		}
	}
	m, err := e.resultMsg(j, result, outcome)
	if err != nil {
		return action{}, err
	}
	if err := e.publish(ctx, m); err != nil {
		return action{}, fmt.Errorf("publish result %s: %w", m.Subject, err)
	}
	return ack, nil
}

// resultMsg returns the message of j's result.
func (e *Egress) resultMsg(j *job, result []byte, outcome string) (*nats.Msg, error) {
	c := j.cmd
	subject, err := events.ResultSubject(c.Conversation, outcome)
	if err != nil {
		return nil, err
	}
	return &nats.Msg{Subject: subject, Data: result, Header: nats.Header{
		events.HeaderMsgID:       {c.AppID + ":" + c.ID + j.dup},
		events.HeaderContentType: {events.ContentType},
		events.HeaderTraceParent: {j.trace},
	}}, nil
}

// storeResult stores m, a delivered command's result (body), without
// waiting: the handling ends when the write does (see [Egress.handle]).
// Stored, it is acknowledged. Not stored, the command is parked as an
// interrupted handling is (see [Egress.retryLater]); a send's result is the
// record, so the lane keeps it for the next handling here and a done
// record keeps it for a replica that takes the command over (unless NATS
// refuses that too). That runs on a goroutine of its own, as the writer's
// callback must not wait for NATS.
func (e *Egress) storeResult(j *job, m *nats.Msg, body []byte) {
	e.w.publishThen(m, func(err error) {
		if err == nil {
			j.settle(ack)
			return
		}
		go func() {
			var kept []byte
			if j.cmd.Verb == events.VerbSend {
				kept = body
				ctx, cancel := e.natsCtx(context.Background())
				defer cancel()
				if serr := e.saveDone(ctx, j, body); serr != nil {
					j.logger().Warn("delivered result neither published nor recorded; kept for the next try", "err", serr)
				}
			}
			j.settle(e.retryLater(j.msg.Subject(), kept, err))
		}()
	})
}

// deadLetter keeps the failed command, as the bot sent it, with why.
func (e *Egress) deadLetter(ctx context.Context, j *job, reason string, code int, msg string, attempts int) error {
	c := j.cmd
	m := nats.NewMsg(events.DeadLetterSubject(c.Conversation, c.Verb))
	m.Data = j.msg.Data()
	for k, v := range j.msg.Headers() {
		// A bot's JetStream headers (Nats-Expected-Stream, -Last-Subject-
		// Sequence, Nats-Rollup, Nats-TTL, …) were for its publish to
		// WXKF_OUT; kept, they would make the dead letter's publish fail,
		// and the command could never be finished.
		if !strings.HasPrefix(strings.ToLower(k), "nats-") {
			m.Header[k] = v
		}
	}
	orig, _ := events.CommandSubject(c.Conversation, c.Verb)
	m.Header.Set(events.HeaderMsgID, c.AppID+":"+c.ID+j.dup)
	m.Header.Set(events.HeaderCommandID, c.ID)
	m.Header.Set(events.HeaderReason, reason)
	m.Header.Set(events.HeaderErrCode, strconv.Itoa(code))
	m.Header.Set(events.HeaderErrMsg, msg)
	m.Header.Set(events.HeaderAttempts, strconv.Itoa(attempts))
	m.Header.Set(events.HeaderOriginalSubject, orig)
	if err := e.publish(ctx, m); err != nil {
		return fmt.Errorf("dead-letter %s: %w", c.ID, err)
	}
	return nil
}

// publish stores m in its stream through the run's writer (which bounds
// the wait for its ack).
func (e *Egress) publish(ctx context.Context, m *nats.Msg) error {
	_, err := e.w.publish(ctx, m)
	return err
}
