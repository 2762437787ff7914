package wxsim

import "errors"

// Sentinel errors of this package. Match them with [errors.Is].
var (
	// ErrInvalid reports an invalid configuration ([SimConfig],
	// [ServeConfig], [Faults]), URL or argument.
	ErrInvalid = errors.New("wxsim: invalid")
	// ErrStatus reports a control endpoint's answer whose HTTP status is
	// not 200 ([RemoteRecorder]).
	ErrStatus = errors.New("wxsim: HTTP status is not 200")
)
