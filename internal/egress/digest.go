package egress

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"
	"unicode/utf8"
)

// dataDigest hashes a command's data in a canonical form (object members
// sorted, insignificant space dropped, numbers and repeated keys kept as
// written), so a bot that republishes the same data re-encoded is still the
// same command, and data that differs only in a digit beyond float64's
// precision or in a repeated key is not.
//
// The canonical form is the one encoding/json's Decoder.Token (with
// UseNumber) reads and json.Marshal writes back, byte for byte: digests are
// stored in records, and a record written by an older release must still
// match. Data that is not a single JSON value (or nests deeper than
// maxDigestDepth) is hashed as sent.
func dataDigest(data []byte) string {
	c := canonPool.Get().(*canonizer)
	c.data, c.pos, c.buf, c.members = data, 0, c.buf[:0], c.members[:0]
	out := data
	if c.value(0) && c.end() {
		out = c.buf
	}
	sum := sha256.Sum256(out)
	c.data = nil
	if cap(c.buf) <= maxPooledCanon && cap(c.tmp) <= maxPooledCanon {
		canonPool.Put(c)
	}
	return hex.EncodeToString(sum[:16])
}

// maxDigestDepth bounds the nesting of the data put in canonical form;
// deeper data is hashed as sent.
const maxDigestDepth = 64

// maxPooledCanon bounds the buffers of a canonizer kept for the next
// digest: a huge command's are left to the collector.
const maxPooledCanon = 64 << 10

var canonPool = sync.Pool{New: func() any { return new(canonizer) }}

// canonizer writes JSON data in canonical form into buf, reading it from
// data at pos. Its methods return false on data encoding/json's Decoder
// refuses.
type canonizer struct {
	data []byte
	pos  int
	buf  []byte
	// members holds the members of the objects being read, innermost
	// last; tmp is where an object's members are copied to be sorted.
	members []member
	tmp     []byte
}

// member is an object member written in buf: its key at buf[key:colon]
// (encoded, quotes included), its value up to end.
type member struct{ key, colon, end int }

// space skips JSON's insignificant space.
func (c *canonizer) space() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\r', '\n':
			c.pos++
		default:
			return
		}
	}
}

// end reports whether only space follows the value read.
func (c *canonizer) end() bool {
	c.space()
	return c.pos == len(c.data)
}

// value reads the value at pos, after space, at nesting depth.
func (c *canonizer) value(depth int) bool {
	if depth > maxDigestDepth {
		return false
	}
	c.space()
	if c.pos >= len(c.data) {
		return false
	}
	switch b := c.data[c.pos]; {
	case b == '{':
		return c.object(depth)
	case b == '[':
		return c.array(depth)
	case b == '"':
		return c.str()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	case b == '-' || '0' <= b && b <= '9':
		return c.number()
	}
	return false
}

func (c *canonizer) literal(s string) bool {
	if len(c.data)-c.pos < len(s) || string(c.data[c.pos:c.pos+len(s)]) != s {
		return false
	}
	c.pos += len(s)
	c.buf = append(c.buf, s...)
	return true
}

// number copies a number as written: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *canonizer) number() bool {
	d, i := c.data, c.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return false
		}
		i = j
	}
	c.buf = append(c.buf, d[c.pos:i]...)
	c.pos = i
	return true
}

// digits returns the index of the first byte of d from i that is not a
// digit.
func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// open reads an array's or object's opening character (at pos), writes it,
// and reports whether the closing one follows at once (read and written
// too).
func (c *canonizer) open(opening, closing byte) bool {
	c.pos++
	c.buf = append(c.buf, opening)
	c.space()
	if c.pos < len(c.data) && c.data[c.pos] == closing {
		c.pos++
		c.buf = append(c.buf, closing)
		return true
	}
	return false
}

func (c *canonizer) array(depth int) bool {
	if c.open('[', ']') {
		return true
	}
	for {
		if !c.value(depth + 1) {
			return false
		}
		c.space()
		if c.pos >= len(c.data) {
			return false
		}
		switch c.data[c.pos] {
		case ',':
			c.pos++
			c.buf = append(c.buf, ',')
		case ']':
			c.pos++
			c.buf = append(c.buf, ']')
			return true
		default:
			return false
		}
	}
}

// object writes an object's members sorted by their encoded keys (bytes
// compared), a repeated key keeping its values' order.
func (c *canonizer) object(depth int) bool {
	start, first := len(c.buf)+1, len(c.members)
	if c.open('{', '}') {
		return true
	}
	for {
		c.space()
		if c.pos >= len(c.data) || c.data[c.pos] != '"' {
			return false
		}
		m := member{key: len(c.buf)}
		if !c.str() {
			return false
		}
		m.colon = len(c.buf)
		c.space()
		if c.pos >= len(c.data) || c.data[c.pos] != ':' {
			return false
		}
		c.pos++
		c.buf = append(c.buf, ':')
		if !c.value(depth + 1) {
			return false
		}
		m.end = len(c.buf)
		c.members = append(c.members, m)
		c.space()
		if c.pos >= len(c.data) {
			return false
		}
		if c.data[c.pos] == '}' {
			c.pos++
			break
		}
		if c.data[c.pos] != ',' {
			return false
		}
		c.pos++
		c.buf = append(c.buf, ',')
	}
	c.sortMembers(start, c.members[first:])
	c.members = c.members[:first]
	c.buf = append(c.buf, '}')
	return true
}

// sortMembers rewrites the members ms, written from buf[start:], in the
// order of their keys.
func (c *canonizer) sortMembers(start int, ms []member) {
	key := func(m member) []byte { return c.buf[m.key:m.colon] }
	sorted := true
	for i := 1; i < len(ms) && sorted; i++ {
		sorted = bytes.Compare(key(ms[i-1]), key(ms[i])) <= 0
	}
	if sorted {
		return
	}
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(key(a), key(b)) })
	c.tmp = append(c.tmp[:0], c.buf[start:]...)
	c.buf = c.buf[:start]
	for i, m := range ms {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = append(c.buf, c.tmp[m.key-start:m.end-start]...)
	}
}

// str reads a string and writes it as json.Marshal writes the string
// encoding/json decodes from it. A string of characters json.Marshal
// writes as they are (no escape, no <, >, &, U+2028, U+2029, invalid
// UTF-8) is copied.
func (c *canonizer) str() bool {
	d := c.data
	for i := c.pos + 1; i < len(d); {
		b := d[i]
		if b < utf8.RuneSelf {
			if b == '"' {
				c.buf = append(c.buf, d[c.pos:i+1]...)
				c.pos = i + 1
				return true
			}
			if b < ' ' || b == '\\' || b == '<' || b == '>' || b == '&' {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(d[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			break
		}
		i += size
	}
	return c.strEscaped()
}

// strEscaped is str for any other string (a text with a line break, <,
// > or &, say): encoding/json decodes it and writes it back, which is the
// canonical form by definition.
func (c *canonizer) strEscaped() bool {
	d := c.data
	end := c.pos + 1
	for ; end < len(d) && d[end] != '"'; end++ {
		if d[end] == '\\' {
			end++ // the escaped character, a quote included
		}
	}
	if end >= len(d) {
		return false
	}
	var s string
	if json.Unmarshal(d[c.pos:end+1], &s) != nil {
		return false
	}
	b, err := json.Marshal(s)
	if err != nil {
		return false
	}
	c.buf = append(c.buf, b...)
	c.pos = end + 1
	return true
}
