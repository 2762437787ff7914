package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// InboundEvent is a push as a bot receives it: the CloudEvent that is the
// whole body of a message on wxkf.in.….
type InboundEvent struct {
	// SpecVersion is [SpecVersion], "1.0".
	SpecVersion string `json:"specversion"`
	// ID is the MsgId of a message as a decimal string, or a deterministic
	// hash of an event's fields: a retried push has the same id.
	ID string `json:"id"`
	// Source is /wxkf/<appid>/<bid> ([SourcePrefix]).
	Source string `json:"source"`
	// Type is weixin.kf.message.<MsgType> or weixin.kf.event.<Event>.
	Type string `json:"type"`
	// Subject is the user's openid ([NoOpenID] when the push has none).
	Subject string `json:"subject"`
	// Time is the push's CreateTime; zero when it had none.
	Time time.Time `json:"time,omitzero"`
	// DataContentType is [DataContentType], application/json.
	DataContentType string `json:"datacontenttype"`
	// AppID and BusinessID are the conversation's app and sub-merchant,
	// as in the subject (CloudEvent extension attributes).
	AppID      string `json:"appid"`
	BusinessID string `json:"businessid"`
	// TraceParent is the CloudEvents distributed-tracing extension
	// attribute: the W3C traceparent of the push's trace, equal to the
	// message's traceparent header. Absent in events stored before it.
	TraceParent string `json:"traceparent,omitempty"`
	// Data is the push's normalized data.
	Data InboundData `json:"data"`
}

// InboundData is the normalized data of a push, the same for XML and JSON
// pushes. Exactly one of Text, Image, MiniProgramPage and Event is set when
// MsgType is one of those kinds; any other kind leaves all four nil and keeps
// its fields in Extra.
type InboundData struct {
	AppID      string `json:"appid"`
	BusinessID string `json:"business_id"` // "0" for the main account
	OpenID     string `json:"openid"`      // "" when the push had no FromUserName
	ToUserName string `json:"to_user_name"`
	CreateTime int64  `json:"create_time"`
	MsgType    string `json:"msg_type"`
	// MsgID is a string: 64-bit ids do not survive JavaScript numbers.
	MsgID           string               `json:"msg_id,omitempty"`
	Text            *TextData            `json:"text,omitempty"`
	Image           *ImageData           `json:"image,omitempty"`
	MiniProgramPage *MiniProgramPageData `json:"miniprogrampage,omitempty"`
	Event           *EventData           `json:"event,omitempty"`
	// Extra holds every other field of the push verbatim, under WeChat's
	// own field names. Nested XML elements are objects, repeated ones arrays.
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
	// ReplyBudget is the reply budget this push granted (a user message,
	// or user_enter_tempsession), when the bridge tracks budgets: what the
	// bot may send, until when, and which trigger opened the window. Absent
	// on other pushes, with egress.reply_budget off, or when the budget
	// store failed (the push is stored all the same).
	ReplyBudget *ReplyBudget `json:"reply_budget,omitempty"`
	// HandledBy is set on the pushes (messages and events) of a BusinessId
	// whose handover mode is rules or bot: [HandledByBot], or
	// [HandledByHumanPending] when a handover happened in the last
	// [HandoverWindow].
	HandledBy string `json:"handled_by,omitempty"`
}

// TextData is the data of a text message.
type TextData struct {
	Content string `json:"content"`
}

// ImageData is the data of an image message; MediaID can be downloaded for
// three days.
type ImageData struct {
	PicURL  string `json:"pic_url"`
	MediaID string `json:"media_id"`
}

// MiniProgramPageData is the data of a mini-program card.
type MiniProgramPageData struct {
	Title        string `json:"title"`
	AppID        string `json:"app_id"`
	PagePath     string `json:"page_path"`
	ThumbURL     string `json:"thumb_url"`
	ThumbMediaID string `json:"thumb_media_id"`
}

// EventData is the data of an event.
type EventData struct {
	Name        string `json:"name"`
	SessionFrom string `json:"session_from,omitempty"`
}

// ParseInbound decodes the body of a message from wxkf.in.… and checks the
// attributes every kfbridge event has. Errors wrap [ErrInvalid].
func ParseInbound(body []byte) (InboundEvent, error) {
	var ev InboundEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return InboundEvent{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch {
	case ev.SpecVersion != SpecVersion:
		return InboundEvent{}, fmt.Errorf("%w: specversion %q", ErrInvalid, ev.SpecVersion)
	case ev.ID == "" || ev.Type == "" || ev.Source == "":
		return InboundEvent{}, fmt.Errorf("%w: id, type and source are required", ErrInvalid)
	}
	return ev, nil
}
