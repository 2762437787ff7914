package events

import "errors"

var (
	// ErrToken reports a subject token with characters NATS forbids or that
	// kfbridge does not allow (anything outside [A-Za-z0-9_-], or empty).
	ErrToken = errors.New("events: invalid subject token")
	// ErrInvalid reports a push or event that does not fit the contract.
	ErrInvalid = errors.New("events: invalid event")
	// ErrNoAck reports a publish whose ack did not come within the
	// Publisher's ack timeout: the message may or may not be stored.
	ErrNoAck = errors.New("events: no ack from JetStream in time")
)
