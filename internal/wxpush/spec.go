package wxpush

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Push kinds with a dedicated shape. Any other kind is sent as a message of
// that MsgType (see [Spec.Kind]).
const (
	// KindText is a text message (Content).
	KindText = "text"
	// KindImage is an image message (PicUrl, MediaId).
	KindImage = "image"
	// KindMiniProgramPage is a mini program card.
	KindMiniProgramPage = "miniprogrampage"
	// KindUserEnterTempSession is the event of a user opening the
	// customer-service session (SessionFrom).
	KindUserEnterTempSession = "user_enter_tempsession"
	// KindEventPrefix starts the kind of an event: event:<Event>.
	KindEventPrefix = "event:"
	// EventDebugDemo is the event the official push debugging tool sends;
	// it carries a debug_str field.
	EventDebugDemo = "debug_demo"
)

// msgTypeEvent is the MsgType of every event.
const msgTypeEvent = "event"

// Spec describes one push in WeChat's terms. [Spec.Message] turns it into
// the [wxcodec.Message] the push carries, and [Signer.Sign] into a signed
// request. The zero Spec is not valid: Kind is required.
type Spec struct {
	// Kind selects the shape of the push:
	//   - "text": Content.
	//   - "image": PicUrl and MediaId.
	//   - "miniprogrampage": Title, AppId, PagePath, ThumbUrl, ThumbMediaId.
	//   - "user_enter_tempsession", or "event:user_enter_tempsession": the
	//     event with SessionFrom.
	//   - "event:debug_demo": the debugging tool's event with debug_str.
	//   - "event:<Event>": any other event, with no further fields.
	//   - any other value, for example "video": a message of that MsgType
	//     carrying made-up fields (MediaId, Description and a nested Detail
	//     element with a repeated child), as a kind WeChat might add later.
	Kind string
	// Format is the body format; zero means [wxcodec.FormatXML].
	Format wxcodec.Format
	// Mode is the encryption mode; zero means the mode the app's key
	// implies, as kfbridge accepts by default: [wxcodec.ModeSafe] with an
	// EncodingAESKey, [wxcodec.ModePlaintext] without.
	Mode wxcodec.Mode
	// OpenID is the sender (FromUserName); "" leaves the field out.
	OpenID string
	// To is the mini program original id (ToUserName); "" leaves it out.
	To string
	// BusinessID is the sub-merchant BusinessId; 0 leaves the field out
	// (a push to the main account).
	BusinessID int64
	// MsgID is the MsgId of a message, "" for none. Events never carry one.
	MsgID string
	// CreateTime is the CreateTime in Unix seconds; [Signer.Sign] sets it
	// to the signing time when it is 0.
	CreateTime int64
	// Content is the kind's free text: the text's Content, the card's
	// Title, the SessionFrom of user_enter_tempsession, debug_demo's
	// debug_str, or the Description of another MsgType. "" uses a default
	// text. Other kinds ignore it.
	Content string
	// AppID is the AppId of a miniprogrampage card (the mini program the
	// card opens); [Signer.Sign] sets it to the pushing app when empty.
	AppID string
}

// event returns the Event name when s.Kind is an event kind.
func (s *Spec) event() (name string, ok bool) {
	if s.Kind == KindUserEnterTempSession {
		return KindUserEnterTempSession, true
	}
	name, ok = strings.CutPrefix(s.Kind, KindEventPrefix)
	return name, ok
}

// IsEvent reports whether s describes an event (MsgType event) rather than
// a user message.
func (s *Spec) IsEvent() bool {
	_, ok := s.event()
	return ok
}

