// Package textsplit cuts a text that is longer than a byte limit into parts
// that each fit, for a chat API that refuses longer messages (WeChat's send
// API answers 45002 to a text over 2048 UTF-8 bytes).
//
// # Usage
//
//	parts, err := textsplit.Split(content, 2048)
//	if errors.Is(err, textsplit.ErrLinkTooLong) { … } // cannot be sent as text
//
// Concatenated, the parts are exactly the input. Each part is at most the
// limit in bytes and ends where a reader would pause: after a paragraph
// ("\n\n"), else after a line ("\n"), else after a sentence (。！？；… or
// a '.', '!', '?', ';' followed by white space, with the closing quotes and
// brackets that follow it), else after a clause (，、： or a closing CJK
// bracket), else before a word (after a space or tab), else at a character
// (rune) boundary that splits no combined character (an accent, an emoji
// with its modifier or joiner sequence) when one is within 64 bytes, else
// at any character boundary. A break of a
// higher rank is only taken when it keeps the part at least half the limit
// long, so that a text is not cut into many short messages: each message
// counts against the conversation's reply budget. A part never ends inside a
// link <a …>…</a> (WeChat's mini-program text links): a link is moved whole
// into the next part, and a link longer than the limit is an error.
//
// The choice of each cut depends only on the text from where its part
// starts: splitting the rest of a text after some of its parts gives the
// same parts as splitting the whole text did. A sender that recorded how
// many bytes it has sent can resume by splitting the rest.
//
// # Concurrency
//
// The functions are pure and safe for concurrent use.
//
// # Errors
//
// [Split] fails with [ErrLinkTooLong] (nothing is returned) when a link is
// longer than the limit, and with [ErrLimit] for a limit below
// [MinLimit].
package textsplit
