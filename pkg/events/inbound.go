package events

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/jsonenc"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Inbound is a push ready to publish: its derived subject, CloudEvent
// attributes, and the decoded message its data is encoded from.
type Inbound struct {
	// ID is the CloudEvent id: the MsgId of a message, or for events (and
	// messages without MsgId) a deterministic hash of the data, so a retried
	// push gets the same id.
	ID string
	// Subject is wxkf.in.<appid>.<bid>.<openid>.<kind>.
	Subject string
	// Type is weixin.kf.message.<MsgType> or weixin.kf.event.<Event>.
	Type string
	// AppID, BusinessID and OpenID are the subject tokens; BusinessID is
	// [MainBusinessID] and OpenID [NoOpenID] when the push has none.
	AppID, BusinessID, OpenID string
	// Kind is the last subject token: MsgType, or the Event name.
	Kind string
	// Message is the decoded push.
	Message *wxcodec.Message
	// Budget, when set, is the reply budget the push granted, written as
	// data.reply_budget. It is not part of the data [Inbound.ID] hashes.
	Budget *ReplyBudget
	// HandledBy, when set, is written as data.handled_by
	// ([HandledByBot], [HandledByHumanPending]).
	HandledBy string
	// TraceParent, when not empty, is the W3C traceparent of the push's
	// trace, written as the CloudEvents distributed-tracing extension
	// attribute traceparent (equal to the [HeaderTraceParent] header). It is
	// not part of the data, so it never changes the id.
	TraceParent string
}

// MaxCreateTime is the largest CreateTime (Unix seconds) an event can carry:
// 9999-12-31T23:59:59Z, the last instant an RFC 3339 time (the CloudEvents
// time attribute) can write. [NewInbound] rejects a push whose CreateTime is
// above it or negative (WeChat's times are Unix seconds of the present); 0
// means absent and leaves the event without a time.
const MaxCreateTime = 253402300799

// NewInbound derives the event of a decoded push received for appid. It
// rejects, with an error wrapping [ErrToken], any token NATS cannot carry, and
// with [ErrInvalid] a push the contract cannot express (a CreateTime outside
// 0..[MaxCreateTime]). m must not change
// while the Inbound is in use.
func NewInbound(appid string, m *wxcodec.Message) (Inbound, error) {
	in := Inbound{AppID: appid, BusinessID: m.BusinessID, OpenID: m.FromUserName, Message: m}
	if in.BusinessID == "" {
		in.BusinessID = MainBusinessID
	}
	if in.OpenID == "" {
		in.OpenID = NoOpenID
	}
	if m.CreateTime < 0 || m.CreateTime > MaxCreateTime {
		return Inbound{}, fmt.Errorf("%w: CreateTime %d outside 0..%d", ErrInvalid, m.CreateTime, int64(MaxCreateTime))
	}
	if m.MsgType == MsgTypeEvent {
		in.Kind = m.Event
		in.Type = TypeEventPrefix + m.Event
	} else {
		in.Kind = m.MsgType
		in.Type = TypeMessagePrefix + m.MsgType
	}
	subject, err := InboundSubject(appid, in.BusinessID, in.OpenID, in.Kind)
	if err != nil {
		return Inbound{}, err
	}
	in.Subject = subject
	in.ID = m.MsgID
	if m.MsgType == MsgTypeEvent || in.ID == "" {
		in.ID = in.hashID()
	}
	return in, nil
}

// MsgID returns the Nats-Msg-Id of the event, <appid>:<id>, which lets
// JetStream's duplicate window drop WeChat's retries of the same push.
func (in *Inbound) MsgID() string { return in.AppID + ":" + in.ID }

// Msg returns the NATS message of the event as the ingress publishes it:
// the structured CloudEvent ([Inbound.AppendJSON]) on [Inbound.Subject],
// with [HeaderMsgID] set to [Inbound.MsgID], [HeaderContentType] to
// [ContentType] and, when traceparent is not empty, [HeaderTraceParent]
// and the traceparent attribute (in place of [Inbound.TraceParent]).
func (in *Inbound) Msg(traceparent string) *nats.Msg {
	ev := *in
	if traceparent != "" {
		ev.TraceParent = traceparent
	}
	msg := nats.NewMsg(in.Subject)
	msg.Data = ev.AppendJSON(nil)
	msg.Header.Set(HeaderMsgID, in.MsgID())
	msg.Header.Set(HeaderContentType, ContentType)
	if ev.TraceParent != "" {
		msg.Header.Set(HeaderTraceParent, ev.TraceParent)
	}
	return msg
}

// Source returns the source attribute, /wxkf/<appid>/<bid>.
func (in *Inbound) Source() string { return SourcePrefix + in.AppID + "/" + in.BusinessID }

// Time returns the event time from CreateTime; zero when the push had none.
func (in *Inbound) Time() time.Time {
	if in.Message.CreateTime == 0 {
		return time.Time{}
	}
	return time.Unix(in.Message.CreateTime, 0).UTC()
}

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// hashID hashes every field of the data, which holds appid, bid, openid,
// CreateTime, MsgType, the event name and all other fields.
func (in *Inbound) hashID() string {
	bp := scratch.Get().(*[]byte)
	data := in.appendData((*bp)[:0], false)
	sum := sha256.Sum256(data)
	*bp = data
	scratch.Put(bp)
	return hex.EncodeToString(sum[:16])
}

