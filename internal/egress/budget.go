package egress

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// CodeBudget: egress.reply_budget enforce refused the command before any
// call: WeChat would have refused it (the send window is closed or used up,
// or typing would fail). Its reason is [ReasonBudget].
const CodeBudget = -1008

// ReasonBudget is the reason of a command refused by the reply budget. Its
// result is the whole answer: no dead letter is kept (replaying it would
// meet the same budget).
const ReasonBudget = "budget"

// takenBudget, in a sent record, says the command spent one send of its
// conversation's budget: the window it came from (ExpiresAt), so that a
// redelivery does not spend again and a failure gives it back to that
// window only.
type takenBudget struct {
	ExpiresAt time.Time `json:"expires_at"`
	// Sends is the number of sends taken: 1, or the parts of a text sent
	// in parts (taken at once before the first).
	Sends int `json:"sends"`
}

// partsCut, in a sent record, says how a budget policy cut a text sent in
// parts: Policy (truncate or partial) and the number of Parts it sends.
type partsCut struct {
	Policy string `json:"policy"`
	Parts  int    `json:"parts"`
}

// budgetPolicy is the budget policy of j, a text: its own, else its app's,
// else fail.
func (e *Egress) budgetPolicy(j *job, t *events.SendText) string {
	if t != nil && t.BudgetPolicy != "" {
		return t.BudgetPolicy
	}
	if p := e.policies[j.cmd.AppID]; p != "" {
		return p
	}
	return events.BudgetPolicyFail
}

// spendUpTo takes as many of n sends of j's conversation as its window
// holds, once per command, for a text whose budget policy sends what fits
// (enforce only). It returns how many it took: 0 when refused (nothing
// taken), n when all fit. Errors as [Egress.spend].
func (e *Egress) spendUpTo(ctx context.Context, j *job, n int) (int, error) {
	bctx, cancel := e.natsCtx(ctx)
	defer cancel()
	in, err := e.in.Stream(bctx)
	if err != nil {
		return 0, fmt.Errorf("reply budget: %w", err)
	}
	s, took, code, applied, err := e.budget.SyncTakeUpTo(bctx, in, j.cmd.Conversation, n, e.budgetNow(), j.received)
	e.caughtUp(applied)
	if err != nil {
		return 0, fmt.Errorf("reply budget: %w", err)
	}
	j.budget = &s
	if code != 0 {
		e.predict(j, code) // enforce: refused
		return 0, nil
	}
	j.rec.Budget = &takenBudget{ExpiresAt: s.ExpiresAt, Sends: took}
	j.spentUnsaved = true
	return took, nil
}

// tracking reports whether the egress tracks reply budgets.
func (e *Egress) tracking() bool { return e.budget != nil && e.budgetMode != config.BudgetOff }

// observing reports whether reply budgets are tracked without refusing.
func (e *Egress) observing() bool { return e.tracking() && !e.enforcing() }

// enforcing reports whether over-budget commands are refused.
func (e *Egress) enforcing() bool { return e.tracking() && e.budgetMode == config.BudgetEnforce }

// spend takes n sends of j's conversation (1, or a text's parts) before
// its first call, once per command (a take recorded in j.rec is not
// repeated). It reports a refusal (enforce, and WeChat would answer 45015
// or 45047 — for a text in parts, before its last part: nothing is sent),
// after which nothing was taken. A budget that cannot be read or written
// is an error in enforce (the command is retried), and a logged warning in
// observe (the command is sent unbudgeted).
func (e *Egress) spend(ctx context.Context, j *job, n int) (refused bool, err error) {
	if !e.tracking() {
		return false, nil
	}
	// Sends held for the conversation's queued sends go back first (a
	// text in parts takes its own): the take must see them.
	e.returnReserved(ctx, j.res)
	return e.applyTake(j, e.take(ctx, j.cmd.Conversation, j.received, j.rec.Budget != nil, n, 0), n)
}

