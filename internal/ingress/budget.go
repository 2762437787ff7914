package ingress

import (
	"context"
	"time"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// grantTimeout bounds the budget's write: a budget store that does not
// answer costs a push at most this, never the push.
const grantTimeout = time.Second

// triggerOf returns the reply-budget trigger of a push: a user message, or
// user_enter_tempsession; "" for every other push (other events, pushes
// without a user).
func triggerOf(in *events.Inbound) string {
	m := in.Message
	switch {
	case in.OpenID == events.NoOpenID || m.MsgType == "":
		return ""
	case m.MsgType != events.MsgTypeEvent:
		return events.TriggerMessage
	case m.Event == "user_enter_tempsession":
		return events.TriggerEnterSession
	}
	return ""
}

// noWait is the wait of a push that writes no grant.
func noWait() {}

// grant applies the push to its conversation's reply budget, sets
// in.Budget to what it grants (data.reply_budget), and returns a wait that
// returns once the write is done; the push is answered only after it.
//
// A user message's grant does not depend on the stored budget (it resets
// the window), so it is computed here and written concurrently with the
// event's publish: the write costs the push no round trip of its own. A
// command the bot publishes on seeing the event may then reach an egress
// before the write is stored; the egress re-verifies from the stored
// event before it refuses or counts a send (budget.Tracker.CatchUp).
//
// A user_enter_tempsession (rare) grants according to the stored budget,
// so it is written before the publish, and the event carries the result.
//
// A budget that cannot be written is logged and counted; the push is
// stored all the same: a message's event with the budget it grants (the
// egress applies it from the event when needed), an enter-session's
// without data.reply_budget.
func (s *Server) grant(ctx context.Context, in *events.Inbound) func() {
	trigger := triggerOf(in)
	if s.budget == nil || trigger == "" {
		return noWait
	}
	now := s.now()
	at := in.Time()
	if at.IsZero() {
		at = now.Truncate(time.Second)
	}
	conv := events.Conversation{AppID: in.AppID, BusinessID: in.BusinessID, OpenID: in.OpenID}
	if trigger == events.TriggerEnterSession {
		st, err := s.writeGrant(ctx, conv, trigger, at, in)
		if err == nil {
			b := st.Granted(now)
			in.Budget = &b
		}
		return noWait
	}
	b := budget.MessageGrant(at, now)
	in.Budget = &b
	// The grant's write is sent now, and the event's publish goes out
	// right behind it (usually in the same write to the server).
	ctx, cancel := context.WithTimeout(ctx, grantTimeout)
	stored := s.budget.StartGrant(ctx, conv, trigger, at, in.ID)
	return func() {
		defer cancel()
		if _, err := stored(); err != nil {
			s.grantFailed(in, err)
		}
	}
}

// writeGrant stores the grant of push in, logging and counting a failure.
func (s *Server) writeGrant(ctx context.Context, conv events.Conversation, trigger string, at time.Time, in *events.Inbound) (budget.State, error) {
	ctx, cancel := context.WithTimeout(ctx, grantTimeout)
	defer cancel()
	st, err := s.budget.Grant(ctx, conv, trigger, at, in.ID)
	if err != nil {
		s.grantFailed(in, err)
	}
	return st, err
}

// grantFailed logs and counts a grant that could not be written.
func (s *Server) grantFailed(in *events.Inbound, err error) {
	s.metrics.budgetErrors.Inc()
	s.logger.Error("reply budget not granted; storing the push all the same", "appid", in.AppID, "subject", in.Subject, "event_id", in.ID, "err", err)
}
