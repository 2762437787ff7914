package events

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// NewCommandMsg builds the NATS message of a command as a bot publishes it:
// a structured CloudEvent on wxkf.out.<appid>.<bid>.<openid>.<verb> whose id
// is also its Nats-Msg-Id (so a republished command is dropped), with data
// (a [SendData], [TypingData] or any value encoding to their JSON), from
// source. traceparent, when not empty, continues the trace of the event
// being answered. Publish it with JetStream to get the stream's ack.
//
// It reads the message back with [ParseCommand] and returns that error for
// a command the egress would refuse as malformed (nil data, a text without
// content, a typing command for send, …).
func NewCommandMsg(conv Conversation, verb, id, source string, data any, traceparent string) (*nats.Msg, error) {
	subject, err := CommandSubject(conv, verb)
	if err != nil {
		return nil, err
	}
	if id == "" || len(id) > MaxCommandIDLength {
		return nil, fmt.Errorf("%w: command id must have 1 to %d bytes", ErrInvalid, MaxCommandIDLength)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("command data: %w", err)
	}
	body, err := json.Marshal(commandEnvelope{
		SpecVersion: SpecVersion, ID: id, Source: source, Type: TypeCommandPrefix + verb, Data: raw,
	})
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(HeaderMsgID, id)
	msg.Header.Set(HeaderContentType, ContentType)
	if traceparent != "" {
		msg.Header.Set(HeaderTraceParent, traceparent)
	}
	if _, err := ParseCommand(msg.Subject, msg.Header, msg.Data); err != nil {
		return nil, err
	}
	return msg, nil
}

// commandEnvelope is a structured-mode command event as NewCommandMsg
// writes it.
type commandEnvelope struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source,omitempty"`
	Type        string          `json:"type"`
	Data        json.RawMessage `json:"data"`
}
