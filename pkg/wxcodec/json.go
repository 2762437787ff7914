package wxcodec

import (
	"encoding/json"
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

// checkJSON validates b as JSON, with a detailed error when it is not.
func checkJSON(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	var v struct{}
	if err := json.Unmarshal(b, &v); err != nil {
		return syntaxErr("json: %v", err)
	}
	return syntaxErr("json: invalid document")
}

// scanJSONObject appends the members of the JSON object s to dst. s must
// have been validated (checkJSON) and start with '{' after white space;
// the checks here only guard against misuse.
func scanJSONObject[T string | []byte](s T, dst []jsonMember) ([]jsonMember, error) {
	i := skipJSONSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return nil, syntaxErr("json: not an object")
	}
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return dst, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return nil, syntaxErr("json: expected a key at offset %d", i)
		}
		var m jsonMember
		m.ns = i + 1
		i, m.nameEsc = jsonStringEnd(s, i)
		m.ne = i - 1
		i = skipJSONSpace(s, i)
		if i >= len(s) || s[i] != ':' {
			return nil, syntaxErr("json: expected ':' at offset %d", i)
		}
		i = skipJSONSpace(s, i+1)
		if i >= len(s) {
			return nil, syntaxErr("json: unexpected end of input")
		}
		m.vs = i
		m.kind, i, m.valEsc = jsonValueEnd(s, i)
		m.ve = i
		dst = append(dst, m)
		i = skipJSONSpace(s, i)
		if i < len(s) && s[i] == ',' {
			i = skipJSONSpace(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			return dst, nil
		}
		return nil, syntaxErr("json: expected ',' or '}' at offset %d", i)
	}
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