// spendAlongside is [Egress.spend] for observe, which sends whatever the
// budget says: the take runs while the "sending" record is written and the
// call made, instead of before them (its read of WXKF_IN and its
// compare-and-set on WXKF_BUDGET, an fsync with sync always, no longer
// delay the reply), and join, called once the call returned or the record
// write failed, applies it to j. The "sending" record therefore does not
// hold this take: a redelivery that finds it republishes the stored
// result or fails maybe_delivered, neither of which takes or gives back;
// a retry's record, written after join, holds it as before.
//
// A send of one conversation's burst of replies uses the reservation the
// burst's first take made, at once and without a take of its own (its
// "sending" record then holds it): see [reservation]. Held sends it does
// not use go back before its take.
func (e *Egress) spendAlongside(ctx context.Context, j *job, n int) (join func()) {
	conv, received, had := j.cmd.Conversation, j.received, j.rec.Budget != nil
	var back reservation // held sends not used here, given back first
	extra := 0
	if r := j.res; r != nil {
		if n == 1 && !had {
			if s, code, ok := r.use(received, e.budgetNow(), e.reserveFor); ok {
				j.budget = &s
				if code != 0 {
					// The burst's take found no send for it: neither is
					// there one for this send.
					e.predict(j, code)
					return func() {}
				}
				j.rec.Budget = &takenBudget{ExpiresAt: s.ExpiresAt, Sends: 1}
				j.spentUnsaved = true
				e.metrics.budgetReserved.Inc()
				return func() {}
			}
			extra = r.behind
		}
		back = r.detach()
	}
	done := make(chan struct{})
	var t budgetTake
	go func() {
		defer close(done)
		e.returnReserved(ctx, &back)
		t = e.take(ctx, conv, received, had, n, extra)
	}()
	return func() {
		<-done
		_, _ = e.applyTake(j, t, n) // observe: neither a refusal nor an error
	}
}

// reservation is sends of a conversation's budget taken ahead, in observe,
// for the sends queued right behind the command whose take made them: a
// bot's replies to one message, received together, cost one
// compare-and-set on WXKF_BUDGET, not one each. The take of the burst's
// first send takes up to one send for each send queued right behind it
// (no more than the window holds); each of those, when its turn comes,
// uses one of them instead of taking, and its result reports the budget
// as if it had taken its own. It lives with the lane's conversation, used
// only by the handling of the conversation's current command (one at a
// time), and is used only by a send received before the take that made
// it started, within reserveFor (budget.SkipFor) of it, in the same
// window. Sends it holds that no command used are given back to their
// window (budget.Tracker.Give), while the conversation still runs in the
// lane, when it has no command left, its next command is not a send, its
// command parks (a retry, a quota pause) or the lane stops or loses its
// pin, and before a take that does not use them (a send that cannot, a
// text in parts, a retry reading its budget). A send of the burst that
// gives its own send back (WeChat did not deliver it) adds it to what the
// reservation's later uses report. The take that makes a reservation
// always reads the conversation's pushes itself (it does not rely on an
// earlier read), so every send it serves was received before that read.
//
// What it costs: a replica that dies holding a reservation loses its
// unused sends, and the budget shows that many fewer than WeChat's until
// the window's next reset; observe refuses nothing, but such a send can be
// reported budget_exceeded. Like a take relying on an earlier read (see
// budget.Tracker.SyncTakeN), a user message stored between the take and a
// use does not apply to that use: it is counted in the earlier window. A
// budget read while a burst runs (budget.get, another replica) shows the
// burst's queued sends as already spent, and so does the ingress when it
// grants an enter-session meanwhile: a window that looks used up then
// gets the 1-minute window with 2 sends, which WeChat (with sends left)
// does not open, so the budget can show up to 2 sends more than WeChat's
// until a 45047 corrects it. A take whose write landed but whose answer
// was lost leaves all the sends it took out of the window, not only one.
//
// A burst's first take that finds no send to take (the window is closed
// or used up: WeChat would answer code, 45015 or 45047) makes a
// reservation of that finding instead: it holds no send, and each send
// behind it that could use one is reported over budget with the same
// code (budget_exceeded, sent anyway) without reads of its own, where a
// take of its own would read WXKF_IN and the bucket again and find the
// same, unless a push was stored in between (the same exception as
// above). A window stays closed or used up until a push changes it, so
// the finding does not end with the window; it ends where held sends go
// back (see above), before a take that does not use it (a text in parts
// may find the window the finding's take did not) included. A burst whose
// take used the window up (it took the last sends for those behind) turns
// into that finding (WeChat would answer 45047) once its held sends are
// used, unless a send of the burst gave one back: the sends queued behind
// those it reserved for are reported over budget without a take of their
// own, where each would read WXKF_IN and the bucket and find the same. A
// send given back after that ends the finding.
type reservation struct {
	behind int // sends queued right behind the command in handling (set by the lane)
	conv   events.Conversation
	state  budget.State // as the take that made it left it, plus sends given back since
	left   int          // sends taken and not yet used
	code   int          // not 0: the take found no send to take, WeChat would answer code
	at     time.Time    // when the take that made it started (this process's clock)
}

