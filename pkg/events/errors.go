package events

import "errors"

var (
	// ErrToken reports a subject token with characters NATS forbids or that
	// kfbridge does not allow (anything outside [A-Za-z0-9_-], or empty).
	ErrToken = errors.New("events: invalid subject token")
	// ErrInvalid reports a push, event, command or result that does not fit
	// the contract.
	ErrInvalid = errors.New("events: invalid event")
)
