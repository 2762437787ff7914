package wxcodec

import (
	"encoding/json"
)

// Message is one decoded push (a message or an event), independent of its
// [Format].
//
// The common fields ToUserName, FromUserName, CreateTime, MsgType, MsgId and
// BusinessId always go to the typed fields. The fields of a kind go to the
// typed fields only when MsgType is that kind (text: Content; image: PicUrl,
// MediaId; miniprogrampage: Title, AppId, PagePath, ThumbUrl, ThumbMediaId;
// event: Event, SessionFrom). Every other top-level field goes to Extra,
// under its WeChat name, in document order.
type Message struct {
	ToUserName   string // mini program original id (gh_...)
	FromUserName string // sender openid
	CreateTime   int64  // Unix seconds; 0 when absent
	MsgType      string // required: text, image, miniprogrampage, event, ...
	// MsgID is the canonical string form of MsgId, "" when absent: the
	// exact digits of a JSON number, a JSON string as is, or the trimmed
	// text of an XML element.
	MsgID string
	// BusinessID is the canonical string form of BusinessId (sub-merchant
	// sessions only), "" when absent; same rules as MsgID.
	BusinessID string

	Content string // text

	PicURL  string // image: PicUrl
	MediaID string // image: MediaId

	Title        string // miniprogrampage
	AppID        string // miniprogrampage: AppId
	PagePath     string // miniprogrampage
	ThumbURL     string // miniprogrampage: ThumbUrl
	ThumbMediaID string // miniprogrampage: ThumbMediaId

	Event       string // event: required when MsgType is "event"
	SessionFrom string // event (user_enter_tempsession)

	// Extra holds every other top-level field, in order of first occurrence;
	// a repeated name is one Field holding an array.
	Extra []Field
}

// Field is one top-level field that the typed part of [Message] does not
// hold.
//
// From JSON, Value is the raw value verbatim; a name that appears more than
// once becomes one Field whose Value is the array of its values in order
// (names are compared after unescaping). From XML, a leaf element is a
// JSON string of its text; an element with child elements or attributes is
// a JSON object (child name → value, recursively; a repeated child name
// becomes an array of its values in order; attributes become "@name" keys;
// non-white-space text beside child elements becomes "#text"). A repeated
// top-level XML element becomes one Field whose Value is an array.
type Field struct {
	Name  string
	Value json.RawMessage
}

// Names of the typed fields, as WeChat spells them.
const (
	nameToUserName   = "ToUserName"
	nameFromUserName = "FromUserName"
	nameCreateTime   = "CreateTime"
	nameMsgType      = "MsgType"
	nameMsgID        = "MsgId"
	nameBusinessID   = "BusinessId"
	nameContent      = "Content"
	namePicURL       = "PicUrl"
	nameMediaID      = "MediaId"
	nameTitle        = "Title"
	nameAppID        = "AppId"
	namePagePath     = "PagePath"
	nameThumbURL     = "ThumbUrl"
	nameThumbMediaID = "ThumbMediaId"
	nameEvent        = "Event"
	nameSessionFrom  = "SessionFrom"
	nameEncrypt      = "Encrypt"
)

// ParseMessage parses a plaintext message or event, XML or JSON (sniffed
// with [Sniff]). It returns a zero [Message] and an error wrapping
// [ErrFormat], [ErrSyntax] or a [*FieldError] when body is not a valid push.
// The returned Message does not alias body.
func ParseMessage(body []byte) (Message, error) {
	m, _, err := parseMessage(body, false)
	return m, err
}
