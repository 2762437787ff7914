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

// grant applies the push to its conversation's reply budget and sets
// in.Budget to what it grants (data.reply_budget).
//
// A user message's grant does not depend on the stored budget (it resets
// the window): it is computed here and not stored. The event carries it,
// and the egress applies it from the stored event before each send
// (budget.Tracker.SyncTakeN), as does budget.get: a user message, the hot
// path, costs the ingress no write but the event's own.
//
// A user_enter_tempsession (rare) grants according to the window a
// message may have opened, so the grant of the conversation's latest
// stored message is applied first (budget.Tracker.CatchUp), then the
// enter-session's grant is written before the publish, and the event
// carries the result. A budget that cannot be read or written is logged
// and counted; the push is stored all the same, without
// data.reply_budget.
func (s *Server) grant(ctx context.Context, in *events.Inbound) {
	trigger := triggerOf(in)
	if s.budget == nil || trigger == "" {
		return
	}
	now := s.now()
	at := in.Time()
	if at.IsZero() {
		at = now.Truncate(time.Second)
	}
	if trigger == events.TriggerMessage {
		b := budget.MessageGrant(at, now)
		in.Budget = &b
		return
	}
	conv := events.Conversation{AppID: in.AppID, BusinessID: in.BusinessID, OpenID: in.OpenID}
	st, err := s.writeGrant(ctx, conv, trigger, at, in)
	if err == nil {
		b := st.Granted(now)
		in.Budget = &b
	}
}

// writeGrant stores the grant of push in after the grant of the
// conversation's latest stored message, logging and counting a failure.
func (s *Server) writeGrant(ctx context.Context, conv events.Conversation, trigger string, at time.Time, in *events.Inbound) (budget.State, error) {
	ctx, cancel := context.WithTimeout(ctx, grantTimeout)
	defer cancel()
	st, err := s.catchUpGrant(ctx, conv, trigger, at, in)
	if err != nil {
		s.grantFailed(in, err)
	}
	return st, err
}

func (s *Server) catchUpGrant(ctx context.Context, conv events.Conversation, trigger string, at time.Time, in *events.Inbound) (budget.State, error) {
	stream, err := s.in.Stream(ctx)
	if err != nil {
		return budget.State{}, err
	}
	if _, _, err := s.budget.CatchUp(ctx, stream, conv); err != nil {
		return budget.State{}, err
	}
	return s.budget.Grant(ctx, conv, trigger, at, in.ID)
}

// grantFailed logs and counts a grant that could not be written.
func (s *Server) grantFailed(in *events.Inbound, err error) {
	s.metrics.budgetErrors.Inc()
	s.logger.Error("reply budget not granted; storing the push all the same", "appid", in.AppID, "subject", in.Subject, "event_id", in.ID, "err", err)
}
