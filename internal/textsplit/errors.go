package textsplit

import "errors"

var (
	// ErrLinkTooLong says that a link <a …>…</a> of the text is longer than
	// the limit: it cannot be sent whole in one part.
	ErrLinkTooLong = errors.New("textsplit: a link is longer than the text limit")
	// ErrLimit says the limit is below [MinLimit].
	ErrLimit = errors.New("textsplit: limit too small")
)
