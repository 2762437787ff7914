package budget

import "errors"

var (
	// ErrInvalid reports an argument the tracker cannot use.
	ErrInvalid = errors.New("budget: invalid argument")
	// ErrConversation reports a conversation whose tokens cannot name a
	// budget (see events.ValidToken).
	ErrConversation = errors.New("budget: invalid conversation")
	// ErrContended reports a change that lost its compare-and-set too many
	// times in a row to other writers.
	ErrContended = errors.New("budget: too many concurrent writers")
)
