package ingress

import (
	"errors"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

var (
	errUnknownApp  = errors.New("ingress: unknown app")
	errTooLarge    = errors.New("ingress: body too large")
	errReadBody    = errors.New("ingress: reading body")
	errPublish     = errors.New("ingress: publish not acknowledged")
	errShuttingOff = errors.New("ingress: shutting down")
	// errEventTooLarge: the push's event exceeds what NATS or the stream
	// accepts; it was not stored and never can be.
	errEventTooLarge = errors.New("ingress: event too large for NATS")
)

// tooLargeForNATS reports whether a publish failed because the message is
// over the connection's max_payload (checked by the client before sending)
// or the stream's max_msg_size.
func tooLargeForNATS(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum)
}

// statusOf maps an error to the HTTP status and the short reason used as
// metric label. It is the one place where errors become statuses.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, errUnknownApp):
		return http.StatusNotFound, "unknown_app"
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, errEventTooLarge):
		return http.StatusRequestEntityTooLarge, "event_too_large"
	case errors.Is(err, errReadBody):
		return http.StatusBadRequest, "read_body"
	case errors.Is(err, wxcodec.ErrSignature):
		return http.StatusUnauthorized, "signature"
	case errors.Is(err, wxcodec.ErrTimestamp):
		return http.StatusUnauthorized, "timestamp"
	case errors.Is(err, wxcodec.ErrAppID):
		return http.StatusUnauthorized, "appid"
	case errors.Is(err, wxcodec.ErrMode):
		return http.StatusForbidden, "mode"
	case errors.Is(err, wxcodec.ErrNoKey):
		return http.StatusBadRequest, "no_key"
	case errors.Is(err, wxcodec.ErrFormat), errors.Is(err, wxcodec.ErrSyntax):
		return http.StatusBadRequest, "malformed"
	case errors.Is(err, wxcodec.ErrBase64), errors.Is(err, wxcodec.ErrCiphertext),
		errors.Is(err, wxcodec.ErrPadding), errors.Is(err, wxcodec.ErrLength),
		errors.Is(err, wxcodec.ErrNotEncrypted):
		return http.StatusBadRequest, "ciphertext"
	case errors.Is(err, wxcodec.ErrMissingField), errors.Is(err, wxcodec.ErrField):
		return http.StatusBadRequest, "field"
	case errors.Is(err, events.ErrToken):
		return http.StatusBadRequest, "token"
	case errors.Is(err, events.ErrInvalid):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, errShuttingOff):
		return http.StatusServiceUnavailable, "shutting_down"
	case errors.Is(err, errPublish):
		return http.StatusServiceUnavailable, "publish"
	default:
		return http.StatusInternalServerError, "internal"
	}
}
