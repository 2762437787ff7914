package events

import (
	"encoding/json"
	"fmt"
	"strings"

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
		return "", fmt.Errorf("%w: verb %q", ErrToken, verb)
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
			return Conversation{}, "", fmt.Errorf("%w: command subject %q", ErrInvalid, subject)
		}
		rest = rest[dot+1:]
	default:
		return Conversation{}, "", fmt.Errorf("%w: command subject %q", ErrInvalid, subject)
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return Conversation{}, "", fmt.Errorf("%w: command subject %q: want wxkf.out.<appid>.<bid>.<openid>.<verb>", ErrInvalid, subject)
	}
	c := Conversation{AppID: parts[0], BusinessID: parts[1], OpenID: parts[2]}
	if err := c.Validate(); err != nil {
		return Conversation{}, "", err
	}
	if parts[3] != VerbSend && parts[3] != VerbTyping {
		return Conversation{}, "", fmt.Errorf("%w: verb %q: want send or typing", ErrInvalid, parts[3])
	}
	return c, parts[3], nil
}

// Command is a command as the egress received it ([ParseCommand]): where it
// goes, what it says.
type Command struct {
	// ID is the command's unique id: the CloudEvent id, or the Nats-Msg-Id
	// of a bare-data command.
	ID string
	// Conversation and Verb come from the subject.
	Conversation
	Verb string
	// Type is weixin.kf.command.<verb>.
	Type string
	// Source is the CloudEvent source the bot set ("" for bare data).
	Source string
	// Data is the command's data: a [SendData] or [TypingData] as JSON.
	Data json.RawMessage
	// TraceParent is the W3C trace context the bot propagated, if any.
	TraceParent string
	// Structured is true when the body was a whole CloudEvent, false for
	// bare data.
	Structured bool
}

// commandEnvelope is a structured-mode command event.
type commandEnvelope struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source,omitempty"`
	Type        string          `json:"type"`
	Data        json.RawMessage `json:"data"`
}

// ParseCommand reads a command from its subject, headers and body. The body
// is a structured CloudEvent (detected by the Content-Type header or a
// "specversion" member) or the bare data, whose id is then the Nats-Msg-Id
// header. It checks the envelope only; the data is validated against the
// schema by the egress.
func ParseCommand(subject string, hdr nats.Header, body []byte) (Command, error) {
	conv, verb, err := ParseCommandSubject(subject)
	if err != nil {
		return Command{}, err
	}
	cmd := Command{Conversation: conv, Verb: verb, Type: TypeCommandPrefix + verb}
	if hdr != nil {
		cmd.TraceParent = hdr.Get(HeaderTraceParent)
	}
	var env commandEnvelope
	structured := hdr != nil && strings.HasPrefix(hdr.Get(HeaderContentType), ContentType)
	if !structured {
		// Sniff: a structured event has specversion at the top level.
		var probe struct {
			SpecVersion *string `json:"specversion"`
		}
		if json.Unmarshal(body, &probe) == nil && probe.SpecVersion != nil {
			structured = true
		}
	}
	if structured {
		if err := json.Unmarshal(body, &env); err != nil {
			return Command{}, fmt.Errorf("%w: command event: %w", ErrInvalid, err)
		}
		switch {
		case env.SpecVersion != SpecVersion:
			return Command{}, fmt.Errorf("%w: command specversion %q", ErrInvalid, env.SpecVersion)
		case env.ID == "":
			return Command{}, fmt.Errorf("%w: command has no id", ErrInvalid)
		case env.Type != "" && env.Type != cmd.Type:
			return Command{}, fmt.Errorf("%w: command type %q on a %s subject", ErrInvalid, env.Type, verb)
		case len(env.Data) == 0:
			return Command{}, fmt.Errorf("%w: command has no data", ErrInvalid)
		}
		cmd.ID, cmd.Source, cmd.Data, cmd.Structured = env.ID, env.Source, env.Data, true
	} else {
		if hdr != nil {
			cmd.ID = hdr.Get(nats.MsgIdHdr)
		}
		if cmd.ID == "" {
			return Command{}, fmt.Errorf("%w: bare command data needs a Nats-Msg-Id header", ErrInvalid)
		}
		if !json.Valid(body) {
			return Command{}, fmt.Errorf("%w: command data is not JSON", ErrInvalid)
		}
		cmd.Data = body
	}
	if len(cmd.ID) > MaxCommandIDLength {
		return Command{}, fmt.Errorf("%w: command id longer than %d bytes", ErrInvalid, MaxCommandIDLength)
	}
	return cmd, nil
}

// MaxCommandIDLength bounds a command id.
const MaxCommandIDLength = 256

// SendData is the data of a send command: WeChat's own send body without
// touser and businessid, which come from the subject. Exactly one of the
// objects matching MsgType is set.
type SendData struct {
	MsgType         string               `json:"msgtype"`
	Text            *SendText            `json:"text,omitempty"`
	Image           *SendImage           `json:"image,omitempty"`
	Link            *SendLink            `json:"link,omitempty"`
	MiniProgramPage *SendMiniProgramPage `json:"miniprogrampage,omitempty"`
}

// SendText is a text message.
type SendText struct {
	Content string `json:"content"`
}

// SendImage is an image by exactly one of: a WeChat media_id, an http(s)
// URL egress downloads and uploads, or the name of an object in the media
// object store (bucket WXKF_MEDIA) egress uploads. Uploaded media ids are
// cached for less than their 3-day life.
type SendImage struct {
	MediaID string `json:"media_id,omitempty"`
	URL     string `json:"url,omitempty"`
	Object  string `json:"object,omitempty"`
}

// SendLink is a link card.
type SendLink struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	ThumbURL    string `json:"thumb_url"`
}

// SendMiniProgramPage is a mini-program card; its thumbnail is a media id,
// or a URL or object egress uploads.
type SendMiniProgramPage struct {
	Title        string `json:"title"`
	PagePath     string `json:"pagepath"`
	ThumbMediaID string `json:"thumb_media_id,omitempty"`
	ThumbURL     string `json:"thumb_url,omitempty"`
	ThumbObject  string `json:"thumb_object,omitempty"`
}

// TypingData is the data of a typing command.
type TypingData struct {
	// Command is Typing or CancelTyping.
	Command string `json:"command"`
}

// Values of [TypingData.Command].
const (
	// TypingOn shows "typing" to the user.
	TypingOn = "Typing"
	// TypingOff cancels it.
	TypingOff = "CancelTyping"
)
