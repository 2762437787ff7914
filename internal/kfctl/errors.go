package kfctl

import "errors"

var (
	// ErrUsage reports a command line kfctl cannot run; the usage was
	// printed to stderr.
	ErrUsage = errors.New("kfctl: usage")
	// ErrFailed reports a command that ran but whose outcome is a failure
	// (a send that was not delivered); its details were printed.
	ErrFailed = errors.New("kfctl: failed")
)
