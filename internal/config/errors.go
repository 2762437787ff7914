package config

import "errors"

var (
	// ErrInvalid reports a configuration that fails validation.
	ErrInvalid = errors.New("config: invalid")
	// ErrUnsetVariable reports a ${NAME} reference to an unset variable.
	ErrUnsetVariable = errors.New("config: unset environment variable")
	// ErrUnknownVariable reports a KFBRIDGE_ variable that names nothing
	// kfbridge reads ([CheckEnviron]).
	ErrUnknownVariable = errors.New("config: unknown environment variable")
)
