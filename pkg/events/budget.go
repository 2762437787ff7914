package events

import "time"

// Triggers of a reply budget: the kind of user action that opened the send
// window ([ReplyBudget.Trigger]).
const (
	// TriggerMessage is a user message: it allows 5 sends within 48 hours
	// of it.
	TriggerMessage = "message"
	// TriggerEnterSession is a user entering the customer-service session
	// (user_enter_tempsession): it allows 2 sends within 1 minute of it.
	TriggerEnterSession = "enter_session"
)

// ReplyBudget is what WeChat still lets a bot send in one conversation: a
// number of sends until a time. On an inbound event ([InboundData]) it is
// the budget the push granted, with its Trigger; on a send result
// ([ResultData]) the budget left after the command, without a Trigger.
// Remaining is 0 once ExpiresAt has passed.
type ReplyBudget struct {
	// Remaining is the number of sends WeChat still accepts.
	Remaining int `json:"remaining"`
	// ExpiresAt ends the send window (RFC 3339).
	ExpiresAt time.Time `json:"expires_at"`
	// Trigger is [TriggerMessage] or [TriggerEnterSession]: what opened
	// the window. Empty on results.
	Trigger string `json:"trigger,omitempty"`
}
