package manage

import (
	"errors"
	"fmt"
)

// kfbridge's own errcodes for failures that have no WeChat errcode.
// WeChat's codes are -1 and positive; -1001, -1002, -1004 and -1005 mean
// what they mean in egress's results.
const (
	// CodeUnreachable: WeChat could not be reached or answered something
	// that is not its JSON, before it could act; safe to retry. (WeChat's
	// own "system busy" is -1 too.)
	CodeUnreachable = -1
	// CodeInvalid: the request is not valid; it was not sent to WeChat.
	CodeInvalid = -1001
	// CodeUnknownApp: the appid is not configured in this bridge.
	CodeUnknownApp = -1002
	// CodeMaybeApplied: the request was written to WeChat but no answer
	// came: it may have taken effect. Read before repeating a change.
	CodeMaybeApplied = -1004
	// CodeMedia: the image to upload could not be read (URL or object), or
	// a medium asked for inline does not fit a reply.
	CodeMedia = -1005
	// CodeStore: the object store failed.
	CodeStore = -1006
	// CodeBudgetOff: budget.get with reply-budget tracking off
	// (egress.reply_budget off).
	CodeBudgetOff = -1010
)

var (
	// ErrNoService reports a request nobody answered: no egress with the
	// management service is running (or the subject is not permitted).
	ErrNoService = errors.New("manage: no management service answered (is an egress running?)")
	// ErrUnknownOp reports an op that is not one of [Ops].
	ErrUnknownOp = errors.New("manage: unknown op")
)

// Error is a failed management request, as the service answers it.
type Error struct {
	// Op is the request's op, e.g. business.register.
	Op string
	// Code is WeChat's errcode, or kfbridge's negative one (Code…).
	Code int
	// Msg is the reply's errmsg: WeChat's, or kfbridge's explanation.
	Msg string
	// Description is the Nats-Service-Error header: the op and what went
	// wrong in words.
	Description string
}

func (e *Error) Error() string {
	if e.Description != "" {
		return "manage: " + e.Description
	}
	return fmt.Sprintf("manage: %s: errcode %d: %s", e.Op, e.Code, e.Msg)
}

// Is matches another *Error with the same Code, so callers can write
// errors.Is(err, &manage.Error{Code: 45070}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// invalid returns a [CodeInvalid] error saying what is wrong.
func invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Msg: "invalid request: " + fmt.Sprintf(format, args...)}
}
