package wxcodec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/kfbridge/kfbridge/internal/jsonenc"
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
			b = jsonenc.AppendString(b, f.name)
			b = append(b, ':')
			b = jsonenc.AppendString(b, f.val)
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
		b = jsonenc.AppendString(b, f.name)
		b = append(b, ':')
		if (f.name == nameMsgID || f.name == nameBusinessID) && isJSONInt(f.val) {
			b = append(b, f.val...)
		} else {
			b = jsonenc.AppendString(b, f.val)
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
		b = jsonenc.AppendString(b, x.Name)
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

// appendEnvelope appends a safe-mode envelope {ToUserName, Encrypt}.
func appendEnvelope(b []byte, f Format, to, enc string) []byte {
	if f == FormatXML {
		b = append(b, "<xml>"...)
		b = appendXMLStringElem(b, nameToUserName, to)
		b = appendXMLStringElem(b, nameEncrypt, enc)
		return append(b, "</xml>"...)
	}
	b = append(b, `{"ToUserName":`...)
	b = jsonenc.AppendString(b, to)
	b = append(b, `,"Encrypt":`...)
	b = jsonenc.AppendString(b, enc)
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
	doc = jsonenc.AppendString(doc, enc)
	return append(doc, '}')
}
