package schemas

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrUnknownSchema is returned by [Validator.Validate] for a name that is
	// not an embedded schema.
	ErrUnknownSchema = errors.New("schemas: unknown schema")
	// ErrInvalid matches (with [errors.Is]) every [*ValidationError]: the
	// document is not JSON or does not match the schema.
	ErrInvalid = errors.New("schemas: document does not match schema")
)

// Violation is one way in which a document fails a schema.
type Violation struct {
	// Location is the JSON Pointer (RFC 6901) of the offending value in the
	// document, for example "/data/text/content"; "" is the whole document.
	Location string
	// Message says what is wrong, in English.
	Message string
}

// String returns the violation as `at "<Location>": <Message>`.
func (v Violation) String() string {
	return fmt.Sprintf("at %q: %s", v.Location, v.Message)
}

// ValidationError is the error [Validator.Validate] returns for a document
// that does not match its schema. It lists every violation found, sorted by
// location, and matches [ErrInvalid].
type ValidationError struct {
	// Schema is the name the document was validated against, e.g. [InboundEvent].
	Schema string
	// Violations holds at least one violation.
	Violations []Violation
}

// Error lists the schema name and every violation on one line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schemas: document does not match %s: ", e.Schema)
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// Is reports whether target is [ErrInvalid].
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalid
}
