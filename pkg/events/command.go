package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kfbridge/kfbridge/internal/rfc3339"
	"github.com/nats-io/nats.go"
)

// Subjects and types of commands from bots and their results.
const (
	// OutboundPrefix starts the subject of a command from a bot:
	// wxkf.out.<appid>.<bid>.<openid>.<verb>.
	OutboundPrefix = "wxkf.out."
	// OutboundSubjects matches every command subject.
	OutboundSubjects = "wxkf.out.>"
	// ResultPrefix starts the subject of a command's outcome:
	// wxkf.result.<appid>.<bid>.<openid>.<outcome>.
	ResultPrefix = "wxkf.result."
	// ResultSubjects matches every result subject.
	ResultSubjects = "wxkf.result.>"
	// DeadLetterPrefix starts the subject a command that failed for good is
	// kept on: wxkf.dlq.<appid>.<bid>.<openid>.<verb>.
	DeadLetterPrefix = "wxkf.dlq."
	// DeadLetterSubjects matches every dead-letter subject.
	DeadLetterSubjects = "wxkf.dlq.>"

	// VerbSend is the verb of a command that sends a message ([SendData]).
	VerbSend = "send"
	// VerbTyping is the verb of a command that shows or cancels "typing"
	// ([TypingData]).
	VerbTyping = "typing"

	// TypeCommandPrefix starts a command's type: weixin.kf.command.<verb>.
	TypeCommandPrefix = "weixin.kf.command."
	// TypeResultPrefix starts a result's type: weixin.kf.result.<outcome>.
	TypeResultPrefix = "weixin.kf.result."

	// OutcomeDelivered is the outcome of a command WeChat accepted.
	OutcomeDelivered = "delivered"
	// OutcomeFailed is the outcome of a command that will not be delivered;
	// [ResultData.Reason] says why.
	OutcomeFailed = "failed"
)

// Conversation is one user's session with one app and business: the unit
// of ordering for commands.
type Conversation struct {
	// AppID is the mini program's AppID, BusinessID the sub-merchant
	// ([MainBusinessID] for the main account) and OpenID the user: the
	// subject tokens <appid>.<bid>.<openid>.
	AppID, BusinessID, OpenID string
}

// Validate reports, wrapping [ErrToken], the first token that is not a
// [ValidToken].
func (c Conversation) Validate() error {
	if err := CheckToken("appid", c.AppID); err != nil {
		return err
	}
	if err := CheckToken("bid", c.BusinessID); err != nil {
		return err
	}
	return CheckToken("openid", c.OpenID)
}

// String returns appid.bid.openid.
func (c Conversation) String() string { return c.AppID + "." + c.BusinessID + "." + c.OpenID }

// CommandSubject returns wxkf.out.<appid>.<bid>.<openid>.<verb>, or an
// error wrapping [ErrToken] for a bad token or verb.
func CommandSubject(c Conversation, verb string) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	if verb != VerbSend && verb != VerbTyping {
		return "", fmt.Errorf("%w: verb %.64q", ErrToken, verb)
	}
	return OutboundPrefix + c.String() + "." + verb, nil
}

// ParseCommandSubject splits a command subject — as published,
// wxkf.out.<appid>.<bid>.<openid>.<verb>, or as stored in the partitioned
// stream, wxkf.outp.<partition>.<appid>.<bid>.<openid>.<verb> — into its
// conversation and verb.
func ParseCommandSubject(subject string) (Conversation, string, error) {
	var rest string
	switch {
	case strings.HasPrefix(subject, OutboundPrefix):
		rest = subject[len(OutboundPrefix):]
	case strings.HasPrefix(subject, partitionedPrefix):
		rest = subject[len(partitionedPrefix):]
		dot := strings.IndexByte(rest, '.')
		if dot < 0 {
			return Conversation{}, "", fmt.Errorf("%w: command subject %.128q", ErrInvalid, subject)
		}
		rest = rest[dot+1:]
	default:
		return Conversation{}, "", fmt.Errorf("%w: command subject %.128q", ErrInvalid, subject)
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return Conversation{}, "", fmt.Errorf("%w: command subject %.128q: want wxkf.out.<appid>.<bid>.<openid>.<verb>", ErrInvalid, subject)
	}
	c := Conversation{AppID: parts[0], BusinessID: parts[1], OpenID: parts[2]}
	if err := c.Validate(); err != nil {
		return Conversation{}, "", err
	}
	if parts[3] != VerbSend && parts[3] != VerbTyping {
		return Conversation{}, "", fmt.Errorf("%w: verb %.64q: want send or typing", ErrInvalid, parts[3])
	}
	return c, parts[3], nil
}