// holds reports whether r has sends to use or give back, or a finding of
// no send.
func (r *reservation) holds() bool { return r.left > 0 || r.code != 0 }

// use spends one of r's sends for a send of r's conversation received at
// received (this process's clock) at now (the budget's clock), and
// returns the budget its result reports: what r's take left plus the
// sends r still holds. When r is a finding of no send, it spends nothing
// and returns the budget the take read and the errcode it predicted. It
// reports false, and spends nothing, when r is empty, older than maxAge
// or of a window that has ended, or when the send was received after r's
// take started.
func (r *reservation) use(received, now time.Time, maxAge time.Duration) (budget.State, int, bool) {
	if !r.holds() || received.After(r.at) || time.Since(r.at) > maxAge {
		return budget.State{}, 0, false
	}
	if r.code != 0 {
		return r.state, r.code, true
	}
	if !now.Before(r.state.ExpiresAt) {
		return budget.State{}, 0, false
	}
	r.left--
	s := r.state
	s.Remaining += r.left
	if r.left == 0 && r.state.Remaining == 0 {
		// The take used the window up (and no send of the burst gave
		// one back): the sends behind this one find it used up.
		r.code = budget.CodeOutOfCount
	}
	return s, 0, true
}

// detach returns a copy of r holding its sends, and leaves r holding none
// (nor a finding of no send): the copy is given back where r cannot be
// touched (outside the lane's lock, or alongside the handling).
func (r *reservation) detach() reservation {
	d := *r
	r.left, r.code = 0, 0
	return d
}

// withHeld returns s, a budget as stored, as a result reports it: with
// the sends r holds for the conversation's queued sends (of s's window)
// counted as left.
func withHeld(s budget.State, r *reservation) *budget.State {
	if r != nil && r.left > 0 && s.ExpiresAt.Equal(r.state.ExpiresAt) {
		s.Remaining += r.left
	}
	return &s
}

// returnReserved gives r's unused sends back to their window, best effort
// (a failure is logged: the budget then shows fewer sends than WeChat's),
// and empties r (nil: none), a finding of no send included: a take that
// does not use r (a text in parts) may see a window r's take did not.
func (e *Egress) returnReserved(ctx context.Context, r *reservation) {
	if r == nil {
		return
	}
	r.code = 0
	if r.left < 1 {
		return
	}
	n := r.left
	r.left = 0
	bctx, cancel := e.natsCtx(ctx)
	defer cancel()
	_, gave, err := e.budget.Give(bctx, r.conv, r.state.ExpiresAt, n)
	if err != nil {
		e.logger.Warn("reply budget: reserved sends not given back", "appid", r.conv.AppID, "openid", r.conv.OpenID, "sends", n, "err", err)
		return
	}
	e.metrics.budgetReturned.Add(float64(gave))
}

// budgetTake is what [Egress.take] found: the state it read or left, and
// for a take the errcode it predicts (0: none).
type budgetTake struct {
	state    budget.State
	read     bool      // state is set
	took     bool      // a take was made, not only a read
	reserved int       // sends taken beyond the command's own (see reservation)
	started  time.Time // when the take started
	code     int
	applied  bool // a grant from a stored user message was applied
	err      error
}

// take takes n sends of conv's budget for a command received at received,
// and up to extra more for the sends queued behind it (a [reservation]),
// or when the command took them before (taken) only reads what is left. It
// touches no job: it may run alongside the handling
// ([Egress.spendAlongside]).
func (e *Egress) take(ctx context.Context, conv events.Conversation, received time.Time, taken bool, n, extra int) budgetTake {
	bctx, cancel := e.natsCtx(ctx)
	defer cancel()
	in, err := e.in.Stream(bctx)
	if err != nil {
		return budgetTake{err: err}
	}
	if taken {
		// Taken by an earlier handling: only read what is left.
		s, err := e.budget.Live(bctx, in, conv)
		return budgetTake{state: s, read: err == nil}
	}
	if extra > 0 {
		// A zero received: this take reads the pushes itself, after it
		// started, so that the sends received before that can rely on it.
		started := time.Now()
		s, took, code, applied, err := e.budget.SyncTakeUpTo(bctx, in, conv, n+extra, e.budgetNow(), time.Time{})
		return budgetTake{state: s, read: err == nil, took: err == nil, reserved: max(took-n, 0), started: started,
			code: code, applied: applied, err: err}
	}
	s, code, applied, err := e.budget.SyncTakeN(bctx, in, conv, n, e.budgetNow(), received)
	return budgetTake{state: s, read: err == nil, took: err == nil, code: code, applied: applied, err: err}
}