// Message returns the message the push described by s carries. It does not
// depend on Format or Mode and invents nothing random: the same Spec always
// gives the same Message. It returns an error wrapping [ErrInvalid] for an
// empty Kind or Event name, a bare "event" kind, or a negative BusinessID.
func (s Spec) Message() (wxcodec.Message, error) {
	if s.Kind == "" {
		return wxcodec.Message{}, fmt.Errorf("%w: kind is required", ErrInvalid)
	}
	if s.Kind == msgTypeEvent {
		return wxcodec.Message{}, fmt.Errorf("%w: kind %q: name the event, as event:<Event>", ErrInvalid, s.Kind)
	}
	if s.BusinessID < 0 {
		return wxcodec.Message{}, fmt.Errorf("%w: negative BusinessId %d", ErrInvalid, s.BusinessID)
	}
	m := wxcodec.Message{
		ToUserName:   s.To,
		FromUserName: s.OpenID,
		CreateTime:   s.CreateTime,
	}
	if s.BusinessID != 0 {
		m.BusinessID = strconv.FormatInt(s.BusinessID, 10)
	}
	content := func(def string) string {
		if s.Content != "" {
			return s.Content
		}
		return def
	}
	if name, ok := s.event(); ok {
		if name == "" {
			return wxcodec.Message{}, fmt.Errorf("%w: kind %q: empty event name", ErrInvalid, s.Kind)
		}
		m.MsgType = msgTypeEvent
		m.Event = name
		switch name {
		case KindUserEnterTempSession:
			m.SessionFrom = content("wxsim")
		case EventDebugDemo:
			m.Extra = []wxcodec.Field{{Name: "debug_str", Value: jsonString(content("hello from wxsim"))}}
		}
		return m, nil
	}

	m.MsgType = s.Kind
	m.MsgID = s.MsgID
	ref := s.MsgID // makes media ids differ per message
	if ref == "" {
		ref = "0"
	}
	switch s.Kind {
	case KindText:
		m.Content = content("hello from wxsim")
	case KindImage:
		m.PicURL = "https://mmbiz.qpic.cn/wxsim/" + ref + "/0"
		m.MediaID = "wxsim_image_" + ref
	case KindMiniProgramPage:
		m.Title = content("wxsim card")
		m.AppID = s.AppID
		m.PagePath = "pages/index/index?from=wxsim"
		m.ThumbURL = "https://mmbiz.qpic.cn/wxsim/thumb/" + ref + "/0"
		m.ThumbMediaID = "wxsim_thumb_" + ref
	default:
		m.Extra = []wxcodec.Field{
			{Name: "MediaId", Value: jsonString("wxsim_" + s.Kind + "_" + ref)},
			{Name: "Description", Value: jsonString(content("made up by wxsim"))},
			{Name: "Detail", Value: json.RawMessage(`{"Width":"640","Height":"360","Tag":["wxsim","made-up"]}`)},
		}
	}
	return m, nil
}

// jsonString returns s as a JSON string value, without escaping <, > and
// & (as WeChat and wxcodec write them).
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(s); err != nil {
		// Not reached: a string always encodes.
		return json.RawMessage(`""`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// NewMsgID returns a random MsgId: a positive 63-bit integer in decimal,
// like the 64-bit ids WeChat sends (often above 2^53, so they break
// float64 JSON decoders that are not careful).
func NewMsgID() string {
	return strconv.FormatInt(rand.Int64N(math.MaxInt64)+1, 10)
}

// ParseFormat parses "xml" or "json".
func ParseFormat(s string) (wxcodec.Format, error) {
	switch s {
	case "xml":
		return wxcodec.FormatXML, nil
	case "json":
		return wxcodec.FormatJSON, nil
	}
	return 0, fmt.Errorf("%w: format %q: want xml or json", ErrInvalid, s)
}

// ParseMode parses "plaintext", "compatible" or "safe".
func ParseMode(s string) (wxcodec.Mode, error) {
	switch s {
	case "plaintext":
		return wxcodec.ModePlaintext, nil
	case "compatible":
		return wxcodec.ModeCompatible, nil
	case "safe":
		return wxcodec.ModeSafe, nil
	}
	return 0, fmt.Errorf("%w: mode %q: want plaintext, compatible or safe", ErrInvalid, s)
}
