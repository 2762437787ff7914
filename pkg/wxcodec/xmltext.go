package wxcodec

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// checkXMLChars validates s[a:b] as character data (entities allowed when
// amp is true) and reports whether it needs decoding (entities or CR).
func checkXMLChars[T string | []byte](s T, a, b int, amp bool) (decode bool, err error) {
	for i := a; i < b; i++ {
		c := s[i]
		if c >= 0x20 && c < 0x80 && c != '&' {
			continue
		}
		switch {
		case c == '&':
			if !amp {
				continue
			}
			_, n, ok := xmlEntity(s, i, b)
			if !ok {
				return false, syntaxErr("xml: invalid entity or character reference at offset %d", i)
			}
			decode = true
			i += n - 1
		case c == '\r':
			decode = true
		case c == '\t' || c == '\n':
		case c < 0x20:
			return false, syntaxErr("xml: illegal character U+%04X at offset %d", c, i)
		case c == 0xEF && i+2 < b && s[i+1] == 0xBF && (s[i+2] == 0xBE || s[i+2] == 0xBF):
			return false, syntaxErr("xml: illegal character at offset %d", i)
		}
	}
	return decode, nil
}

// xmlEntity decodes the entity or character reference at s[i] ('&'),
// which must end before end. It returns the rune and the length.
func xmlEntity[T string | []byte](s T, i, end int) (r rune, n int, ok bool) {
	k := i + 1
	for k < end && k-i < 12 && s[k] != ';' {
		k++
	}
	if k >= end || s[k] != ';' {
		return 0, 0, false
	}
	n = k + 1 - i
	name := s[i+1 : k]
	switch string(name) {
	case "lt":
		return '<', n, true
	case "gt":
		return '>', n, true
	case "amp":
		return '&', n, true
	case "apos":
		return '\'', n, true
	case "quot":
		return '"', n, true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, 0, false
	}
	base, digits := rune(10), name[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 {
		return 0, 0, false
	}
	for j := 0; j < len(digits); j++ {
		d := rune(hexVal(digits[j]))
		if d >= base {
			return 0, 0, false
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, 0, false
		}
	}
	if !isXMLChar(r) {
		return 0, 0, false
	}
	return r, n, true
}

func hexVal(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// isXMLChar reports whether r is allowed in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= utf8.MaxRune
}

// appendXMLText appends the decoded s[a:b], which checkXMLChars accepted:
// entities are resolved when amp is true and line ends are normalized.
func appendXMLText[T string | []byte](dst []byte, s T, a, b int, amp bool) []byte {
	start := a
	for i := a; i < b; i++ {
		switch c := s[i]; {
		case c == '\r':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\n')
			if i+1 < b && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		case c == '&' && amp:
			dst = append(dst, s[start:i]...)
			r, n, _ := xmlEntity(s, i, b)
			dst = utf8.AppendRune(dst, r)
			i += n - 1
			start = i + 1
		}
	}
	return append(dst, s[start:b]...)
}

// appendLeafText appends the decoded text of an element without child
// elements whose content is s[a:b].
func appendLeafText[T string | []byte](dst []byte, s T, a, b int) []byte {
	i := a
	for i < b {
		j := i
		for j < b && s[j] != '<' {
			j++
		}
		dst = appendXMLText(dst, s, i, j, true)
		if j >= b {
			break
		}
		// The content was validated by the scanner; the checks below only
		// guard against misuse.
		var k int
		switch {
		case hasPrefixAt(s, j, "<![CDATA["):
			if k = indexAt(s, j+9, "]]>"); k >= 0 && k <= b {
				dst = appendXMLText(dst, s, j+9, k, false)
				k += 3
			}
		case hasPrefixAt(s, j, "<!--"):
			if k = indexAt(s, j+4, "-->"); k >= 0 {
				k += 3
			}
		case hasPrefixAt(s, j, "<?"):
			if k = indexAt(s, j+2, "?>"); k >= 0 {
				k += 2
			}
		default:
			k = -1 // a child element: not a leaf
		}
		if k < 0 {
			return dst
		}
		i = k
	}
	return dst
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isNameStart and isNameChar accept the ASCII subset of XML names: WeChat's
// names are ASCII, and encoding/xml (whose Unicode name tables differ from
// XML 1.0 5th edition's) reads these the same way.
func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// isXMLName reports whether s is an element or attribute name the scanner
// accepts (see [xmlScanner.qname]).
func isXMLName(s string) bool {
	if s == "" || !isNameStart(s[0]) || strings.Count(s, ":") > 1 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixAt[T string | []byte](s T, i int, p string) bool {
	return len(s)-i >= len(p) && string(s[i:i+len(p)]) == p
}

// indexAt returns the index of the first p in s at or after i, or -1.
func indexAt[T string | []byte](s T, i int, p string) int {
	if i > len(s) {
		return -1
	}
	var k int
	switch v := any(s).(type) {
	case string:
		k = strings.Index(v[i:], p)
	case []byte:
		k = bytes.Index(v[i:], []byte(p))
	}
	if k < 0 {
		return -1
	}
	return i + k
}
