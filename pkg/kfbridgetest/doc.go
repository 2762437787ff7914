// Package kfbridgetest runs a whole kfbridge in process so that a team
// tests its Go bot end to end with `go test`: a user writes in WeChat, the
// bot answers over NATS with the commands of [events], and the test reads
// what reached the user.
//
// [Start] (in a test) or [New] starts, each on a free loopback port:
//
//   - an embedded NATS server with JetStream, storing in a temporary
//     directory, with the streams of the wire contract;
//   - the ingress, the egress and the management service, as the
//     `kfbridge` binary runs them, for one mini program ([Bridge.AppID]);
//   - a simulated WeChat API that the egress calls, with WeChat's rules (a
//     user's message opens a window of 5 sends in 48 hours, and of
//     "typing" for 30 s; a user who never wrote cannot be sent to), which
//     records what it accepted.
//
// The bot under test connects as it would to a production bridge, with
// [Bridge.NATSURL] and [Bridge.NATSOptions] ([WithBotUser] gives it the
// restricted account of a production bot). The test then:
//
//   - pushes as a WeChat user: [Bridge.PushText], or any message or event
//     with [Bridge.PushMessage] (a [wxcodec.Message]), signed and in the
//     format WeChat sends ([WithPushFormat]);
//   - reads what reached WeChat: [Bridge.Delivered] and
//     [Bridge.WaitDelivered] (as [Message]), [Bridge.Typing];
//   - reads the outcome of each command: [Bridge.Results] and
//     [Bridge.WaitResult] (as [events.ResultEvent]).
//
// # Usage
//
//	func TestEcho(t *testing.T) {
//		b := kfbridgetest.Start(t)
//		nc, err := nats.Connect(b.NATSURL(), b.NATSOptions()...)
//		// … start the bot on nc …
//		if err := b.PushText(t.Context(), "oUser-1", "hello"); err != nil {
//			t.Fatal(err)
//		}
//		got, err := b.WaitDelivered(t.Context(), "oUser-1", 1)
//		if err != nil || got[0].Text != "echo: hello" {
//			t.Fatalf("delivered %+v, %v", got, err)
//		}
//	}
//
// # Concurrency
//
// A [Bridge] is safe for concurrent use except [Bridge.Close], which
// [Start] calls when the test ends. A push returns once the bridge has
// stored its event on WXKF_IN; the egress keeps the commands of one
// conversation in order. Every wait polls what the simulator recorded or
// what the streams hold, until it holds or its context ends; a context
// without deadline is bounded by [WithWaitTimeout] (30 s).
//
// # Errors
//
// Options return errors wrapping [ErrInvalid], which [New] returns joined
// and [Start] turns into t.Fatal. A push the bridge does not accept returns an error, as does a
// wait whose context ends first; both are prefixed "kfbridgetest:".
package kfbridgetest