// AppendJSON appends the whole CloudEvent in structured mode (the NATS
// message body) to dst.
func (in *Inbound) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"specversion":"1.0","id":`...)
	dst = jsonenc.AppendString(dst, in.ID)
	// Tokens are [A-Za-z0-9_-]: no escaping needed.
	dst = append(dst, `,"source":"/wxkf/`...)
	dst = append(dst, in.AppID...)
	dst = append(dst, '/')
	dst = append(dst, in.BusinessID...)
	dst = append(dst, `","type":`...)
	dst = jsonenc.AppendString(dst, in.Type)
	dst = append(dst, `,"subject":"`...)
	dst = append(dst, in.OpenID...)
	dst = append(dst, '"')
	if in.Message.CreateTime != 0 {
		dst = append(dst, `,"time":"`...)
		dst = in.Time().AppendFormat(dst, time.RFC3339)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"datacontenttype":"application/json","appid":"`...)
	dst = append(dst, in.AppID...)
	dst = append(dst, `","businessid":"`...)
	dst = append(dst, in.BusinessID...)
	dst = append(dst, '"')
	if in.TraceParent != "" {
		dst = append(dst, `,"traceparent":`...)
		dst = jsonenc.AppendString(dst, in.TraceParent)
	}
	dst = append(dst, `,"data":`...)
	dst = in.AppendData(dst)
	return append(dst, '}')
}

// AppendData appends the event's data object, the shape [InboundData]
// decodes, to dst.
func (in *Inbound) AppendData(dst []byte) []byte { return in.appendData(dst, true) }

// appendData appends the data object, with data.reply_budget when budget
// is true and in.Budget is set.
func (in *Inbound) appendData(dst []byte, budget bool) []byte {
	m := in.Message
	dst = append(dst, `{"appid":"`...)
	dst = append(dst, in.AppID...)
	dst = append(dst, `","business_id":"`...)
	dst = append(dst, in.BusinessID...)
	dst = append(dst, `","openid":`...)
	dst = jsonenc.AppendString(dst, m.FromUserName)
	dst = append(dst, `,"to_user_name":`...)
	dst = jsonenc.AppendString(dst, m.ToUserName)
	dst = append(dst, `,"create_time":`...)
	dst = strconv.AppendInt(dst, m.CreateTime, 10)
	dst = append(dst, `,"msg_type":`...)
	dst = jsonenc.AppendString(dst, m.MsgType)
	if m.MsgID != "" {
		dst = append(dst, `,"msg_id":`...)
		dst = jsonenc.AppendString(dst, m.MsgID)
	}
	switch m.MsgType {
	case KindText:
		dst = append(dst, `,"text":{"content":`...)
		dst = jsonenc.AppendString(dst, m.Content)
		dst = append(dst, '}')
	case KindImage:
		dst = append(dst, `,"image":{"pic_url":`...)
		dst = jsonenc.AppendString(dst, m.PicURL)
		dst = append(dst, `,"media_id":`...)
		dst = jsonenc.AppendString(dst, m.MediaID)
		dst = append(dst, '}')
	case KindMiniProgramPage:
		dst = append(dst, `,"miniprogrampage":{"title":`...)
		dst = jsonenc.AppendString(dst, m.Title)
		dst = append(dst, `,"app_id":`...)
		dst = jsonenc.AppendString(dst, m.AppID)
		dst = append(dst, `,"page_path":`...)
		dst = jsonenc.AppendString(dst, m.PagePath)
		dst = append(dst, `,"thumb_url":`...)
		dst = jsonenc.AppendString(dst, m.ThumbURL)
		dst = append(dst, `,"thumb_media_id":`...)
		dst = jsonenc.AppendString(dst, m.ThumbMediaID)
		dst = append(dst, '}')
	case MsgTypeEvent:
		dst = append(dst, `,"event":{"name":`...)
		dst = jsonenc.AppendString(dst, m.Event)
		if m.SessionFrom != "" {
			dst = append(dst, `,"session_from":`...)
			dst = jsonenc.AppendString(dst, m.SessionFrom)
		}
		dst = append(dst, '}')
	}
	if len(m.Extra) > 0 {
		dst = append(dst, `,"extra":{`...)
		for i, f := range m.Extra {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonenc.AppendString(dst, f.Name)
			dst = append(dst, ':')
			dst = append(dst, f.Value...)
		}
		dst = append(dst, '}')
	}
	if b := in.Budget; budget && b != nil {
		dst = append(dst, `,"reply_budget":{"remaining":`...)
		dst = strconv.AppendInt(dst, int64(b.Remaining), 10)
		dst = append(dst, `,"expires_at":"`...)
		dst = b.ExpiresAt.UTC().AppendFormat(dst, time.RFC3339)
		dst = append(dst, '"')
		if b.Trigger != "" {
			dst = append(dst, `,"trigger":`...)
			dst = jsonenc.AppendString(dst, b.Trigger)
		}
		dst = append(dst, '}')
	}
	if budget && in.HandledBy != "" {
		dst = append(dst, `,"handled_by":`...)
		dst = jsonenc.AppendString(dst, in.HandledBy)
	}
	return append(dst, '}')
}
