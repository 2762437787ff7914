package egress

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kfbridge/kfbridge/internal/textsplit"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// sendParts delivers a text longer than egress.text_limit as parts, in
// order, each one call of the send API (package textsplit cuts them), and
// finishes the command with one result that counts them (data.parts,
// data.parts_sent).
//
// The sent record follows the parts: the "sending" record written before
// each part's call also records the parts WeChat accepted before it
// (PartsSent) and where the text goes on (SentBytes). So a replica that
// takes the command over never sends an accepted part again: a record
// still "sending" means the part after PartsSent may have been delivered
// (maybe_delivered, as for a single send), a "retry" record goes on at
// SentBytes. The cuts depend only on the text from where a part starts, so
// splitting the rest gives the parts that were left.
//
// Between two parts the command is parked — its record says "retry", due
// at once — when its lane wants its commands back (a graceful stop, a pin
// gone: the replica serving the consumer next goes on with the next part)
// or when the handling's deadline would not hold another part's call.
//
// When egress.reply_budget enforce finds fewer sends left than parts, the
// text's budget policy decides ([Egress.budgetPolicy]): fail sends nothing;
// truncate and partial send the parts the budget holds (truncate cuts the
// last one shorter to end with an ellipsis), recorded as [partsCut] so
// every handling stops at the same part, and report it (budget_cut).
func (e *Egress) sendParts(ctx context.Context, j *job, st *events.SendText) (action, error) {
	text := st.Content
	r := &j.rec
	if r.SentBytes < 0 || r.SentBytes >= len(text) {
		return e.fail(ctx, j, CodeUnsplittable, fmt.Sprintf("sent record says %d bytes of a %d-byte text were sent", r.SentBytes, len(text)), ReasonPermanent, false)
	}
	parts, err := textsplit.Split(text[r.SentBytes:], e.cfg.TextLimit)
	if err != nil {
		return e.fail(ctx, j, CodeUnsplittable, fmt.Sprintf("text of %d bytes cannot be sent in parts of at most egress.text_limit %d bytes: %v",
			len(text), e.cfg.TextLimit, err), ReasonPermanent, false)
	}
	r.Parts = r.PartsSent + len(parts)
	tok, err := e.tokens.Token(ctx, j.cmd.AppID)
	if err != nil {
		return e.afterFailure(ctx, j, err, ReasonToken, false)
	}
	// Every part is one of the conversation's replies: the reply budget
	// is spent for all of them at once before the first call. When it
	// cannot hold them all, enforce sends none (policy fail) or those it
	// holds (truncate, partial).
	policy := e.budgetPolicy(j, st)
	if r.Budget == nil && r.PartsSent == 0 && e.enforcing() && policy != events.BudgetPolicyFail {
		took, err := e.spendUpTo(ctx, j, len(parts))
		if err != nil {
			return action{}, err
		}
		if took == 0 {
			return e.refuseBudget(ctx, j)
		}
		if took < len(parts) {
			r.Cut = &partsCut{Policy: policy, Parts: took}
		}
	} else if refused, err := e.spend(ctx, j, len(parts)); err != nil {
		return action{}, err
	} else if refused {
		return e.refuseBudget(ctx, j)
	}
	todo := cutParts(parts, len(parts), "", e.cfg.TextLimit)
	if r.Cut != nil {
		todo = cutParts(parts, r.Cut.Parts-r.PartsSent, r.Cut.Policy, e.cfg.TextLimit)
	}
	for i, p := range todo {
		if i > 0 && e.yieldParts(ctx, j) {
			return e.parkParts(ctx, j)
		}
		if tok, err = e.sendPart(ctx, j, tok, p.send); err != nil {
			if errors.Is(err, errRecordsFull) {
				j.rec.Attempts--
				e.unspend(ctx, j)
				return e.recordsFull(ctx, j) // nothing sent
			}
			var fail *partError
			if errors.As(err, &fail) {
				return e.afterFailure(ctx, j, fail.err, fail.fallback, fail.sendCall)
			}
			e.unspend(ctx, j)
			return action{}, err
		}
		r.PartsSent++
		r.SentBytes += len(p.text)
	}
	return e.deliver(ctx, j)
}

