// Package ingress is the HTTP endpoint WeChat pushes to. For each request it
// verifies the signature, decrypts and decodes the push (pkg/wxcodec),
// converts it to a CloudEvent (pkg/events), publishes it to JetStream and
// answers WeChat only after JetStream acknowledged the publish. The publish
// goes through the ingress's own [Publisher] (one ack subscription routed
// by counter, a PubAck scanner, pooled messages), kept because
// BenchmarkPublishPath shows it faster end to end than jetstream.PublishMsg.
//
// Two listeners: the public one ([Server.Serve], ingress.listen) serves
// GET and POST /wx/<appid> (URL verification and pushes) and /healthz; the
// admin one ([Server.ServeAdmin], ingress.admin_listen, loopback by
// default) serves /healthz, /readyz (NATS connected and stream ready) and
// /metrics (Prometheus). Client addresses in logs come from
// X-Forwarded-For only when the peer is one of ingress.trusted_proxies.
//
// The passive reply is success, or transfer_customer_service for a user
// message that internal/handover hands to human agents (apps[].handover:
// always, by rules, or by asking a bot on wxkf.decide.<appid>.<bid>.<openid>
// while the push is being stored). An app in mode never (the default)
// pays one nil check per push for it.
//
// The public listener holds at most ingress.max_conns connections. At the
// cap a new connection closes the one that made no progress the longest
// among those carrying no verified push (idle keep-alive connections,
// requests not yet complete or not yet verified), so idle or slow clients
// cannot lock WeChat out; only when all of them are verified pushes being
// stored does the next accept wait.
//
// With a reply-budget tracker (Config.Budget), a user message or
// user_enter_tempsession grants its conversation's reply budget (package
// budget) and its event carries data.reply_budget. A user message's grant
// does not depend on the stored budget: it is computed here
// (budget.MessageGrant) and not stored; the stored event is the grant,
// which the egress applies before each take (budget.Tracker.SyncTakeN), so
// a message costs the ingress no budget read or write. An enter-session
// grants according to the window a message may have opened: the ingress
// applies the conversation's latest stored message (budget.Tracker.CatchUp)
// and writes the enter-session's grant before its publish. A budget that
// cannot be written never costs the push
// (kfbridge_ingress_budget_errors_total): the enter-session's event then
// carries no data.reply_budget.
//
// # Usage
//
//	srv, err := ingress.New(ingress.Config{Ingress: cfg.Ingress, Apps: cfg.Apps, JetStream: js, Ready: ready})
//	err = srv.ListenAndServe(ctx) // both listeners; returns after a graceful shutdown once ctx ends
//
// # Concurrency
//
// Requests are served concurrently; a [Server] is safe for concurrent use.
// The publish of a push does not depend on the request's context: a client
// that hangs up mid-publish does not cancel it, and the push's Nats-Msg-Id
// absorbs WeChat's retry. On shutdown the listener stops accepting, in-flight
// requests finish their publish and answer, and only then does
// [Server.ListenAndServe] return, so every push answered "success" is stored.
// A handover decision starts before the publish (in mode bot its request
// goes out first) and is read only after the ack: no answer precedes the
// store, and a bot may be asked about a push whose publish then fails
// (WeChat retries it, and the bot is asked again).
//
// # Errors
//
// Every rejection maps to one HTTP status in one place (statusOf): bad
// signatures, stale timestamps and ciphertext for another app get 401, a
// push in an encryption mode its app does not accept (apps[].modes) 403,
// malformed bodies and forbidden subject tokens 400, unknown apps 404,
// oversize bodies and events too large for NATS (max_payload, or the
// stream's max_msg_size) 413, so that WeChat does not retry them, and a
// publish JetStream did not acknowledge in time 503, so that WeChat
// retries. Nothing rejected is published. [New] refuses an
// ingress.max_body_bytes above the NATS server's max_payload.
package ingress