// Command is a command as [ParseCommand] read it: where it goes, who sent
// it, and what it says, decoded and checked against the contract.
type Command struct {
	// ID is the command's unique id: the CloudEvent id, or the Nats-Msg-Id
	// of a bare-data command; 1 to [MaxCommandIDLength] bytes.
	ID string
	// Conversation and Verb come from the subject.
	Conversation
	Verb string
	// Type is weixin.kf.command.<verb>.
	Type string
	// Source is the CloudEvent source the bot set ("" for bare data).
	Source string
	// Send is the data of a [VerbSend] command, Typing that of a
	// [VerbTyping] command; the other is nil.
	Send   *SendData
	Typing *TypingData
	// Data is the data as published, byte for byte: the "data" member of a
	// structured command, the whole body of a bare one. Send or Typing is
	// its decoded form; the egress digests it to tell a republished command
	// from another one that reuses its id.
	Data json.RawMessage
	// TraceParent is the W3C trace context the bot propagated, if any.
	TraceParent string
	// Structured is true when the body was a whole CloudEvent, false for
	// bare data.
	Structured bool
}

// CommandError is the error of [ParseCommand]: why a command does not fit
// the contract, and what is known of it, so that its sender can still get a
// failed result. It wraps [ErrToken] or [ErrInvalid].
type CommandError struct {
	// Conversation and Verb come from the subject; Verb is "" when the
	// subject is not a usable command subject, and then there is no
	// conversation to answer in.
	Conversation Conversation
	Verb         string
	// ID is the command's id as far as it could be read: the CloudEvent's
	// id when the event is well-formed JSON with a string id, else the
	// Nats-Msg-Id header; it may be "" or longer than [MaxCommandIDLength].
	ID string
	// Err says what is wrong.
	Err error
}

// Error describes the command and what is wrong with it.
func (e *CommandError) Error() string {
	if e.Verb == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("command %.256q (%s on %s): %v", e.ID, e.Verb, e.Conversation, e.Err)
}

// Unwrap returns [CommandError.Err].
func (e *CommandError) Unwrap() error { return e.Err }

// ParseCommand reads a command from its subject, headers and body, and
// checks all of it against the contract (schemas/out in the repository):
// the subject ([ParseCommandSubject]), the envelope and the data, which it
// decodes into [Command.Send] or [Command.Typing].
//
// The body is a structured CloudEvent — when the Content-Type header is
// [ContentType], or the body is an object with a "specversion" member —
// whose type must name the subject's verb; or it is the bare data, whose id
// is then the Nats-Msg-Id header. Reading is strict, exactly as the JSON
// Schemas: member names are case-sensitive, unknown members, null values,
// repeated member names and anything after the object are errors.
//
// Every error is a [*CommandError] wrapping [ErrInvalid] (or [ErrToken] for
// a bad subject token) that names the conversation, verb and id as far as
// they are known.
func ParseCommand(subject string, hdr nats.Header, body []byte) (Command, error) {
	conv, verb, err := ParseCommandSubject(subject)
	if err != nil {
		return Command{}, &CommandError{Err: err}
	}
	cmd := Command{Conversation: conv, Verb: verb, Type: TypeCommandPrefix + verb}
	var msgID string
	if hdr != nil {
		cmd.TraceParent = hdr.Get(HeaderTraceParent)
		msgID = hdr.Get(nats.MsgIdHdr)
	}
	var buf [12]member
	ms, syntaxErr := objectMembers(body, buf[:0])
	cmd.Structured = hdr != nil && strings.HasPrefix(hdr.Get(HeaderContentType), ContentType) ||
		slices.ContainsFunc(ms, func(m member) bool { return m.name == "specversion" })
	if cmd.Structured {
		if syntaxErr == nil {
			err = cmd.readEvent(ms)
		} else {
			err = fmt.Errorf("command event: %w", syntaxErr)
		}
		if cmd.ID == "" {
			cmd.ID = msgID
		}
	} else {
		cmd.ID, cmd.Data = msgID, body
		switch {
		case syntaxErr != nil:
			err = fmt.Errorf("command data: %w", syntaxErr)
		case cmd.ID == "":
			err = errors.New("bare command data needs a Nats-Msg-Id header")
		case len(cmd.ID) > MaxCommandIDLength:
			err = fmt.Errorf("command id (Nats-Msg-Id) longer than %d bytes", MaxCommandIDLength)
		default:
			err = cmd.decodeData(ms)
		}
	}
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			err = fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return Command{}, &CommandError{Conversation: conv, Verb: verb, ID: cmd.ID, Err: err}
	}
	return cmd, nil
}