// part is one part of a text to send: what WeChat gets (send) and the
// text of the original it stands for (text; longer than send when a
// truncated last part was cut to end with an ellipsis).
type part struct{ send, text string }

// ellipsis ends a truncated text.
const ellipsis = "…"

// cutParts returns the first n of parts (n ≥ 1), as parts to send; with
// policy truncate the last one is cut shorter to end with an ellipsis
// within limit bytes. A text cut in the last part stands for the whole
// part, so the record's sent bytes stay on the original's cuts.
func cutParts(parts []string, n int, policy string, limit int) []part {
	n = max(min(n, len(parts)), 0)
	out := make([]part, n)
	for i := range n {
		out[i] = part{send: parts[i], text: parts[i]}
	}
	if policy == events.BudgetPolicyTruncate && n > 0 {
		last := &out[n-1]
		if len(last.text)+len(ellipsis) <= limit {
			last.send = last.text + ellipsis
		} else if head, err := textsplit.Split(last.text, limit-len(ellipsis)); err == nil {
			last.send = head[0] + ellipsis
		} else {
			// A link too long to shorten: the part goes unchanged.
			last.send = last.text
		}
	}
	return out
}

// partError is a failure of a part's token refresh or call, which
// [Egress.afterFailure] judges.
type partError struct {
	err      error
	fallback string
	sendCall bool
}

func (p *partError) Error() string { return p.err.Error() }

// sendPart records j as sending and calls the send API with one part,
// refreshing a rejected token once. It returns the token it used last;
// errRecordsFull for the first part when the bucket refused its record,
// another error of the record write (nothing sent), or a *partError.
func (e *Egress) sendPart(ctx context.Context, j *job, tok, part string) (string, error) {
	body, err := wechatBody(&events.SendData{MsgType: "text", Text: &events.SendText{Content: part}})
	if err != nil {
		return tok, err
	}
	op := "custom/send"
	if j.cmd.BusinessID != events.MainBusinessID {
		op = "custom/business/send"
	}
	for refreshed := false; ; refreshed = true {
		j.rec.State = stateSending
		j.rec.Attempts++
		stored := j.stored
		if err := e.saveRecord(ctx, j); errors.Is(err, errRecordsFull) && !stored {
			return tok, err
		} else if err != nil {
			return tok, fmt.Errorf("record part %d: %w", j.rec.PartsSent+1, err)
		}
		err = e.call(ctx, j, op, func(ctx context.Context) error {
			return e.api.Send(ctx, tok, wxapi.SendRequest{ToUser: j.cmd.OpenID, BusinessID: j.cmd.BusinessID, Message: body})
		})
		if err == nil {
			return tok, nil
		}
		if wxapi.ClassOf(err) != wxapi.ClassToken || refreshed {
			return tok, &partError{err: err, sendCall: true}
		}
		if tok, err = e.tokens.Invalidate(ctx, j.cmd.AppID, tok); err != nil {
			return tok, &partError{err: err, fallback: ReasonToken}
		}
	}
}

// yieldParts reports whether a text sent in parts should stop before its
// next part: its lane wants its commands back, or the handling's deadline
// would not hold another call and the records around it.
func (e *Egress) yieldParts(ctx context.Context, j *job) bool {
	select {
	case <-j.yield:
		return true
	default:
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 2*e.cfg.CallTimeout+2*e.natsWait {
		return true
	}
	return false
}

// parkParts puts a text sent in parts back between two parts: its record
// says "retry", due at once, with the parts sent so far; the lane handles
// it again, or hands it over when it is stopping.
func (e *Egress) parkParts(ctx context.Context, j *job) (action, error) {
	j.rec.State = stateRetry
	j.rec.RetryAt = e.now().UTC()
	if err := e.saveRecord(ctx, j); err != nil {
		return action{}, err
	}
	j.logger().Info("text in parts paused between parts", "parts_sent", j.rec.PartsSent, "parts", j.rec.Parts)
	return nakAfter(0), nil
}
