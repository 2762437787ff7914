package textsplit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinLimit is the smallest limit [Split] takes: room for any one character
// (utf8.UTFMax bytes) several times over.
const MinLimit = 16

// Split returns s cut into parts of at most limit bytes, as the package doc
// describes; s itself (one part) when it fits. The parts are valid UTF-8
// when s is. It fails with [ErrLinkTooLong] when a link of s does not fit in
// limit bytes.
func Split(s string, limit int) ([]string, error) {
	if limit < MinLimit {
		return nil, fmt.Errorf("%w: %d, want at least %d", ErrLimit, limit, MinLimit)
	}
	if len(s) <= limit {
		return []string{s}, nil
	}
	parts := make([]string, 0, len(s)/limit+2)
	links := findLinks(s)
	for start := 0; len(s)-start > limit; {
		// Links that end before start no longer matter.
		for len(links) > 0 && links[0].end <= start {
			links = links[1:]
		}
		cut, err := cutAt(s, start, limit, links)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s[start:cut])
		start = cut
		if len(s)-start <= limit {
			parts = append(parts, s[start:])
		}
	}
	return parts, nil
}

// Count returns how many parts [Split] cuts s into, or its error.
func Count(s string, limit int) (int, error) {
	parts, err := Split(s, limit)
	return len(parts), err
}

// span is a link's bytes [start, end) in the text.
type span struct{ start, end int }

// findLinks returns the links of s in order: from each "<a" followed by
// white space or '>' (in any case) to the end of the first "</a>" after it.
// An "<a" with no "</a>" after it is no link.
func findLinks(s string) []span {
	var links []span
	for i := 0; i < len(s); {
		j := indexOpen(s[i:])
		if j < 0 {
			break
		}
		open := i + j
		k := indexFold(s[open+2:], "</a>")
		if k < 0 {
			break
		}
		end := open + 2 + k + len("</a>")
		links = append(links, span{open, end})
		i = end
	}
	return links
}

// indexOpen returns the index of the first "<a" or "<A" in s that is
// followed by white space or '>', or -1.
func indexOpen(s string) int {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return -1
		}
		i += j
		if i+2 < len(s) && (s[i+1] == 'a' || s[i+1] == 'A') {
			switch s[i+2] {
			case ' ', '\t', '\n', '\r', '>':
				return i
			}
		}
		i++
	}
}

// indexFold returns the index of the first ASCII case-insensitive match of
// the lower-case ASCII sub in s, or -1.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := strings.IndexByte(s[i:], sub[0])
		if j < 0 {
			return -1
		}
		i += j
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// cutAt returns where the part that starts at start ends, for a rest of s
// longer than limit. links holds the links that end after start, in order;
// none starts before start (no part ends inside one). It reads nothing of s
// before start.
func cutAt(s string, start, limit int, links []span) (int, error) {
	t := s[start:] // positions below are relative to start
	end := limit
	// No cut inside a link: the window ends before the first link that
	// crosses its end.
	for _, l := range links {
		if l.start-start >= end {
			break
		}
		if l.end-start > end {
			if l.start == start {
				return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrLinkTooLong, l.end-l.start, limit)
			}
			end = l.start - start
			break
		}
	}
	// Breaks of a higher rank count when they keep the part at least half
	// the limit long.
	low := limit / 2
	if end <= low {
		low = 1
	}
	for _, rank := range []func(t string, p int) bool{paragraphEnd, lineEnd, sentenceEnd, clauseEnd, wordEnd} {
		in := newLinkCursor(links, start, end)
		for p := end; p >= low; p-- {
			if c := t[p-1]; !utf8.RuneStart(t[p]) || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
				continue // no break of any rank: quickly
			}
			if !in.inside(p) && rank(t, p) {
				return start + p, nil
			}
		}
	}
	// A character boundary, outside a combined character if one is near (an
	// accent, an emoji sequence); else any; in invalid UTF-8 (a run of
	// continuation bytes) any byte will do.
	in := newLinkCursor(links, start, end)
	for p := end; p >= low && p > end-maxCluster; p-- {
		if !in.inside(p) && utf8.RuneStart(t[p]) && !joined(t, p) {
			return start + p, nil
		}
	}
	in = newLinkCursor(links, start, end)
	for p := end; p > 0 && p > end-utf8.UTFMax; p-- {
		if !in.inside(p) && utf8.RuneStart(t[p]) {
			return start + p, nil
		}
	}
	return start + end, nil
}

// linkCursor answers whether positions, asked in decreasing order, lie
// inside a link, in constant time amortized.
type linkCursor struct {
	links []span
	start int // of the part: positions are relative to it
	k     int // the last link that starts before the position asked last
}

