package bridge

import "errors"

var (
	// ErrPreflight reports a configuration that cannot run here, found by
	// [Preflight] or [Check] before anything starts.
	ErrPreflight = errors.New("bridge: cannot start")
)
