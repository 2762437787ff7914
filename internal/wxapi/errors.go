package wxapi

import (
	"errors"
	"fmt"
)

// Class is what a caller should do about an error.
type Class uint8

// Error classes, as wechat-protocol.md §9 defines them.
const (
	// ClassPermanent: bad input or configuration; do not retry.
	ClassPermanent Class = iota
	// ClassTransient: WeChat busy or a transport failure before the request
	// was written; retry with backoff.
	ClassTransient
	// ClassToken: the access token is invalid or expired; refresh, retry once.
	ClassToken
	// ClassQuota: a daily or per-minute quota is used up; pause the app.
	ClassQuota
	// ClassWindow: the send window is closed or its count used up; drop.
	ClassWindow
	// ClassMaybeDelivered: the request was written but no answer came; it
	// may have been delivered.
	ClassMaybeDelivered
)

func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassToken:
		return "token"
	case ClassQuota:
		return "quota"
	case ClassWindow:
		return "window"
	case ClassMaybeDelivered:
		return "maybe_delivered"
	default:
		return "permanent"
	}
}

// Error codes the bridge acts on.
const (
	CodeBusy           = -1
	CodeInvalidToken   = 40001
	CodeBadToken       = 40014
	CodeMissingToken   = 41001
	CodeTokenExpired   = 42001
	CodeDailyQuota     = 45009
	CodeMinuteQuota    = 45011
	CodeOutOfWindow    = 45015
	CodeTooManyReplies = 45047
	CodeInvalidMediaID = 40007
)

// Classify returns the class of a WeChat errcode.
func Classify(code int) Class {
	switch code {
	case CodeBusy:
		return ClassTransient
	case CodeInvalidToken, CodeBadToken, CodeMissingToken, CodeTokenExpired:
		return ClassToken
	case CodeDailyQuota, CodeMinuteQuota:
		return ClassQuota
	case CodeOutOfWindow, CodeTooManyReplies:
		return ClassWindow
	default:
		return ClassPermanent
	}
}

// APIError is a non-zero errcode answered by WeChat.
type APIError struct {
	Op   string // the API path
	Code int
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wxapi: %s: errcode %d: %s", e.Op, e.Code, e.Msg)
}

// Class returns what to do about e.
func (e *APIError) Class() Class { return Classify(e.Code) }

// Is matches another *APIError with the same Code, so callers can write
// errors.Is(err, &wxapi.APIError{Code: 45015}).
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Code == e.Code
}

// TransportError is a failure to get an answer from WeChat: connection
// errors, timeouts, HTTP statuses other than 200, and bodies that are not
// WeChat's JSON.
type TransportError struct {
	Op string
	// Written is true when the whole request had been written before the
	// failure: WeChat may have acted on it.
	Written bool
	// Status is the HTTP status, 0 when none was received.
	Status int
	Err    error
}

func (e *TransportError) Error() string {
	w := ""
	if e.Written {
		w = " after the request was written"
	}
	if e.Status != 0 {
		return fmt.Sprintf("wxapi: %s: HTTP %d%s: %v", e.Op, e.Status, w, e.Err)
	}
	return fmt.Sprintf("wxapi: %s%s: %v", e.Op, w, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Class is transient unless the request was written without any answer,
// which may have been acted on. An HTTP error status is an answer: WeChat
// did not act.
func (e *TransportError) Class() Class {
	if e.Written && e.Status == 0 {
		return ClassMaybeDelivered
	}
	return ClassTransient
}

// ClassOf returns the class of any error from this package; other errors
// (such as a cancelled context before the call) are transient.
func ClassOf(err error) Class {
	var api *APIError
	if errors.As(err, &api) {
		return api.Class()
	}
	var tr *TransportError
	if errors.As(err, &tr) {
		return tr.Class()
	}
	return ClassTransient
}

// CodeOf returns the errcode of an [*APIError] in err, or -1 for other
// failures (WeChat's own "system busy" code is also -1).
func CodeOf(err error) int {
	var api *APIError
	if errors.As(err, &api) {
		return api.Code
	}
	return -1
}

var (
	// ErrBadResponse reports an answer that is not WeChat's JSON.
	ErrBadResponse = errors.New("wxapi: unexpected response")
)
