package ingress

import (
	"context"
	"time"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// grantTimeout bounds the budget's write before a publish: a budget store
// that does not answer costs a push at most this, never the push.
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

// grant applies the push to its conversation's reply budget before the
// event is published, so that a command a bot publishes on seeing the
// event finds the window open, and sets in.Budget to what it granted. A
// budget that cannot be written is logged and counted; the push is stored
// all the same, without data.reply_budget.
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
	ctx, cancel := context.WithTimeout(ctx, grantTimeout)
	defer cancel()
	conv := events.Conversation{AppID: in.AppID, BusinessID: in.BusinessID, OpenID: in.OpenID}
	st, err := s.budget.Grant(ctx, conv, trigger, at, in.ID)
	if err != nil {
		s.metrics.budgetErrors.Inc()
		s.logger.Error("reply budget not granted; storing the push without it", "appid", in.AppID, "subject", in.Subject, "event_id", in.ID, "err", err)
		return
	}
	b := st.Granted(now)
	in.Budget = &b
}
