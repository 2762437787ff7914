package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// This file holds the strict JSON reading behind [ParseCommand]. A command
// has no place for arbitrary JSON: every value is a string, a known object
// or, for an extension attribute, a scalar. So the body is split into object
// members once (syntax checked on the way) and each member is decoded by
// name, exactly as the JSON Schemas in schemas/out say: member names are
// case-sensitive, unknown members, null and repeated member names are
// errors, and nothing but white space may follow the object. Strings are
// unescaped as encoding/json does (invalid UTF-8 becomes U+FFFD).

// member is one member of a JSON object: its name, unescaped, and its value
// as written.
type member struct {
	name  string
	value []byte
}

// maxDepth bounds the nesting of a skipped value; a command's own values
// nest two deep, so anything deeper is invalid anyway.
const maxDepth = 32

// objectMembers returns the members of doc, which must be one JSON object,
// white space around it allowed, appended to dst in document order.
func objectMembers(doc []byte, dst []member) ([]member, error) {
	s := scanner{b: doc}
	s.space()
	ms, err := s.object(dst)
	if err != nil {
		return nil, err
	}
	s.space()
	if s.i != len(s.b) {
		return nil, s.errorf("data after the object")
	}
	return ms, nil
}

// scanner reads JSON from b, at offset i.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) errorf(format string, args ...any) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("unexpected end of JSON: "+format, args...)
	}
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, args...)...)
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads an object, appending its members to dst.
func (s *scanner) object(dst []member) ([]member, error) {
	if !s.consume('{') {
		return nil, s.errorf("want a JSON object")
	}
	if s.depth++; s.depth > maxDepth {
		return nil, s.errorf("nested too deep")
	}
	defer func() { s.depth-- }()
	s.space()
	if s.consume('}') {
		return dst, nil
	}
	for {
		s.space()
		raw, err := s.str()
		if err != nil {
			return nil, err
		}
		name, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		s.space()
		if !s.consume(':') {
			return nil, s.errorf("want : after a member name")
		}
		s.space()
		v, err := s.value()
		if err != nil {
			return nil, err
		}
		dst = append(dst, member{name: name, value: v})
		s.space()
		if s.consume(',') {
			continue
		}
		if s.consume('}') {
			return dst, nil
		}
		return nil, s.errorf("want , or } after an object member")
	}
}

// value reads any JSON value and returns it as written.
func (s *scanner) value() ([]byte, error) {
	start := s.i
	if s.i >= len(s.b) {
		return nil, s.errorf("want a value")
	}
	var err error
	switch c := s.b[s.i]; {
	case c == '{':
		_, err = s.object(nil)
	case c == '[':
		err = s.array()
	case c == '"':
		_, err = s.str()
	case c == '-' || c >= '0' && c <= '9':
		err = s.number()
	case c == 't':
		err = s.literal("true")
	case c == 'f':
		err = s.literal("false")
	case c == 'n':
		err = s.literal("null")
	default:
		err = s.errorf("invalid character %q", c)
	}
	if err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

func (s *scanner) array() error {
	s.i++ // [
	if s.depth++; s.depth > maxDepth {
		return s.errorf("nested too deep")
	}
	defer func() { s.depth-- }()
	s.space()
	if s.consume(']') {
		return nil
	}
	for {
		s.space()
		if _, err := s.value(); err != nil {
			return err
		}
		s.space()
		if s.consume(',') {
			continue
		}
		if s.consume(']') {
			return nil
		}
		return s.errorf("want , or ] after an array element")
	}
}

// str reads a string and returns it as written, quotes included.
func (s *scanner) str() ([]byte, error) {
	start := s.i
	if !s.consume('"') {
		return nil, s.errorf("want a string")
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start:s.i], nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return nil, s.errorf("unterminated string")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+5 > len(s.b) {
					return nil, s.errorf("short \\u escape")
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, s.errorf("invalid \\u escape")
					}
				}
				s.i += 5
			default:
				return nil, s.errorf("invalid escape: \\ then %q", s.b[s.i])
			}
		case c < 0x20:
			return nil, s.errorf("control character in a string")
		default:
			s.i++
		}
	}
	return nil, s.errorf("unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) number() error {
	s.consume('-')
	if !s.consume('0') && s.digits() == 0 {
		return s.errorf("invalid number")
	}
	if s.consume('.') && s.digits() == 0 {
		return s.errorf("invalid number fraction")
	}
	if s.consume('e') || s.consume('E') {
		if !s.consume('+') {
			s.consume('-')
		}
		if s.digits() == 0 {
			return s.errorf("invalid number exponent")
		}
	}
	return nil
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.errorf("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// unquote returns the string a syntax-checked JSON string token stands for,
// as encoding/json decodes it.
func unquote(raw []byte) (string, error) {
	inner := raw[1 : len(raw)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// jsonKind names the kind of a syntax-checked JSON value.
func jsonKind(v []byte) string {
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// stringValue decodes v, which must be a JSON string; at names the member
// in errors.
func stringValue(at string, v []byte) (string, error) {
	if v[0] != '"' {
		return "", fmt.Errorf("%s: want a string, got %s", at, jsonKind(v))
	}
	return unquote(v)
}

// repeatedName returns a member name that occurs more than once in ms.
func repeatedName(ms []member) (string, bool) {
	if len(ms) <= 16 {
		for i := range ms {
			for _, m := range ms[i+1:] {
				if m.name == ms[i].name {
					return m.name, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if seen[m.name] {
			return m.name, true
		}
		seen[m.name] = true
	}
	return "", false
}

// decodeObject decodes v, a JSON object whose members are all strings, with
// set, which reports false for a member name it does not know. at names the
// object in errors.
func decodeObject(at string, v []byte, set func(name, value string) bool) error {
	var buf [8]member
	ms, err := objectMembers(v, buf[:0])
	if err != nil {
		if v[0] != '{' {
			return fmt.Errorf("%s: want an object, got %s", at, jsonKind(v))
		}
		return fmt.Errorf("%s: %w", at, err)
	}
	if name, ok := repeatedName(ms); ok {
		return fmt.Errorf("%s: member %.64q appears more than once", at, name)
	}
	for _, m := range ms {
		if m.value[0] != '"' {
			return fmt.Errorf("%s: member %.64q: want a string, got %s", at, m.name, jsonKind(m.value))
		}
		s, err := unquote(m.value)
		if err != nil {
			return err
		}
		if !set(m.name, s) {
			return fmt.Errorf("%s: unknown member %.64q", at, m.name)
		}
	}
	return nil
}

// validAttributeName reports whether name is a CloudEvents attribute name
// as the command schema's propertyNames says: ^[a-z0-9]{1,20}$.
func validAttributeName(name string) bool {
	if len(name) == 0 || len(name) > 20 {
		return false
	}
	for i := range len(name) {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// validURI reports whether s is an absolute URI as the JSON Schema
// validator reads format "uri": net/url parses it, has a scheme, and an IPv6
// host is bracketed and has no zone.
func validURI(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if host := u.Hostname(); strings.Contains(host, ":") {
		if !strings.Contains(u.Host, "[") || !strings.Contains(u.Host, "]") {
			return false
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || addr.Zone() != "" {
			return false
		}
	}
	return u.IsAbs()
}