func newLinkCursor(links []span, start, end int) *linkCursor {
	k := 0
	for k < len(links) && links[k].start-start < end {
		k++
	}
	return &linkCursor{links: links, start: start, k: k - 1}
}

// inside reports whether a cut at p (not above the previous p asked) would
// fall inside a link.
func (c *linkCursor) inside(p int) bool {
	for c.k >= 0 && c.links[c.k].start-c.start >= p {
		c.k--
	}
	return c.k >= 0 && p < c.links[c.k].end-c.start
}

// paragraphEnd reports whether p follows a blank line: s[:p] ends in "\n\n"
// (or "\n\r\n") and s[p] starts no further line break of the run.
func paragraphEnd(s string, p int) bool {
	if p < 2 || p >= len(s) || s[p-1] != '\n' || s[p] == '\n' || s[p] == '\r' {
		return false
	}
	return s[p-2] == '\n' || (p >= 3 && s[p-2] == '\r' && s[p-3] == '\n')
}

// lineEnd reports whether p follows a line break, s[p] starting no further
// one.
func lineEnd(s string, p int) bool {
	return p >= 1 && p < len(s) && s[p-1] == '\n' && s[p] != '\n' && s[p] != '\r'
}

// sentenceEnd reports whether p follows the end of a sentence: a CJK full
// stop, exclamation or question mark, semicolon or ellipsis, or an ASCII
// '.', '!', '?' or ';' followed by white space (which goes with the
// sentence), each with the closing quotes and brackets after it; and s[p]
// continues with none of those.
func sentenceEnd(s string, p int) bool {
	if p < 1 || p >= len(s) {
		return false
	}
	if c := s[p-1]; c < utf8.RuneSelf && !strings.ContainsRune(" \t.!?;\"')]", rune(c)) {
		return false // the common case, quickly
	}
	next, _ := utf8.DecodeRuneInString(s[p:])
	if closing(next) || isSpace(next) || terminator(next) {
		return false
	}
	q := p
	spaced := false
	for q > 0 && (s[q-1] == ' ' || s[q-1] == '\t') {
		q--
		spaced = true
	}
	for q > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:q])
		if !closing(r) {
			break
		}
		q -= n
	}
	if q == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:q])
	switch r {
	case '.', '!', '?', ';':
		return spaced
	}
	return terminator(r)
}

// clauseEnd reports whether p follows a CJK comma, enumeration comma,
// colon or a closing bracket, s[p] continuing with none of those.
func clauseEnd(s string, p int) bool {
	if p < 1 || p >= len(s) || s[p-1] < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:p])
	next, _ := utf8.DecodeRuneInString(s[p:])
	switch r {
	case '，', '、', '：', '）', '」', '』', '】', '》':
		return !closing(next) && !terminator(next) && next != '，' && next != '、'
	}
	return false
}

// wordEnd reports whether p follows white space and starts a word.
func wordEnd(s string, p int) bool {
	return p >= 1 && p < len(s) && isSpace(rune(s[p-1])) && !isSpace(rune(s[p])) && s[p] != '\n' && s[p] != '\r'
}

// maxCluster bounds how far a cut moves back to keep a combined character
// whole.
const maxCluster = 64

// joined reports whether a cut at p would split a combined character: the
// rune at p combines with the one before (a combining mark, a variation
// selector, an emoji modifier, a zero-width joiner, the second of a pair of
// regional indicators is not told apart) or the one before p is a joiner.
func joined(s string, p int) bool {
	if p <= 0 || p >= len(s) {
		return false
	}
	prev, _ := utf8.DecodeLastRuneInString(s[:p])
	next, _ := utf8.DecodeRuneInString(s[p:])
	if prev == '\u200d' || next == '\u200d' || (prev == '\r' && next == '\n') {
		return true
	}
	switch {
	case unicode.In(next, unicode.Mn, unicode.Me, unicode.Mc):
		return true
	case next >= 0xfe00 && next <= 0xfe0f, next >= 0xe0100 && next <= 0xe01ef: // variation selectors
		return true
	case next >= 0x1f3fb && next <= 0x1f3ff: // emoji skin-tone modifiers
		return true
	case next >= 0xe0020 && next <= 0xe007f: // emoji tag sequences
		return true
	}
	return false
}

// terminator reports whether r ends a sentence on its own.
func terminator(r rune) bool {
	switch r {
	case '。', '！', '？', '；', '…', '｡', '.', '!', '?', ';':
		return true
	}
	return false
}

// closing reports whether r closes a quotation or bracket.
func closing(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '”', '’', '」', '』', '）', '】', '》', '〉':
		return true
	}
	return false
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }
