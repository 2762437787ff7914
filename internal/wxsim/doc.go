// Package wxsim simulates the WeChat side of kfbridge, so that the bridge
// can be demonstrated, tested and measured without a real mini program.
//
// The push side sends what WeChat's servers send to a mini program's
// message URL: correctly signed pushes ([Signer]) in any format (XML,
// JSON), mode (plaintext, compatible, safe) and kind ([Spec]: text, image,
// miniprogrampage, user_enter_tempsession, any event, any MsgType WeChat
// might add), delivered with WeChat's semantics ([Pusher]: 5 s per attempt,
// about three attempts 5 s apart, "success" / empty / a passive reply
// counts as delivered). On top of that sit the commands of cmd/wxsim:
// [RunPush] (send pushes), [RunTail] (print the events kfbridge published
// to JetStream) and [RunLoad] (a load generator for the ingress).
//
// Defaults are the demo app of internal/demo, so the commands work
// against `kfbridge --demo` with no flags.
//
// # Usage
//
//	signer, err := wxsim.NewSigner("http://127.0.0.1:8080", wxsim.App{}) // demo app
//	req, err := signer.Sign(wxsim.Spec{Kind: "text", Mode: wxcodec.ModeSafe,
//		OpenID: demo.OpenID, To: demo.OriginalID, MsgID: wxsim.NewMsgID()}, time.Now())
//	pusher, err := wxsim.NewPusher(signer, wxsim.WithRetryInterval(time.Second))
//	res, err := pusher.Push(ctx, req) // errors.Is(err, wxsim.ErrNotDelivered) when WeChat would give up
//
// Integration tests reuse [Spec.Message], [Signer.Sign], [PushURL] and
// [QueryValues] to build requests and check what the bridge made of them.
//
// # Concurrency
//
// [Signer] and [Pusher] are immutable after construction and safe for
// concurrent use. [Pusher.Push] sends one attempt at a time and blocks
// until the push is delivered, given up, or ctx ends (then it returns at
// once, abandoning the attempt in flight). [RunPush] sends its pushes one
// after the other, in order. [RunTail] reads with one ordered consumer, so
// events are printed in stream order; it returns when ctx ends, after
// stopping the consumer and closing its NATS connection. [Load] owns its
// workers and waits for all of them before it returns; every worker stops
// starting requests when the time is up, the generated pushes are used up
// or ctx ends, and a request in flight ends within the request timeout
// (at once when ctx ends).
//
// # Errors
//
// Sentinels are in errors.go; match them with [errors.Is]. Bad
// configurations, specs and options wrap [ErrInvalid] (Validate reports all
// problems at once). A push WeChat would give up on wraps [ErrNotDelivered]
// together with the last attempt's reason: [ErrStatus] (not 200),
// [ErrTimeout] (no answer within the attempt timeout), [ErrReply] (an
// answer WeChat takes as abnormal data) or a transport error. Errors of
// pkg/wxcodec (for example [wxcodec.ErrNoKey]) and of NATS are wrapped with
// the operation. [Load] counts failed requests in its report instead of
// returning them.
package wxsim
