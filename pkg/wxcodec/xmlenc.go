package wxcodec

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

func encodeXMLMessage(m Message) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, "<xml>"...)
	for _, f := range [2]struct{ name, val string }{{nameToUserName, m.ToUserName}, {nameFromUserName, m.FromUserName}} {
		if f.val == "" {
			continue
		}
		if !xmlSafe(f.val) {
			return nil, fieldErr(f.name, ErrField, "not representable in XML")
		}
		b = appendXMLStringElem(b, f.name, f.val)
	}
	if m.CreateTime != 0 {
		b = appendXMLRawElem(b, nameCreateTime, strconv.FormatInt(m.CreateTime, 10))
	}
	for _, f := range stringFields(&m) {
		if f.val == "" {
			continue
		}
		if !xmlSafe(f.val) {
			return nil, fieldErr(f.name, ErrField, "not representable in XML")
		}
		if (f.name == nameMsgID || f.name == nameBusinessID) && isJSONInt(f.val) {
			b = appendXMLRawElem(b, f.name, f.val)
		} else {
			b = appendXMLStringElem(b, f.name, f.val)
		}
	}
	for _, x := range m.Extra {
		if !json.Valid(x.Value) {
			return nil, fieldErr(x.Name, ErrField, "value is not valid JSON")
		}
		var err error
		if b, err = appendXMLValue(b, x.Name, x.Value, 2); err != nil {
			return nil, &FieldError{Field: x.Name, Err: err}
		}
	}
	return append(b, "</xml>"...), nil
}

// appendXMLValue appends the XML form of the JSON value v as element(s)
// named name at depth depth; see [EncodeMessage].
func appendXMLValue(b []byte, name string, v []byte, depth int) ([]byte, error) {
	if !isXMLName(name) || !utf8.ValidString(name) {
		return nil, errorf(ErrField, "%q is not an XML name", name)
	}
	if depth > maxXMLDepth {
		return nil, errorf(ErrField, "nested deeper than %d", maxXMLDepth)
	}
	i := skipJSONSpace(v, 0)
	if i >= len(v) {
		return nil, errorf(ErrField, "value is not valid JSON")
	}
	kind, end, _ := jsonValueEnd(v, i)
	if skipJSONSpace(v, end) != len(v) {
		return nil, errorf(ErrField, "value is not valid JSON")
	}
	switch kind {
	case '[':
		items, err := jsonArrayItems(v[i:end])
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if k, _, _ := jsonValueEnd(it, 0); k == '[' {
				return nil, errorf(ErrField, "nested arrays cannot be represented in XML")
			}
			if b, err = appendXMLValue(b, name, it, depth); err != nil {
				return nil, err
			}
		}
		return b, nil
	case '{':
		return appendXMLObject(b, name, v[i:end], depth)
	}
	text, err := jsonScalarText(v[i:end], kind)
	if err != nil {
		return nil, err
	}
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	if kind == '"' {
		b = appendCDATA(b, text)
	} else {
		b = append(b, text...)
	}
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>'), nil
}

// jsonScalarText returns the XML text of a JSON scalar: a string's content,
// a number or boolean literal, or "" for null.
func jsonScalarText(v []byte, kind byte) (string, error) {
	switch kind {
	case '"':
		s := string(appendJSONUnescape(nil, v, 1, len(v)-1))
		if !xmlSafe(s) {
			return "", errorf(ErrField, "string not representable in XML")
		}
		return s, nil
	case 'n':
		return "", nil
	}
	return string(v), nil
}

