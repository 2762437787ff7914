package wxcodec

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (usually wrapped with detail) by this package.
// Match them with [errors.Is].
var (
	// ErrConfig reports an invalid argument to [New].
	ErrConfig = errors.New("wxcodec: invalid configuration")
	// ErrFormat reports a body that is neither XML nor JSON.
	ErrFormat = errors.New("wxcodec: unknown body format")
	// ErrSyntax reports a malformed XML or JSON document.
	ErrSyntax = errors.New("wxcodec: syntax error")
	// ErrLimit reports a document over the structure limits ([MaxDepth],
	// [MaxNodes], [MaxAttributes]). It wraps [ErrSyntax], so a caller that
	// treats every malformed body alike need not test for it.
	ErrLimit = fmt.Errorf("%w: document over the structure limits", ErrSyntax)
	// ErrSignature reports a signature or msg_signature mismatch.
	ErrSignature = errors.New("wxcodec: bad signature")
	// ErrTimestamp reports a timestamp that is malformed or outside the window.
	ErrTimestamp = errors.New("wxcodec: bad timestamp")
	// ErrKey reports an invalid EncodingAESKey.
	ErrKey = errors.New("wxcodec: invalid EncodingAESKey")
	// ErrNoKey reports an encryption asked of a [Codec] without an
	// EncodingAESKey.
	ErrNoKey = errors.New("wxcodec: no EncodingAESKey configured")
	// ErrMode reports a push in an encryption mode the [Codec] does not
	// accept ([WithModes]).
	ErrMode = errors.New("wxcodec: encryption mode not accepted")
	// ErrBase64 reports an Encrypt value that is not valid standard base64.
	ErrBase64 = errors.New("wxcodec: bad base64")
	// ErrCiphertext reports a ciphertext that is empty, not a multiple of
	// the AES block size or too short to hold the plaintext header.
	ErrCiphertext = errors.New("wxcodec: bad ciphertext")
	// ErrPadding reports an invalid 32-byte PKCS#7 padding.
	ErrPadding = errors.New("wxcodec: bad padding")
	// ErrLength reports a msg_len outside the decrypted plaintext.
	ErrLength = errors.New("wxcodec: bad message length")
	// ErrAppID reports a receiveid that differs from the configured AppID.
	ErrAppID = errors.New("wxcodec: appid mismatch")
	// ErrNotEncrypted reports a push whose query says encrypted but whose
	// body has no Encrypt field.
	ErrNotEncrypted = errors.New("wxcodec: push is not encrypted")
	// ErrMissingField reports a required field that is absent or empty.
	// It is wrapped in a [*FieldError].
	ErrMissingField = errors.New("wxcodec: missing field")
	// ErrField reports a field with an invalid type or value, or a
	// duplicate field. It is wrapped in a [*FieldError].
	ErrField = errors.New("wxcodec: invalid field")
)

// FieldError reports a problem with one field of a message or envelope.
// Err is [ErrMissingField] or wraps [ErrField].
type FieldError struct {
	// Field is the WeChat name of the field, for example "MsgType".
	Field string
	// Err is the underlying error.
	Err error
}

// Error implements the error interface.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%v (field %s)", e.Err, e.Field)
}

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(name string, err error, detail string) error {
	if detail != "" {
		err = fmt.Errorf("%w: %s", err, detail)
	}
	return &FieldError{Field: name, Err: err}
}

func syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, args...)...)
}

func limitErr(format string, args ...any) error {
	return errorf(ErrLimit, format, args...)
}

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
