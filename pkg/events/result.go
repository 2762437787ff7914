package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ResultData is the data of a command's final outcome, published once per
// command on wxkf.result.<appid>.<bid>.<openid>.<outcome> ([ResultSubject])
// in a [ResultEvent].
type ResultData struct {
	// CommandID is the command's id.
	CommandID string `json:"command_id"`
	// Verb is the command's verb, [VerbSend] or [VerbTyping].
	Verb string `json:"verb"`
	// AppID, BusinessID and OpenID are the command's conversation.
	AppID      string `json:"appid"`
	BusinessID string `json:"business_id"`
	OpenID     string `json:"openid"`
	// Outcome is [OutcomeDelivered] or [OutcomeFailed].
	Outcome string `json:"outcome"`
	// ErrCode and ErrMsg are WeChat's answer (0 and "ok" when delivered), or
	// kfbridge's own negative codes for failures before any call.
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	// Attempts counts calls of WeChat's API for this command.
	Attempts int `json:"attempts"`
	// Reason classifies a failure: malformed, unknown_app, permanent,
	// window, quota, transient, token, media, expired, maybe_delivered,
	// duplicate_id or budget (refused before any call by
	// egress.reply_budget enforce, errcode -1008).
	Reason string `json:"reason,omitempty"`
	// MaybeDelivered is true when a request was fully written but its
	// answer was lost: WeChat may have delivered it, so it was not resent.
	MaybeDelivered bool `json:"maybe_delivered,omitempty"`
	// MediaID is the media id egress uploaded for an image by URL or object.
	MediaID string `json:"media_id,omitempty"`
	// Parts is set for a text longer than the egress's text limit
	// (egress.text_limit, 2048 bytes by default), which is sent as this many
	// messages, in order; absent (0) for a command sent as one message.
	Parts int `json:"parts,omitempty"`
	// PartsSent counts the parts WeChat accepted, with Parts: all of them
	// when delivered; when failed, the parts before the one that failed (for
	// reason maybe_delivered, the part after them may have been delivered
	// too). Parts are never sent twice. Absent when 0.
	PartsSent int `json:"parts_sent,omitempty"`
	// ReplyBudget is the conversation's reply budget left after the
	// command, when the bridge tracks budgets (egress.reply_budget observe
	// or enforce).
	ReplyBudget *ReplyBudget `json:"reply_budget,omitempty"`
	// BudgetExceeded is true when the reply budget predicted WeChat's
	// refusal and the command was sent anyway (egress.reply_budget
	// observe).
	BudgetExceeded bool `json:"budget_exceeded,omitempty"`
	// BudgetCut is set when the reply budget could not hold every part of
	// a text sent in parts and its budget policy sent only those it held:
	// [BudgetPolicyTruncate] (the last part sent ends with "…") or
	// [BudgetPolicyPartial]. The result is delivered with PartsSent <
	// Parts. Absent otherwise.
	BudgetCut string `json:"budget_cut,omitempty"`
	// Time is when the outcome was decided.
	Time time.Time `json:"time"`
}

// ResultEvent is the CloudEvent of a command's final outcome, as the
// egress publishes it and bots receive it: build it with [NewResult], read
// it with [ParseResult].
type ResultEvent struct {
	// SpecVersion is [SpecVersion], "1.0".
	SpecVersion string `json:"specversion"`
	// ID is the command's id.
	ID string `json:"id"`
	// Source is /wxkf/<appid>/<bid>/egress.
	Source string `json:"source"`
	// Type is weixin.kf.result.<outcome> ([TypeResultPrefix]).
	Type string `json:"type"`
	// Subject is the user's openid ([NoOpenID] when the push has none).
	Subject string `json:"subject"`
	// Time is when the outcome was decided.
	Time time.Time `json:"time"`
	// DataContentType is [DataContentType], application/json.
	DataContentType string `json:"datacontenttype"`
	// AppID and BusinessID are the conversation's app and sub-merchant,
	// as in the subject (CloudEvent extension attributes).
	AppID      string `json:"appid"`
	BusinessID string `json:"businessid"`
	// TraceParent is the CloudEvents distributed-tracing extension
	// attribute: the W3C traceparent of the egress's handling of the
	// command (continuing the command's trace), equal to the message's
	// traceparent header. Absent in results stored before it.
	TraceParent string `json:"traceparent,omitempty"`
	// Data is the outcome.
	Data ResultData `json:"data"`
}

// ResultSubject returns wxkf.result.<appid>.<bid>.<openid>.<outcome>, or an
// error wrapping [ErrToken] for a bad token or outcome.
func ResultSubject(c Conversation, outcome string) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	if outcome != OutcomeDelivered && outcome != OutcomeFailed {
		return "", fmt.Errorf("%w: outcome %q", ErrToken, outcome)
	}
	return ResultPrefix + c.String() + "." + outcome, nil
}

// NewResult returns the result event of d: its id is the command id,
// source /wxkf/<appid>/<bid>/egress, type weixin.kf.result.<outcome>,
// subject the openid, time d.Time. Encoded with encoding/json it is the
// body the egress publishes on [ResultSubject] with Nats-Msg-Id
// <appid>:<command id> (with a suffix, :<reason>:<hash>, for a command
// that does not own its id: malformed, unknown_app, duplicate_id).
func NewResult(d ResultData) ResultEvent {
	return ResultEvent{
		SpecVersion: SpecVersion, ID: d.CommandID,
		Source: SourcePrefix + d.AppID + "/" + d.BusinessID + "/egress",
		Type:   TypeResultPrefix + d.Outcome, Subject: d.OpenID, Time: d.Time,
		DataContentType: DataContentType, AppID: d.AppID, BusinessID: d.BusinessID, Data: d,
	}
}

// ParseResult decodes the body of a message from wxkf.result.… and checks
// the attributes every result has. Errors wrap [ErrInvalid].
func ParseResult(body []byte) (ResultEvent, error) {
	var ev ResultEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return ResultEvent{}, fmt.Errorf("%w: result: %w", ErrInvalid, err)
	}
	switch {
	case ev.SpecVersion != SpecVersion:
		return ResultEvent{}, fmt.Errorf("%w: result specversion %q", ErrInvalid, ev.SpecVersion)
	case ev.ID == "" || ev.Source == "":
		return ResultEvent{}, fmt.Errorf("%w: result id and source are required", ErrInvalid)
	case !strings.HasPrefix(ev.Type, TypeResultPrefix):
		return ResultEvent{}, fmt.Errorf("%w: result type %q", ErrInvalid, ev.Type)
	}
	return ev, nil
}