func appendXMLObject(b []byte, name string, v []byte, depth int) ([]byte, error) {
	var buf [16]jsonMember
	ms, err := scanJSONObject(v, buf[:0])
	if err != nil {
		return nil, errorf(ErrField, "value is not valid JSON")
	}
	keys := make([]string, len(ms))
	for i, mb := range ms {
		keys[i] = string(v[mb.ns:mb.ne])
		if mb.nameEsc {
			keys[i] = string(appendJSONUnescape(nil, v, mb.ns, mb.ne))
		}
	}
	b = append(b, '<')
	b = append(b, name...)
	for i, mb := range ms {
		k := keys[i]
		if k == "" || k[0] != '@' {
			continue
		}
		if !isXMLName(k[1:]) {
			return nil, errorf(ErrField, "%q is not an XML attribute name", k)
		}
		for _, prev := range keys[:i] {
			if prev == k {
				return nil, errorf(ErrField, "duplicate attribute %q", k)
			}
		}
		if mb.kind == '{' || mb.kind == '[' {
			return nil, errorf(ErrField, "attribute %q is not a scalar", k)
		}
		text, err := jsonScalarText(v[mb.vs:mb.ve], mb.kind)
		if err != nil {
			return nil, err
		}
		b = append(b, ' ')
		b = append(b, k[1:]...)
		b = append(b, `="`...)
		b = appendXMLAttr(b, text)
		b = append(b, '"')
	}
	b = append(b, '>')
	for i, mb := range ms {
		if keys[i] != "#text" {
			continue
		}
		if mb.kind == '{' || mb.kind == '[' {
			return nil, errorf(ErrField, "#text is not a scalar")
		}
		text, err := jsonScalarText(v[mb.vs:mb.ve], mb.kind)
		if err != nil {
			return nil, err
		}
		b = appendCDATA(b, text)
	}
	for i, mb := range ms {
		if k := keys[i]; k == "#text" || k != "" && k[0] == '@' {
			continue
		}
		if b, err = appendXMLValue(b, keys[i], v[mb.vs:mb.ve], depth+1); err != nil {
			return nil, err
		}
	}
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>'), nil
}

// jsonArrayItems splits a valid JSON array into its raw items.
func jsonArrayItems(v []byte) ([][]byte, error) {
	var items [][]byte
	i := skipJSONSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return nil, nil
	}
	for i < len(v) {
		_, end, _ := jsonValueEnd(v, i)
		items = append(items, v[i:end])
		i = skipJSONSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = skipJSONSpace(v, i+1)
			continue
		}
		return items, nil
	}
	return nil, errorf(ErrField, "value is not valid JSON")
}

// appendXMLStringElem appends <name><![CDATA[s]]></name>.
func appendXMLStringElem(b []byte, name, s string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = appendCDATA(b, s)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendXMLRawElem appends <name>s</name>; s must not need escaping.
func appendXMLRawElem(b []byte, name, s string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = append(b, s...)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// appendCDATA appends s as CDATA sections. "]]>" is split across two
// sections and CR is written as a character reference (so that line-end
// normalization does not change it); characters XML forbids are replaced
// by U+FFFD (EncodeMessage rejects them beforehand).
func appendCDATA(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, "<![CDATA["...)
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ']' && len(s)-i >= 3 && s[i+1] == ']' && s[i+2] == '>':
			b = append(b, s[start:i+2]...)
			b = append(b, "]]><![CDATA["...)
			i += 2
			start = i
		case c == '\r':
			b = append(b, s[start:i]...)
			b = append(b, "]]>&#13;<![CDATA["...)
			i++
			start = i
		case c >= 0x20 && c < utf8.RuneSelf || c == '\t' || c == '\n':
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if c < utf8.RuneSelf || r == utf8.RuneError && size == 1 || !isXMLChar(r) {
				b = append(b, s[start:i]...)
				b = append(b, "\uFFFD"...)
				start = i + size
			}
			i += size
		}
	}
	b = append(b, s[start:]...)
	return append(b, "]]>"...)
}

// appendXMLAttr appends s escaped for a double-quoted attribute value.
func appendXMLAttr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\t':
			b = append(b, "&#9;"...)
		case '\n':
			b = append(b, "&#10;"...)
		case '\r':
			b = append(b, "&#13;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// xmlSafe reports whether s is valid UTF-8 made only of characters XML
// allows.
func xmlSafe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return false
		}
		i += size
	}
	return true
}
