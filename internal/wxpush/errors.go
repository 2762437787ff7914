package wxpush

import "errors"

// Sentinel errors of this package. Match them with [errors.Is].
var (
	// ErrInvalid reports an invalid configuration, [Spec] or [Option].
	ErrInvalid = errors.New("wxpush: invalid")
	// ErrNotDelivered reports a push that was not delivered after all its
	// attempts; it wraps the reason of the last attempt.
	ErrNotDelivered = errors.New("wxpush: push not delivered")
	// ErrStatus reports an answer of the ingress whose HTTP status is not
	// 200.
	ErrStatus = errors.New("wxpush: HTTP status is not 200")
	// ErrTimeout reports an attempt that got no complete answer within the
	// per-attempt timeout (WeChat waits 5 s).
	ErrTimeout = errors.New("wxpush: no answer in time")
	// ErrReply reports a 200 answer that WeChat would take as abnormal
	// data: neither "success", an empty body nor a valid passive reply.
	ErrReply = errors.New("wxpush: abnormal reply")
)
