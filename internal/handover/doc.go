// Package handover decides, per user message, whether the ingress answers
// WeChat with transfer_customer_service (the message goes to WeChat's human
// customer-service agents) or with success (it stays with the bots), and
// keeps the little kfbridge can know about the conversation afterwards.
//
// An app's apps[].handover.mode (overridable per BusinessId) is never
// (default: no decision, no state, nothing on the push path), always,
// rules (keywords and RE2 regular expressions on the text, BusinessId
// lists) or bot: the ingress publishes a request on
// wxkf.decide.<appid>.<bid>.<openid> whose body is the very CloudEvent it
// stores, at the same time as the JetStream publish, and transfers when a
// responder answers {"transfer": true} within apps[].handover.deadline. No
// responder, an error or a late answer keep the message with the bots.
// Events are never handed over, and nobody is asked about them. Mode
// always is today's static passive_reply: transfer_customer_service: every
// user message is handed over, with no state read or written.
//
// Answers come back on a subscription of its own under [ReplyPrefix], not
// under the bridge's inbox prefix: bot accounts of the embedded server may
// publish there (to answer) but never subscribe, and the ingress's publish
// acks stay out of their reach.
//
// # Conversation state
//
// After a handover WeChat routes the user's messages to the agents until an
// agent closes the session or [events.HandoverWindow] (30 min) passes; a
// user still waiting in the queue reaches kfbridge's URL meanwhile.
// kfbridge never sees the agent's side: not when an agent picks the
// session up, nor when one closes it. What it knows is when it answered a
// handover. In modes rules and bot it records that in the KV bucket [BucketName] (TTL 30 min,
// shared by every ingress replica), publishes a
// weixin.kf.conversation.transferred event, and marks every push (message
// or event) of a BusinessId in mode rules or bot with data.handled_by: human_pending
// while the record lives (the user is queued, or an agent closed the
// session early: kfbridge cannot tell which), bot otherwise.
//
// # Usage
//
//	h, err := handover.New(handover.Config{Apps: cfg.Apps, JetStream: js, KV: kv, Registry: reg})
//	app := h.App(appid)        // nil when the app never hands over
//	d := app.Begin(ctx, &in, traceparent) // before publishing in; nil for events and mode never
//	… publish in, wait for the ack …
//	transfer := d.Finish(ctx)  // after the ack only
//
// # Concurrency
//
// A [Handover] and its [App]s are safe for concurrent use. A [Decision]
// belongs to one request: call Finish or Abandon once.
//
// # Errors
//
// A decision never fails: every error (KV, NATS, a bad answer) counts as
// keep, is logged and counted in kfbridge_ingress_handover_decisions_total.
package handover
