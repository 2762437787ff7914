package mediafetch

import (
	"errors"
)

var (
	// ErrNotAllowed reports a destination that is not public and not in
	// [Config.Allow].
	ErrNotAllowed = errors.New("mediafetch: destination is not a public address (allow it in egress.media_fetch.allow)")
	// ErrStatus reports an HTTP status other than 200.
	ErrStatus = errors.New("mediafetch: HTTP status")
	// ErrNotImage reports a body that is not an image.
	ErrNotImage = errors.New("mediafetch: not an image")
	// ErrTooLarge reports a body over the size limit.
	ErrTooLarge = errors.New("mediafetch: image over the size limit")
	// ErrUnreachable reports a transport failure: no answer, or one that
	// is not HTTP.
	ErrUnreachable = errors.New("mediafetch: download failed")
)

// Error is a failed download.
type Error struct {
	// URL is the URL without its query, fragment and user info.
	URL string
	// Permanent is true when trying again cannot help.
	Permanent bool
	// Err is one of this package's sentinels, with detail that never
	// quotes the response.
	Err error
}

func (e *Error) Error() string { return "GET " + e.URL + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }
