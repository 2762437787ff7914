// Package events is kfbridge's public contract as Go: the NATS subjects and
// their tokens, the JetStream streams, and the CloudEvents that cross them in
// both directions — pushes from WeChat users in, commands from bots out, one
// result per command back, and the dead letters of failed sends.
//
// Teams writing bots in Go import this package; other languages read the
// JSON Schemas in the repository's schemas/ directory, which describe the
// same shapes.
//
// # Inbound events
//
// A push from a user is stored in the stream [InboundStreamName] (WXKF_IN)
// on
//
//	wxkf.in.<appid>.<bid>.<openid>.<kind>
//
// ([InboundSubject]) where bid is the sub-merchant BusinessId
// ([MainBusinessID] "0" for the main account), openid is the sender
// ([NoOpenID] "_" when the push has none), and kind is the MsgType of a
// message or the Event name of an event. Its CloudEvent type is
// weixin.kf.message.<MsgType> or weixin.kf.event.<Event> ([TypeMessagePrefix],
// [TypeEventPrefix]). Every token must match [A-Za-z0-9_-]+ ([ValidToken]);
// anything else is rejected with [ErrToken] and never published. The body is
// a structured-mode CloudEvent, [InboundEvent], whose data, [InboundData],
// is the same for XML and JSON pushes. The ingress builds it with
// [NewInbound]; its Nats-Msg-Id ([Inbound.MsgID]) lets the stream drop
// WeChat's retries.
//
// # Commands
//
// A bot answers with a command on
//
//	wxkf.out.<appid>.<bid>.<openid>.<verb>
//
// ([CommandSubject]; verb [VerbSend] or [VerbTyping]), stored in
// [OutboundStreamName] (WXKF_OUT): a CloudEvent of type
// weixin.kf.command.<verb> whose data is a [SendData] or a [TypingData],
// and whose id, also its Nats-Msg-Id, is unique ([NewCommandMsg] builds it).
// A bot may publish the bare data instead, with the id in the Nats-Msg-Id
// header.
//
// [ParseCommand] is the one reading of a command, the egress's: it parses
// the subject and decodes the body once, strictly as the JSON Schemas in
// schemas/out say (case-sensitive member names; no unknown members, null
// values, repeated member names or trailing data), into a [Command] whose
// [Command.Send] or [Command.Typing] is set. A command it refuses gets a
// failed result with reason malformed; its [*CommandError] names the
// conversation, verb and id so that the result can be addressed. The
// exception is a command whose subject is not a command subject (a bad
// token or verb: [CommandError.Verb] is ""): there is no conversation to
// answer on, and the egress drops it with a log line, without a result. A bot can
// run its own commands through it in tests. [SendData.Validate] and
// [TypingData.Validate] check the values of data a bot builds.
//
// # Results and dead letters
//
// Every command on a valid command subject ends in exactly one
// [ResultEvent] on
//
//	wxkf.result.<appid>.<bid>.<openid>.<outcome>
//
// ([ResultSubject]; outcome [OutcomeDelivered] or [OutcomeFailed]) in
// [ResultStreamName] (WXKF_RESULT), deduplicated by command id (see
// [NewResult] for commands that do not own theirs): the egress
// builds it with [NewResult], a bot reads it with [ParseResult]. A send that
// failed is also kept, as the bot sent it, in [DeadLetterStreamName]
// (WXKF_DLQ) on [DeadLetterSubject], with the failure in the headers
// [HeaderReason], [HeaderErrCode], [HeaderErrMsg], [HeaderAttempts],
// [HeaderCommandID] and [HeaderOriginalSubject].
//
// # Handover to human agents
//
// For an app whose apps[].handover.mode is bot, the ingress asks, per user
// message, on [DecideSubject] (wxkf.decide.<appid>.<bid>.<openid>, a core
// NATS request whose body is the [InboundEvent] being stored); a bot
// answers a [DecideAnswer], {"transfer": true} to hand the message to
// WeChat's human agents. A message handed over (mode rules or bot) is
// followed by a [TransferredEvent] of type [TypeConversationTransferred] on
// wxkf.in.<appid>.<bid>.<openid>.[KindConversationTransferred], and the
// conversation's later user messages carry [InboundData.HandledBy]
// [HandledByHumanPending] for [HandoverWindow]: stay quiet on those.
//
// # Streams
//
// [InboundStream], [OutboundStream], [ResultStream] and [DeadLetterStream]
// return the definitions the bridge creates. Bots do not create streams:
// they read with durable consumers the operator configured.
//
// # Usage
//
// A bot reads an event from a consumer on WXKF_IN, answers in the same
// conversation and reads the outcome from WXKF_RESULT:
//
//	ev, err := events.ParseInbound(msg.Data())
//	conv := events.Conversation{AppID: ev.Data.AppID, BusinessID: ev.Data.BusinessID, OpenID: ev.Data.OpenID}
//	reply := events.SendData{MsgType: "text", Text: &events.SendText{Content: "hello!"}}
//	cmd, err := events.NewCommandMsg(conv, events.VerbSend, "reply-"+ev.ID, "/mybot", reply,
//		msg.Headers().Get(events.HeaderTraceParent))
//	_, err = js.PublishMsg(ctx, cmd)
//	…
//	res, err := events.ParseResult(resultMsg.Data())
//	if res.Data.Outcome == events.OutcomeFailed { /* res.Data.Reason, res.Data.ErrCode */ }
//
// # Concurrency
//
// The package has no state: every function is safe for concurrent use, and
// every type is a plain value owned by its caller. An [Inbound] refers to
// the message it was built from, which must not change while it is in use.
//
// # Errors
//
// Errors wrap [ErrToken] for a subject token that cannot be used, or
// [ErrInvalid] for a push, event, command or result that does not fit the
// contract; match them with errors.Is. Errors from encoding/json are wrapped
// with what was being decoded.
package events