// applyTake applies t, a take of n sends, to j, as [Egress.spend] reports
// it.
func (e *Egress) applyTake(j *job, t budgetTake, n int) (refused bool, err error) {
	e.caughtUp(t.applied)
	if t.err != nil {
		return e.unbudgeted(j, t.err)
	}
	if t.took && j.res != nil && !t.started.IsZero() && (t.reserved > 0 || t.code != 0) {
		// A burst's first take (see reservation): sends held for those
		// behind, or (it took none) its finding of no send.
		*j.res = reservation{behind: j.res.behind, conv: j.cmd.Conversation, state: t.state, left: t.reserved, code: t.code, at: t.started}
	}
	if t.read {
		// The sends taken for those behind count as left until they are
		// used.
		j.budget = withHeld(t.state, j.res)
	}
	if !t.took {
		return false, nil
	}
	if t.code != 0 {
		return e.predict(j, t.code), nil
	}
	j.rec.Budget = &takenBudget{ExpiresAt: t.state.ExpiresAt, Sends: n}
	j.spentUnsaved = true
	return false, nil
}

// predict notes that WeChat would refuse j's send or typing command with
// code, and reports whether j is refused (enforce); observe sends it
// anyway, marked over budget. A command is counted once, however many
// calls it makes (a retry with a refreshed token takes again).
func (e *Egress) predict(j *job, code int) (refused bool) {
	if j.predicted == 0 {
		e.metrics.budgetOver.WithLabelValues(e.budgetMode).Inc()
	}
	j.predicted = code
	if e.enforcing() {
		return true
	}
	j.exceeded = true
	return false
}

// caughtUp counts a grant the egress applied from a stored user message.
func (e *Egress) caughtUp(applied bool) {
	if applied {
		e.metrics.budgetCaughtUp.Inc()
	}
}

// unbudgeted answers a budget that cannot be read or written: an error
// in enforce (the command is retried), a logged warning in observe (the
// command is sent unbudgeted).
func (e *Egress) unbudgeted(j *job, err error) (bool, error) {
	if e.enforcing() {
		return false, fmt.Errorf("reply budget: %w", err)
	}
	j.logger().Warn("reply budget not readable; sending unbudgeted", "err", err)
	return false, nil
}

// unspend gives back the sends spent by a command whose record write
// failed before its take was recorded (nothing was sent): the next
// handling takes again.
func (e *Egress) unspend(ctx context.Context, j *job) {
	if !j.spentUnsaved || j.rec.Budget == nil {
		return
	}
	e.giveBack(ctx, j, j.rec.Budget.Sends)
	j.rec.Budget, j.spentUnsaved = nil, false
}

// unsent is the number of sends j took that WeChat did not deliver, once
// it ended with outcome d: all but the parts sent, less the one in flight
// for maybe_delivered.
func unsent(j *job, outcome, reason string) int {
	if j.rec.Budget == nil || outcome == events.OutcomeDelivered {
		return 0
	}
	n := max(j.rec.Budget.Sends, 1) - j.rec.PartsSent
	if reason == ReasonMaybeDelivered {
		n--
	}
	return n
}

// giveBack returns n of j's spent sends to the window they came from.
func (e *Egress) giveBack(ctx context.Context, j *job, n int) {
	if n < 1 || !e.tracking() {
		return
	}
	bctx, cancel := e.natsCtx(ctx)
	defer cancel()
	s, gave, err := e.budget.Give(bctx, j.cmd.Conversation, j.rec.Budget.ExpiresAt, n)
	if err != nil {
		j.logger().Warn("reply budget: send not given back", "err", err)
		return
	}
	if r := j.res; r != nil {
		if r.left > 0 && r.state.ExpiresAt.Equal(j.rec.Budget.ExpiresAt) && s.ExpiresAt.Equal(r.state.ExpiresAt) {
			r.state.Remaining += gave // the reservation's later uses report it
		}
		if r.code != 0 && gave > 0 {
			r.code = 0 // a send is left after all: the next send takes its own
		}
	}
	j.budget = withHeld(s, j.res)
}

