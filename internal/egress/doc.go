// Package egress turns reply commands that bots publish on
// wxkf.out.<appid>.<bid>.<openid>.send|typing into calls of WeChat's send and
// typing APIs, and publishes exactly one final result per command on
// wxkf.result.<appid>.<bid>.<openid>.delivered|failed.
//
// # Usage
//
//	eg, err := egress.New(egress.Config{...})
//	err = eg.Setup(ctx) // streams, KV buckets, consumers: idempotent
//	err = eg.Run(ctx)   // until ctx ends, then drains
//
// # Concurrency
//
// Ordering. The command stream WXKF_OUT maps each command subject to one of
// N partitions (default 256) by a hash of the conversation — appid, bid and
// openid, not the verb — so a conversation's sends and typing commands share
// one partition. Each partition has one durable consumer with
// MaxAckPending 1: JetStream hands out a partition's next command only after
// the previous one was acknowledged, whichever replica pulls it. Every
// replica pulls from every partition, so there is nothing to assign or
// rebalance: a replica that dies simply stops pulling, and the command it was
// holding is redelivered to another replica once its AckWait (default 10 s)
// passes. While handling, a replica sends progress acks every third of
// AckWait, so a live replica never loses a command to redelivery even when a
// call, a token refresh and a retried call add up to more than AckWait.
// A command waiting for a retry (NakWithDelay) still holds its partition, so
// a retrying conversation delays only the conversations hashed to the same
// partition, and only until its retry budget (default 5 m) runs out.
//
// Acknowledgement. A command is acknowledged only after its result is
// stored in WXKF_RESULT (and, for failures, the command in WXKF_DLQ).
//
// Duplicates. Before calling the send API the handler writes a "sending"
// record for the command id into the KV bucket WXKF_SENT, and right after
// WeChat's answer a "done" record holding the result. A redelivered command
// whose record is "done" is not sent again: its stored result is republished
// (JetStream drops the duplicate by Nats-Msg-Id). A redelivered command whose
// record still says "sending" was in flight when its replica died; WeChat's
// send API has no idempotency key, so it is not resent: its result is
// failed with reason maybe_delivered. The same holds for a call whose
// request was fully written but whose answer was lost (a timeout or a
// dropped connection after writing). That is the whole window in which a
// command may be lost or duplicated: from the "sending" record to WeChat's
// answer. Transient failures before the request was written (connection
// refused, WeChat's -1, HTTP 5xx) are retried with backoff.
//
// Concurrency within a process is bounded (Concurrency, default 64); Run
// returns after the in-flight commands finished and were acknowledged.
//
// # Errors
//
// Failures of single commands never stop the egress: they end in a failed
// result with WeChat's errcode (or kfbridge's negative codes, see
// [CodeMalformed] and the others) and a reason: malformed, unknown_app,
// permanent, window, quota, transient, token, media, expired or
// maybe_delivered.
package egress
