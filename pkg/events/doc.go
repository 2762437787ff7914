// Package events is kfbridge's public contract as Go: NATS subjects and
// their tokens, CloudEvent types, the Go types of every event's data, the
// conversion of a WeChat push into a CloudEvent, and publishing it to
// JetStream with the deduplication id that absorbs WeChat's retries.
//
// Teams writing bots in Go import this package; other languages read the
// JSON Schemas in the repository's schemas/ directory, which describe the
// same shapes.
//
// # Subjects and types
//
// A push from a user is published on
//
//	wxkf.in.<appid>.<bid>.<openid>.<kind>
//
// where bid is the sub-merchant BusinessId ("0" for the main account), openid
// is the sender ("_" when the push has none), and kind is the MsgType of a
// message or the Event name of an event. Its CloudEvent type is
// weixin.kf.message.<MsgType> or weixin.kf.event.<Event>. Every token must
// match [A-Za-z0-9_-]+; anything else is rejected with [ErrToken] and never
// published.
//
// # Usage
//
// The ingress turns a decoded push into an [Inbound] and publishes it:
//
//	in, err := events.NewInbound(appid, &push.Message)
//	ack, err := publisher.PublishInbound(ctx, &in, traceparent)
//
// A bot decodes the body of a message from the WXKF_IN stream with
// [ParseInbound] into an [InboundEvent].
//
// # Concurrency
//
// [Publisher] is safe for concurrent use. [Inbound] and [InboundEvent] are
// plain values.
//
// # Errors
//
// [NewInbound] returns errors wrapping [ErrToken] or [ErrInvalid]; publish
// errors wrap the NATS error with the subject.
package events
