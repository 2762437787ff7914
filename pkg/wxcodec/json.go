package wxcodec

import (
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonMember is one member of a JSON object. Offsets are into the scanned
// document.
type jsonMember struct {
	ns, ne  int  // key, without the quotes
	vs, ve  int  // raw value
	kind    byte // '"' string, '0' number, '{', '[', 't', 'f' or 'n'
	nameEsc bool // the key contains escapes
	valEsc  bool // the (string) value contains escapes
}

// maxJSONDepth bounds the nesting of JSON values: the top-level object is
// level 1, and no value may open level maxJSONDepth+1. It is the same bound
// as [maxXMLDepth], so that a push of either format fits the events that
// carry it (a few levels deeper) within every JSON reader's limits.
const maxJSONDepth = MaxDepth

// countNode counts one more member or array element in *nodes, and fails
// past [MaxNodes].
func countNode(nodes *int, at int) error {
	if *nodes++; *nodes > MaxNodes {
		return limitErr("json: more than %d members and array elements at offset %d", MaxNodes, at)
	}
	return nil
}

// walkJSONObject validates the JSON document s, which must be an object
// (after optional white space) and nothing else, and calls visit for each
// of its members in order; an error from visit stops the scan. It accepts
// exactly what encoding/json.Valid accepts for such documents nested at
// most [maxJSONDepth] levels, with at most [MaxNodes] members and array
// elements in all, whose nested objects have no repeated name (UTF-8 is
// checked separately). Repeated names in the object itself are for the
// caller to handle.
//
// The scan is a single pass whose time is linear in len(s); it stops with
// [ErrLimit] at the first member or element past [MaxNodes]. It allocates
// nothing unless a nested object has more than [MaxAttributes] members
// (see [nameSet]).
func walkJSONObject[T string | []byte](s T, visit func(m jsonMember) error) error {
	i := skipJSONSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return syntaxErr("json: not an object")
	}
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return jsonEOF(s, i+1)
	}
	nodes := 0
	for {
		if i >= len(s) || s[i] != '"' {
			return jsonErr(s, i, "a member name")
		}
		if err := countNode(&nodes, i); err != nil {
			return err
		}
		var m jsonMember
		var err error
		m.ns = i + 1
		if i, m.nameEsc, err = jsonString(s, i); err != nil {
			return err
		}
		m.ne = i - 1
		i = skipJSONSpace(s, i)
		if i >= len(s) || s[i] != ':' {
			return jsonErr(s, i, "':'")
		}
		i = skipJSONSpace(s, i+1)
		m.vs = i
		if m.kind, i, m.valEsc, err = jsonValue(s, i, 1, &nodes); err != nil {
			return err
		}
		m.ve = i
		if err := visit(m); err != nil {
			return err
		}
		i = skipJSONSpace(s, i)
		if i < len(s) && s[i] == ',' {
			i = skipJSONSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			return jsonEOF(s, i+1)
		}
		return jsonErr(s, i, "',' or '}'")
	}
}

// scanJSONObject is [walkJSONObject] that appends the members to dst. When
// dst is full it grows once to room for [MaxNodes], which no document
// exceeds.
func scanJSONObject[T string | []byte](s T, dst []jsonMember) ([]jsonMember, error) {
	err := walkJSONObject(s, func(m jsonMember) error {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, MaxNodes-len(dst))
		}
		dst = append(dst, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// jsonEOF checks that only white space follows offset i.
func jsonEOF[T string | []byte](s T, i int) error {
	if i = skipJSONSpace(s, i); i < len(s) {
		return syntaxErr("json: data after the top-level value at offset %d", i)
	}
	return nil
}

func jsonErr[T string | []byte](s T, i int, want string) error {
	if i >= len(s) {
		return syntaxErr("json: unexpected end of input, want %s", want)
	}
	return syntaxErr("json: invalid character %q at offset %d, want %s", s[i], i, want)
}

// jsonValue validates the JSON value at s[i] (nested depth deep) and
// returns its kind ('"', '0' for numbers, '{', '[', 't', 'f' or 'n'), the
// offset after it and, for a string, whether it contains escapes. Its
// members and elements are counted in *nodes.
func jsonValue[T string | []byte](s T, i, depth int, nodes *int) (kind byte, end int, esc bool, err error) {
	if i >= len(s) {
		return 0, i, false, jsonErr(s, i, "a value")
	}
	switch c := s[i]; c {
	case '"':
		end, esc, err = jsonString(s, i)
		return '"', end, esc, err
	case '{', '[':
		if depth >= maxJSONDepth {
			return 0, i, false, limitErr("json: nested deeper than %d", maxJSONDepth)
		}
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		i = skipJSONSpace(s, i+1)
		if i < len(s) && s[i] == close {
			return c, i + 1, false, nil
		}
		var names nameSet[T]
		for {
			if err := countNode(nodes, i); err != nil {
				return 0, i, false, err
			}
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return 0, i, false, jsonErr(s, i, "a member name")
				}
				ns := i + 1
				var nameEsc bool
				if i, nameEsc, err = jsonString(s, i); err != nil {
					return 0, i, false, err
				}
				if !names.add(s, ns, i-1, nameEsc) {
					return 0, i, false, syntaxErr("json: duplicate name %q in a nested object", string(s[ns:min(i-1, ns+64)]))
				}
				i = skipJSONSpace(s, i)
				if i >= len(s) || s[i] != ':' {
					return 0, i, false, jsonErr(s, i, "':'")
				}
				i = skipJSONSpace(s, i+1)
			}
			if _, i, _, err = jsonValue(s, i, depth+1, nodes); err != nil {
				return 0, i, false, err
			}
			i = skipJSONSpace(s, i)
			if i < len(s) && s[i] == ',' {
				i = skipJSONSpace(s, i+1)
				continue
			}
			if i < len(s) && s[i] == close {
				return c, i + 1, false, nil
			}
			return 0, i, false, jsonErr(s, i, "',' or '"+string(close)+"'")
		}
	case 't':
		return 't', i + 4, false, jsonLiteral(s, i, "true")
	case 'f':
		return 'f', i + 5, false, jsonLiteral(s, i, "false")
	case 'n':
		return 'n', i + 4, false, jsonLiteral(s, i, "null")
	}
	end, err = jsonNumber(s, i)
	return '0', end, false, err
}

