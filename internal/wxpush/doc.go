// Package wxpush is the push side of the WeChat simulator: it sends what
// WeChat's servers send to a mini program's message URL, so that
// kfbridge's ingress can be demonstrated, tested and measured without a
// real mini program. The other half, the fake WeChat server API the
// egress calls, is internal/wxsim; command wxsim runs both.
//
// [Signer] builds correctly signed pushes in any format (XML, JSON), mode
// (plaintext, compatible, safe) and kind ([Spec]: text, image,
// miniprogrampage, user_enter_tempsession, any event, any MsgType WeChat
// might add) and checks answers as WeChat does ([Signer.CheckAnswer]).
// [Pusher] delivers them with WeChat's semantics (5 s per attempt, about
// three attempts 5 s apart, "success" / empty / a passive reply counts as
// delivered). On top of that sit the commands of cmd/wxsim: [RunPush]
// (wxsim push: send pushes), [Load] and [RunLoad] (wxsim load: a load
// generator for the ingress) and [Dump] (signed pushes for other load
// tools).
//
// A [Pusher] with [WithRecorder] reports every push to a [wxsim.Recorder]
// — a [*wxsim.Sim] in process, or a [*wxsim.RemoteRecorder] for a running
// `wxsim serve` — before its first attempt, so that the simulator's send
// windows follow the pushes, as WeChat's do. That interface is the seam
// between the two halves: this package imports wxsim, never the other way
// round.
//
// Defaults are the demo app of internal/demo, so the commands work
// against `kfbridge --demo` with no flags.
//
// # Usage
//
//	signer, err := wxpush.NewSigner("http://127.0.0.1:8080", wxpush.App{}) // demo app
//	req, err := signer.Sign(wxpush.Spec{Kind: wxpush.KindText, Mode: wxcodec.ModeSafe,
//		OpenID: demo.OpenID, To: demo.OriginalID, MsgID: wxpush.NewMsgID()}, time.Now())
//	pusher, err := wxpush.NewPusher(signer, wxpush.WithRetryInterval(time.Second),
//		wxpush.WithRecorder(sim)) // sim: a *wxsim.Sim, or nothing
//	res, err := pusher.Push(ctx, req) // errors.Is(err, wxpush.ErrNotDelivered) when WeChat would give up
//
// Integration tests reuse [Spec.Message], [Signer.Sign], [PushURL] and
// [QueryValues] to build requests and check what the bridge made of them.
//
// # Concurrency
//
// [Signer] and [Pusher] are immutable after construction and safe for
// concurrent use. [Pusher.Push] sends one attempt at a time and blocks
// until the push is delivered, given up, or ctx ends (then it returns at
// once, abandoning the attempt in flight); with [WithRecorder] the push is
// reported before the first attempt. [RunPush] sends its pushes one after
// the other, in order. [Load] owns its workers and waits for all of them
// before it returns; every worker stops starting requests when the time is
// up, the generated pushes are used up or ctx ends, and a request in
// flight ends within the request timeout (at once when ctx ends).
//
// # Errors
//
// Sentinels are in errors.go; match them with [errors.Is]. Bad
// configurations, specs and options wrap [ErrInvalid] (Validate reports
// all problems at once). A push WeChat would give up on wraps
// [ErrNotDelivered] together with the last attempt's reason: [ErrStatus]
// (not 200), [ErrTimeout] (no answer within the attempt timeout),
// [ErrReply] (an answer WeChat takes as abnormal data) or a transport
// error. Errors of pkg/wxcodec (for example [wxcodec.ErrNoKey]) are
// wrapped with the operation. [Load] counts failed requests in its report
// instead of returning them. A failed report to a [wxsim.RemoteRecorder]
// is logged at Debug level, never returned: pushes work without a
// simulator.
package wxpush
