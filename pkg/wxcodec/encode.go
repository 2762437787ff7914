package wxcodec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// EncodeMessage encodes m in format f; it is the inverse of [ParseMessage]
// (used by the simulator, tests and fuzzing).
//
// The typed fields are written first (those that are empty, and a zero
// CreateTime, are omitted), then Extra in order. XML uses an <xml> root,
// CDATA for strings and plain text for CreateTime and for MsgId and
// BusinessId when they are integers; Extra values are converted back to
// elements (strings and numbers as text, objects as child elements with
// "@name" keys as attributes and "#text" as text, arrays as repeated
// elements). JSON writes CreateTime, and MsgId and BusinessId when they are
// integers, as numbers and Extra values raw.
//
// It returns an error wrapping [ErrFormat] for an unknown format, and a
// [*FieldError] for a value that format cannot represent (an invalid XML
// name, a string with characters XML forbids, or an Extra value that is
// not valid JSON).
func EncodeMessage(f Format, m Message) ([]byte, error) {
	switch f {
	case FormatXML:
		return encodeXMLMessage(m)
	case FormatJSON:
		return encodeJSONMessage(m)
	}
	return nil, fmt.Errorf("%w: %v", ErrFormat, f)
}

// stringFields lists the typed string fields in encoding order, with their
// WeChat names.
func stringFields(m *Message) [13]struct{ name, val string } {
	return [13]struct{ name, val string }{
		{nameMsgType, m.MsgType},
		{nameContent, m.Content},
		{namePicURL, m.PicURL},
		{nameMediaID, m.MediaID},
		{nameTitle, m.Title},
		{nameAppID, m.AppID},
		{namePagePath, m.PagePath},
		{nameThumbURL, m.ThumbURL},
		{nameThumbMediaID, m.ThumbMediaID},
		{nameEvent, m.Event},
		{nameSessionFrom, m.SessionFrom},
		{nameMsgID, m.MsgID},
		{nameBusinessID, m.BusinessID},
	}
}

func encodeJSONMessage(m Message) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	for _, f := range [2]struct{ name, val string }{{nameToUserName, m.ToUserName}, {nameFromUserName, m.FromUserName}} {
		if f.val != "" {
			sep()
			b = AppendJSONString(b, f.name)
			b = append(b, ':')
			b = AppendJSONString(b, f.val)
		}
	}
	if m.CreateTime != 0 {
		sep()
		b = append(b, `"CreateTime":`...)
		b = strconv.AppendInt(b, m.CreateTime, 10)
	}
	for _, f := range stringFields(&m) {
		if f.val == "" {
			continue
		}
		sep()
		b = AppendJSONString(b, f.name)
		b = append(b, ':')
		if (f.name == nameMsgID || f.name == nameBusinessID) && isJSONInt(f.val) {
			b = append(b, f.val...)
		} else {
			b = AppendJSONString(b, f.val)
		}
	}
	for _, x := range m.Extra {
		if !json.Valid(x.Value) {
			return nil, fieldErr(x.Name, ErrField, "value is not valid JSON")
		}
		if !utf8.ValidString(x.Name) {
			return nil, fieldErr(x.Name, ErrField, "name is not valid UTF-8")
		}
		sep()
		b = AppendJSONString(b, x.Name)
		b = append(b, ':')
		b = append(b, x.Value...)
	}
	b = append(b, '}')
	return b, nil
}

// isJSONInt reports whether s is a JSON integer: -?(0|[1-9][0-9]*).
func isJSONInt(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AppendJSONString appends s to b as a JSON string literal. Like
// encoding/json it escapes control characters, quotes and backslashes,
// replaces invalid UTF-8 with U+FFFD and escapes U+2028 and U+2029; unlike
// it, it leaves <, > and & alone, which JSON does not require escaping. It
// is what kfbridge's hand-written JSON encoders share.
func AppendJSONString(b []byte, s string) []byte {
	return appendJSONString(b, s)
}

// appendJSONString is [AppendJSONString] for a string or a byte slice.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEnvelope appends a safe-mode envelope {ToUserName, Encrypt}.
func appendEnvelope(b []byte, f Format, to, enc string) []byte {
	if f == FormatXML {
		b = append(b, "<xml>"...)
		b = appendXMLStringElem(b, nameToUserName, to)
		b = appendXMLStringElem(b, nameEncrypt, enc)
		return append(b, "</xml>"...)
	}
	b = append(b, `{"ToUserName":`...)
	b = AppendJSONString(b, to)
	b = append(b, `,"Encrypt":`...)
	b = AppendJSONString(b, enc)
	return append(b, '}')
}

// appendEncryptField adds an Encrypt field at the end of a document
// produced by EncodeMessage (compatible mode).
func appendEncryptField(doc []byte, f Format, enc string) []byte {
	if f == FormatXML {
		const end = "</xml>"
		doc = doc[:len(doc)-len(end)]
		doc = appendXMLStringElem(doc, nameEncrypt, enc)
		return append(doc, end...)
	}
	doc = doc[:len(doc)-1]
	if len(doc) > 1 {
		doc = append(doc, ',')
	}
	doc = append(doc, `"Encrypt":`...)
	doc = AppendJSONString(doc, enc)
	return append(doc, '}')
}