func jsonLiteral[T string | []byte](s T, i int, lit string) error {
	if !hasPrefixAt(s, i, lit) {
		return jsonErr(s, i, "a value")
	}
	return nil
}

// jsonNumber validates the number at s[i] and returns the offset after it.
func jsonNumber[T string | []byte](s T, i int) (int, error) {
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return i, jsonErr(s, start, "a value")
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return i, jsonErr(s, i, "a digit")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return i, jsonErr(s, i, "a digit")
		}
	}
	return i, nil
}

// jsonString validates the string starting at s[i] ('"') and returns the
// offset after it and whether it contains escapes.
func jsonString[T string | []byte](s T, i int) (end int, esc bool, err error) {
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(s) {
				break
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(s, j+1, len(s)); !ok {
					return j, esc, syntaxErr("json: invalid \\u escape at offset %d", j-1)
				}
				j += 4
			default:
				return j, esc, syntaxErr("json: invalid escape at offset %d", j-1)
			}
		case c < 0x20:
			return j, esc, syntaxErr("json: control character in a string at offset %d", j)
		}
	}
	return len(s), esc, syntaxErr("json: unterminated string")
}

func skipJSONSpace[T string | []byte](s T, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// jsonStringEnd returns the offset after the string starting at s[i] ('"')
// and whether it contains escapes.
func jsonStringEnd[T string | []byte](s T, i int) (end int, esc bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return len(s), esc
}

// jsonValueEnd returns the kind of the value starting at s[i] and the
// offset after it.
func jsonValueEnd[T string | []byte](s T, i int) (kind byte, end int, esc bool) {
	switch c := s[i]; c {
	case '"':
		end, esc = jsonStringEnd(s, i)
		return '"', end, esc
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				j, _ = jsonStringEnd(s, j)
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return c, j + 1, false
				}
			}
		}
		return c, len(s), false
	case 't', 'f', 'n':
		kind = c
	default:
		kind = '0'
	}
	j := i
	for j < len(s) {
		switch s[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return kind, j, false
		}
		j++
	}
	return kind, j, false
}

// appendJSONUnescape appends the decoded content of the JSON string whose
// text (without quotes) is s[a:b]. Invalid surrogates become U+FFFD, as in
// encoding/json.
func appendJSONUnescape[T string | []byte](dst []byte, s T, a, b int) []byte {
	start := a
	for i := a; i < b; i++ {
		if s[i] != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		if i+1 >= b {
			return dst
		}
		i++
		switch c := s[i]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+1, b)
			if !ok {
				return dst
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+2 < b && s[i+1] == '\\' && s[i+2] == 'u' {
					r2, ok2 = hex4(s, i+3, b)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		start = i + 1
	}
	return append(dst, s[start:b]...)
}

func hex4[T string | []byte](s T, i, end int) (rune, bool) {
	if i+4 > end {
		return 0, false
	}
	var r rune
	for j := i; j < i+4; j++ {
		v := hexVal(s[j])
		if v > 15 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}