// readEvent reads the envelope members ms of a structured command, then
// its data. It reads every member, the id whatever its place, before it
// reports the first problem.
func (c *Command) readEvent(ms []member) error {
	var first error
	bad := func(format string, args ...any) {
		if first == nil {
			first = fmt.Errorf("command event: "+format, args...)
		}
	}
	if name, ok := repeatedName(ms); ok {
		bad("member %.64q appears more than once", name)
	}
	var data []byte
	var haveSpec, haveID, haveType bool
	for _, m := range ms {
		if !validAttributeName(m.name) {
			bad("member name %.64q: want 1 to 20 of a-z and 0-9 (a CloudEvents attribute name)", m.name)
			continue
		}
		if m.name == "data" {
			data = m.value
			continue
		}
		if m.name != "specversion" && m.name != "id" && m.name != "source" && m.name != "type" &&
			m.name != "subject" && m.name != "time" && m.name != "datacontenttype" && m.name != "dataschema" {
			// An extension attribute of the bot's own.
			if k := m.value[0]; k == '{' || k == '[' || k == 'n' {
				bad("extension attribute %s: want a string, number or boolean, got %s", m.name, jsonKind(m.value))
			}
			continue
		}
		s, err := stringValue(m.name, m.value)
		if err != nil {
			bad("%w", err)
			continue
		}
		switch m.name {
		case "specversion":
			haveSpec = true
			if s != SpecVersion {
				bad("specversion %.64q: want %q", s, SpecVersion)
			}
		case "id":
			haveID, c.ID = true, s
			if s == "" || len(s) > MaxCommandIDLength {
				bad("id must have 1 to %d bytes", MaxCommandIDLength)
			}
		case "source":
			c.Source = s
		case "type":
			haveType = true
			if s != c.Type {
				bad("type %.64q on a %s subject: want %q", s, c.Verb, c.Type)
			}
		case "time":
			if !rfc3339.Valid(s) {
				bad("time %.64q is not an RFC 3339 date-time", s)
			}
		case "datacontenttype":
			if s != DataContentType {
				bad("datacontenttype %.64q: want %q", s, DataContentType)
			}
		case "dataschema":
			if !validURI(s) {
				bad("dataschema %.64q is not an absolute URI", s)
			}
		}
	}
	switch {
	case !haveSpec:
		bad("no specversion")
	case !haveID:
		bad("no id")
	case !haveType:
		bad("no type")
	case data == nil:
		bad("no data")
	}
	if first != nil {
		return first
	}
	c.Data = data
	var buf [8]member
	dms, err := objectMembers(data, buf[:0])
	if err != nil {
		return fmt.Errorf("command data: want an object, got %s", jsonKind(data))
	}
	return c.decodeData(dms)
}

// decodeData decodes the members ms of the command's data into Send or
// Typing, by its verb.
func (c *Command) decodeData(ms []member) error {
	var err error
	if c.Verb == VerbTyping {
		c.Typing, err = decodeTypingData(ms)
	} else {
		c.Send, err = decodeSendData(ms)
	}
	if err != nil {
		return fmt.Errorf("command data: %w", err)
	}
	return nil
}

// MaxCommandIDLength bounds a command id ([Command.ID]) in bytes.
const MaxCommandIDLength = 256