// refuseBudget fails j before any call: WeChat would answer j.predicted.
func (e *Egress) refuseBudget(ctx context.Context, j *job) (action, error) {
	return e.fail(ctx, j, CodeBudget, budgetMsg(j.predicted, j.budget), ReasonBudget, false)
}

// budgetMsg says why the budget refuses a command WeChat would answer code.
func budgetMsg(code int, s *budget.State) string {
	var why string
	switch code {
	case budget.CodeOutOfWindow:
		why = "the send window is closed: no user message in the last 48 h and no session entry in the last minute"
	case budget.CodeOutOfCount:
		why = "the sends the window allows are used up"
		if s != nil {
			why = fmt.Sprintf("the %s window's sends are used up (it ends %s)", s.Trigger, s.ExpiresAt.UTC().Format(time.RFC3339))
		}
	case budget.CodeTypingNeedsMsg:
		why = "typing needs a user message or session entry in the last 30 s"
	case budget.CodeAlreadyTyping:
		why = "the typing state of an earlier Typing still lasts (15 s)"
	}
	return "reply budget: " + why + "; not sent (WeChat would answer " + strconv.Itoa(code) + ")"
}

// afterWindowError corrects the budget after WeChat refused j's call with a
// window error (45015, 45047, and for typing 45080, 45081): one the budget
// did not predict is a miss, counted, and the budget drops to zero.
func (e *Egress) afterWindowError(ctx context.Context, j *job, err error) {
	if !e.tracking() {
		return
	}
	code := wxapi.CodeOf(err)
	switch code {
	case budget.CodeOutOfWindow, budget.CodeOutOfCount, budget.CodeTypingNeedsMsg, budget.CodeAlreadyTyping:
	default:
		return
	}
	if j.predicted == 0 {
		e.metrics.budgetMisses.WithLabelValues(strconv.Itoa(code)).Inc()
		j.logger().Warn("reply budget missed a WeChat refusal; corrected", "errcode", code)
	}
	if code != budget.CodeOutOfWindow && code != budget.CodeOutOfCount {
		return // typing rules: nothing to correct in the window
	}
	if j.res != nil {
		j.res.left = 0 // WeChat says the window is spent: nothing to use or give back
	}
	bctx, cancel := e.natsCtx(ctx)
	defer cancel()
	s, xerr := e.budget.Exhaust(bctx, j.cmd.Conversation, code, e.budgetNow())
	if xerr != nil {
		j.logger().Warn("reply budget not corrected", "err", xerr)
		return
	}
	j.budget = &s
	j.rec.Budget = nil // spent for good: WeChat counted nothing, but nothing is left
}

// checkTyping predicts WeChat's answer to j's typing command and reports a
// refusal (enforce). Typing is best effort: a budget that cannot be read
// leaves it unchecked, in either mode.
func (e *Egress) checkTyping(ctx context.Context, j *job, command string) (refused bool) {
	if !e.tracking() {
		return false
	}
	bctx, cancel := e.natsCtx(ctx)
	defer cancel()
	in, err := e.in.Stream(bctx)
	var (
		s    budget.State
		code int
	)
	if err == nil {
		s, code, err = e.budget.SyncCheckTyping(bctx, in, j.cmd.Conversation, command, e.budgetNow())
	}
	if err != nil {
		j.logger().Warn("reply budget not readable; typing unchecked", "err", err)
		return false
	}
	j.budget = &s
	return code != 0 && e.predict(j, code)
}

// typed records a typing command WeChat accepted.
func (e *Egress) typed(ctx context.Context, j *job, command string) {
	if !e.tracking() {
		return
	}
	bctx, cancel := e.natsCtx(ctx)
	defer cancel()
	s, err := e.budget.Typed(bctx, j.cmd.Conversation, command, e.budgetNow())
	if err != nil {
		j.logger().Warn("reply budget: typing state not recorded", "err", err)
		return
	}
	j.budget = &s
}

// resultBudget is the budget a result reports: what is left after the
// command, when tracked.
func (e *Egress) resultBudget(j *job) *events.ReplyBudget {
	if j.budget == nil {
		return nil
	}
	b := j.budget.Budget(e.budgetNow())
	return &b
}
