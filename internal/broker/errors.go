package broker

import "errors"

var (
	// ErrNotReady reports an embedded server that did not become ready.
	ErrNotReady = errors.New("broker: embedded NATS server not ready")
	// ErrURL reports a nats.url that does not parse; the error shows it
	// with its parts that do not parse and its credentials redacted.
	ErrURL = errors.New("broker: nats.url does not parse")
)
