package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Handover to human agents: an app whose handover.mode is bot asks a bot,
// per user message, whether WeChat should hand that message to its human
// customer-service agents (passive reply transfer_customer_service).
const (
	// DecidePrefix starts every decision request subject.
	DecidePrefix = "wxkf.decide."
	// DecideSubjects matches every decision request: a deciding bot
	// subscribes to it (a queue group spreads requests over replicas).
	DecideSubjects = "wxkf.decide.>"
	// TypeConversationTransferred is the CloudEvent type of the event
	// published when a message was handed to human agents.
	TypeConversationTransferred = "weixin.kf.conversation.transferred"
	// KindConversationTransferred is the last token of its subject,
	// wxkf.in.<appid>.<bid>.<openid>.conversation_transferred.
	KindConversationTransferred = "conversation_transferred"
	// HandledByBot is [InboundData.HandledBy] of a conversation with no
	// handover in the last [HandoverWindow]: the bots answer it.
	HandledByBot = "bot"
	// HandledByHumanPending is [InboundData.HandledBy] of a message that
	// reached kfbridge within [HandoverWindow] after a handover: the user
	// waits in the agents' queue, or an agent already closed the session;
	// kfbridge cannot tell which.
	HandledByHumanPending = "human_pending"
	// HandoverWindow is how long WeChat routes a conversation to human
	// agents after a handover unless an agent closes it first.
	HandoverWindow = 30 * time.Minute
)

// DecideSubject returns wxkf.decide.<appid>.<bid>.<openid>, or an error
// wrapping [ErrToken] naming the first bad token.
func DecideSubject(appid, bid, openid string) (string, error) {
	for _, t := range [...]struct{ name, value string }{{"appid", appid}, {"bid", bid}, {"openid", openid}} {
		if err := CheckToken(t.name, t.value); err != nil {
			return "", err
		}
	}
	return DecidePrefix + appid + "." + bid + "." + openid, nil
}

// DecideAnswer is a bot's answer to a decision request (whose body is the
// [InboundEvent] being stored): Transfer true hands the message to human
// agents, false keeps it with the bots. Only the first answer within the
// app's handover.deadline counts; none keeps it with the bots.
type DecideAnswer struct {
	Transfer bool `json:"transfer"`
}

// ParseDecideAnswer decodes a bot's answer. Errors wrap [ErrInvalid].
func ParseDecideAnswer(body []byte) (DecideAnswer, error) {
	var a struct {
		Transfer *bool `json:"transfer"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return DecideAnswer{}, fmt.Errorf("%w: decide answer: %w", ErrInvalid, err)
	}
	if a.Transfer == nil {
		return DecideAnswer{}, fmt.Errorf("%w: decide answer: transfer is required", ErrInvalid)
	}
	return DecideAnswer{Transfer: *a.Transfer}, nil
}

// TransferredEvent is the CloudEvent of type [TypeConversationTransferred]
// on wxkf.in.<appid>.<bid>.<openid>.conversation_transferred: the message
// MessageID was answered with transfer_customer_service.
type TransferredEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	AppID           string          `json:"appid"`
	BusinessID      string          `json:"businessid"`
	Data            TransferredData `json:"data"`
}

// TransferredData is the data of a [TransferredEvent].
type TransferredData struct {
	AppID      string `json:"appid"`
	BusinessID string `json:"business_id"`
	OpenID     string `json:"openid"`
	// MessageID is the id of the handed-over message's event.
	MessageID string `json:"message_id"`
	// MsgID is its MsgId, when it had one.
	MsgID string `json:"msg_id,omitempty"`
	// DecidedBy is the app's handover mode that decided: always, rules or bot.
	DecidedBy string `json:"decided_by"`
	// TransferredAt is when the ingress answered the handover;
	// Until is TransferredAt + [HandoverWindow], after which WeChat routes
	// the user's messages to kfbridge again.
	TransferredAt time.Time `json:"transferred_at"`
	Until         time.Time `json:"until"`
}
