// Package schemas holds kfbridge's machine-readable wire contract: JSON
// Schemas (draft 2020-12) of the inbound events kfbridge publishes on NATS
// ([InboundEvent]), the commands bots send it ([CommandEvent],
// [SendCommandData], [TypingCommandData]), the result of each command
// ([ResultEvent]) and the requests and replies of the management service
// on wxkf.api.<appid>.<op> ([APIBusinessRegisterRequest] … [APIErrorReply]),
// and an AsyncAPI 3.0 document listing the subjects, embedded in the
// binary, plus a [Validator] that checks documents against them.
//
// Bots in other languages read the files in the repository's schemas/
// directory; Go code and kfbridge's own tests use this package. The Go types
// and the code that builds events live in package
// github.com/kfbridge/kfbridge/pkg/events, whose tests validate the events it
// produces with [Validator]; the egress validates every command's data, and
// the management service every request, with it before acting on it.
//
// # Usage
//
//	v, err := schemas.NewValidator()
//	if err != nil {
//		return err
//	}
//	if err := v.Validate(schemas.InboundEvent, msg.Data()); err != nil {
//		// errors.Is(err, schemas.ErrInvalid); errors.As gives the
//		// *schemas.ValidationError with every violation.
//	}
//
// [FS] gives the embedded files themselves, e.g. to serve them over HTTP.
//
// # Concurrency
//
// A [Validator] holds only compiled schemas that are never modified after
// [NewValidator] returns, so one Validator may be used by any number of
// goroutines at once. [FS] is read-only.
//
// # Errors
//
// [Validator.Validate] returns a [*ValidationError] for a document that is
// not JSON or does not match; it lists every violation, with its JSON Pointer
// location, and matches [ErrInvalid] with [errors.Is]. An unknown schema name
// gives an error matching [ErrUnknownSchema]. [NewValidator] fails only if an
// embedded schema is broken, which the package's tests rule out.
package schemas
