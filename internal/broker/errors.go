package broker

import "errors"

var (
	// ErrNotReady reports an embedded server that did not become ready.
	ErrNotReady = errors.New("broker: embedded NATS server not ready")
)
