package events

// CloudEvent type prefixes and constants of the wire contract.
const (
	// TypeMessagePrefix starts the type of a user message:
	// weixin.kf.message.<MsgType>.
	TypeMessagePrefix = "weixin.kf.message."
	// TypeEventPrefix starts the type of an event: weixin.kf.event.<Event>.
	TypeEventPrefix = "weixin.kf.event."
	// SpecVersion is the CloudEvents version kfbridge produces.
	SpecVersion = "1.0"
	// ContentType is the NATS Content-Type header of a structured-mode event.
	ContentType = "application/cloudevents+json"
	// DataContentType is the datacontenttype of every kfbridge event.
	DataContentType = "application/json"
	// SourcePrefix starts every source attribute: /wxkf/<appid>/<bid>.
	SourcePrefix = "/wxkf/"
)

// Kinds of push with typed data.
const (
	// KindText is a text message ([TextData]).
	KindText = "text"
	// KindImage is an image message ([ImageData]).
	KindImage = "image"
	// KindMiniProgramPage is a mini-program card ([MiniProgramPageData]).
	KindMiniProgramPage = "miniprogrampage"
	// MsgTypeEvent is the MsgType of every event; the subject's kind token and
	// the type carry the Event name instead.
	MsgTypeEvent = "event"
	// EventUserEnterTempSession fires when a user opens the session.
	EventUserEnterTempSession = "user_enter_tempsession"
)

// NATS headers of every event, command and result.
const (
	// HeaderMsgID is JetStream's deduplication id: <appid>:<id> for events
	// and results, the command id for commands.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderContentType is [ContentType] on a structured-mode CloudEvent.
	HeaderContentType = "Content-Type"
	// HeaderTraceParent carries the W3C trace context; a bot copies the
	// event's onto its command to continue the trace.
	HeaderTraceParent = "traceparent"
)
