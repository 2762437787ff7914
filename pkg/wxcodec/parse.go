package wxcodec

import (
	"strconv"
	"unicode/utf8"

	"github.com/kfbridge/kfbridge/internal/jsonenc"
)

// Kinds of a message whose kind fields go to the typed part of [Message].
const (
	kindText  = "text"
	kindImage = "image"
	kindPage  = "miniprogrampage"
	kindEvent = "event"
)

// Bits identifying the typed fields, for the duplicate check.
const (
	bitTo uint32 = 1 << iota
	bitFrom
	bitCreateTime
	bitMsgType
	bitMsgID
	bitBusinessID
	bitContent
	bitPicURL
	bitMediaID
	bitTitle
	bitAppID
	bitPagePath
	bitThumbURL
	bitThumbMediaID
	bitEvent
	bitSessionFrom
)

// typedField returns the bit of a typed field and the kind it belongs to
// ("" for the common fields), or 0 for a name that always goes to Extra.
func typedField(name string) (bit uint32, kind string) {
	switch name {
	case nameToUserName:
		return bitTo, ""
	case nameFromUserName:
		return bitFrom, ""
	case nameCreateTime:
		return bitCreateTime, ""
	case nameMsgType:
		return bitMsgType, ""
	case nameMsgID:
		return bitMsgID, ""
	case nameBusinessID:
		return bitBusinessID, ""
	case nameContent:
		return bitContent, kindText
	case namePicURL:
		return bitPicURL, kindImage
	case nameMediaID:
		return bitMediaID, kindImage
	case nameTitle:
		return bitTitle, kindPage
	case nameAppID:
		return bitAppID, kindPage
	case namePagePath:
		return bitPagePath, kindPage
	case nameThumbURL:
		return bitThumbURL, kindPage
	case nameThumbMediaID:
		return bitThumbMediaID, kindPage
	case nameEvent:
		return bitEvent, kindEvent
	case nameSessionFrom:
		return bitSessionFrom, kindEvent
	}
	return 0, ""
}

// value is the scalar value of a typed field.
type value struct {
	s      string
	number bool // s is a JSON number literal
	xml    bool // s is XML element text
}

// assign stores v in the typed field identified by bit.
func assign(m *Message, bit uint32, name string, v value) error {
	switch bit {
	case bitCreateTime:
		s := v.s
		if v.xml {
			s = trimXMLSpace(s)
		}
		t, ok := parseInt(s)
		if !ok {
			return fieldErr(name, ErrField, "not an integer")
		}
		m.CreateTime = t
		return nil
	case bitMsgID, bitBusinessID:
		s := v.s
		if v.xml {
			s = trimXMLSpace(s)
		} else if v.number && !isJSONInt(s) {
			return fieldErr(name, ErrField, "not an integer")
		}
		if bit == bitMsgID {
			m.MsgID = s
		} else {
			m.BusinessID = s
		}
		return nil
	}
	if v.number {
		return fieldErr(name, ErrField, "not a string")
	}
	switch bit {
	case bitTo:
		m.ToUserName = v.s
	case bitFrom:
		m.FromUserName = v.s
	case bitMsgType:
		m.MsgType = v.s
	case bitContent:
		m.Content = v.s
	case bitPicURL:
		m.PicURL = v.s
	case bitMediaID:
		m.MediaID = v.s
	case bitTitle:
		m.Title = v.s
	case bitAppID:
		m.AppID = v.s
	case bitPagePath:
		m.PagePath = v.s
	case bitThumbURL:
		m.ThumbURL = v.s
	case bitThumbMediaID:
		m.ThumbMediaID = v.s
	case bitEvent:
		m.Event = v.s
	case bitSessionFrom:
		m.SessionFrom = v.s
	}
	return nil
}

// parseInt parses -?[0-9]+ into an int64.
func parseInt(s string) (int64, bool) {
	d := s
	if d != "" && d[0] == '-' {
		d = d[1:]
	}
	if d == "" {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// checkRequired checks the fields every message must have.
func checkRequired(m *Message) error {
	if m.MsgType == "" {
		return &FieldError{Field: nameMsgType, Err: ErrMissingField}
	}
	if m.MsgType == kindEvent && m.Event == "" {
		return &FieldError{Field: nameEvent, Err: ErrMissingField}
	}
	return nil
}

// parseMessage parses a plaintext message. When owned is true, b belongs to
// the caller (Decode's decryption buffer) and Extra values may alias it.
func parseMessage(b []byte, owned bool) (Message, Format, error) {
	f, err := Sniff(b)
	if err != nil {
		return Message{}, 0, err
	}
	b = b[skipBOM(b):]
	if !utf8.Valid(b) {
		return Message{}, 0, syntaxErr("invalid UTF-8")
	}
	var m Message
	if f == FormatJSON {
		m, err = parseJSONMessage(b, string(b), owned)
	} else {
		m, err = parseXMLMessage(string(b))
	}
	if err != nil {
		return Message{}, 0, err
	}
	return m, f, nil
}

func dupErr(name string) error { return fieldErr(name, ErrField, "duplicate") }

func parseJSONMessage(b []byte, s string, owned bool) (Message, error) {
	var buf [24]jsonMember
	ms, err := scanJSONObject(s, buf[:0])
	if err != nil {
		return Message{}, err
	}
	jsonName := func(mb *jsonMember) string {
		if mb.nameEsc {
			return string(appendJSONUnescape(nil, s, mb.ns, mb.ne))
		}
		return s[mb.ns:mb.ne]
	}
	jsonValue := func(mb *jsonMember) (value, bool) {
		switch mb.kind {
		case '"':
			if mb.valEsc {
				return value{s: string(appendJSONUnescape(nil, s, mb.vs+1, mb.ve-1))}, true
			}
			return value{s: s[mb.vs+1 : mb.ve-1]}, true
		case '0':
			return value{s: s[mb.vs:mb.ve], number: true}, true
		}
		return value{}, false
	}
	var m Message
	// MsgType decides where the kind fields go, and may come last.
	found := false
	for i := range ms {
		if jsonName(&ms[i]) != nameMsgType {
			continue
		}
		if found {
			return Message{}, dupErr(nameMsgType)
		}
		found = true
		v, ok := jsonValue(&ms[i])
		if !ok || v.number {
			return Message{}, fieldErr(nameMsgType, ErrField, "not a string")
		}
		m.MsgType = v.s
	}
	var seen uint32
	nextra := 0
	for i := range ms {
		name := jsonName(&ms[i])
		bit, kind := typedField(name)
		if bit == 0 || kind != "" && kind != m.MsgType {
			ms[nextra], ms[i] = ms[i], ms[nextra] // keep extras first, in order
			nextra++
			continue
		}
		if seen&bit != 0 {
			return Message{}, dupErr(name)
		}
		seen |= bit
		if bit == bitMsgType {
			continue
		}
		v, ok := jsonValue(&ms[i])
		if !ok {
			return Message{}, fieldErr(name, ErrField, "not a string or number")
		}
		if err := assign(&m, bit, name, v); err != nil {
			return Message{}, err
		}
	}
	if err := checkRequired(&m); err != nil {
		return Message{}, err
	}
	if nextra == 0 {
		return m, nil
	}
	m.Extra = jsonExtra(b, s, ms[:nextra], owned, jsonName)
	return m, nil
}

// jsonExtra converts the extra members to Fields; a repeated name becomes
// one Field holding the array of its values, in order, as in [xmlExtra].
// Values alias b when owned and the name is not repeated.
func jsonExtra(b []byte, s string, ms []jsonMember, owned bool, jsonName func(*jsonMember) string) []Field {
	names := make([]string, len(ms))
	size := 0
	for i := range ms {
		names[i] = jsonName(&ms[i])
		size += ms[i].ve - ms[i].vs + 1
	}
	heads, next := groupNames(names)
	if owned && len(heads) == len(ms) {
		size = 0 // nothing to copy
	}
	arena := make([]byte, 0, size+2*len(heads))
	fields := make([]Field, len(heads))
	for g, i := range heads {
		fields[g].Name = names[i]
		mb := &ms[i]
		if next[i] < 0 && owned {
			fields[g].Value = b[mb.vs:mb.ve:mb.ve]
			continue
		}
		a := len(arena)
		if next[i] < 0 {
			arena = append(arena, s[mb.vs:mb.ve]...)
		} else {
			arena = append(arena, '[')
			for j := i; j >= 0; j = next[j] {
				if j != i {
					arena = append(arena, ',')
				}
				arena = append(arena, s[ms[j].vs:ms[j].ve]...)
			}
			arena = append(arena, ']')
		}
		fields[g].Value = arena[a:len(arena):len(arena)]
	}
	return fields
}

func parseXMLMessage(s string) (Message, error) {
	var buf [24]xmlElem
	els, err := scanXML(s, buf[:0])
	if err != nil {
		return Message{}, err
	}
	var m Message
	found := false
	for i := range els {
		if s[els[i].ns:els[i].ne] != nameMsgType {
			continue
		}
		if found {
			return Message{}, dupErr(nameMsgType)
		}
		found = true
		if els[i].kids {
			return Message{}, fieldErr(nameMsgType, ErrField, "has child elements")
		}
		m.MsgType = xmlLeafString(s, &els[i])
	}
	var seen uint32
	nextra := 0
	for i := range els {
		e := &els[i]
		name := s[e.ns:e.ne]
		bit, kind := typedField(name)
		if bit == 0 || kind != "" && kind != m.MsgType {
			els[nextra], els[i] = els[i], els[nextra]
			nextra++
			continue
		}
		if seen&bit != 0 {
			return Message{}, dupErr(name)
		}
		seen |= bit
		if bit == bitMsgType {
			continue
		}
		if e.kids {
			return Message{}, fieldErr(name, ErrField, "has child elements")
		}
		if err := assign(&m, bit, name, value{s: xmlLeafString(s, e), xml: true}); err != nil {
			return Message{}, err
		}
	}
	if err := checkRequired(&m); err != nil {
		return Message{}, err
	}
	if nextra > 0 {
		m.Extra = xmlExtra(s, els[:nextra])
	}
	return m, nil
}

// xmlLeafString returns the text of an element without children.
func xmlLeafString(s string, e *xmlElem) string {
	if e.simple {
		return s[e.ts:e.te]
	}
	return string(appendLeafText(nil, s, e.cs, e.ce))
}

// xmlExtra converts the extra top-level elements to Fields; repeated names
// become one Field holding an array.
func xmlExtra(s string, els []xmlElem) []Field {
	names := make([]string, len(els))
	for i := range els {
		names[i] = s[els[i].ns:els[i].ne]
	}
	heads, next := groupNames(names)
	type span struct{ a, b int }
	spans := make([]span, len(heads))
	// Decoded text is never longer than the markup it comes from; JSON may
	// escape some of it.
	size := 0
	for i := range els {
		n := els[i].ce - els[i].start
		size += n + n/8 + 8
	}
	arena := make([]byte, 0, size)
	var text []byte // decoded text of an element, reused
	for g, i := range heads {
		a := len(arena)
		if next[i] >= 0 {
			arena = append(arena, '[')
		}
		for j := i; j >= 0; j = next[j] {
			if j != i {
				arena = append(arena, ',')
			}
			e := &els[j]
			switch {
			case e.kids || e.attrs:
				arena = appendXMLElemJSON(arena, s, e.start)
			case e.simple:
				arena = jsonenc.AppendString(arena, s[e.ts:e.te])
			default:
				text = appendLeafText(text[:0], s, e.cs, e.ce)
				arena = jsonenc.AppendString(arena, text)
			}
		}
		if next[i] >= 0 {
			arena = append(arena, ']')
		}
		spans[g] = span{a, len(arena)}
	}
	fields := make([]Field, len(heads))
	for g, i := range heads {
		fields[g] = Field{Name: names[i], Value: arena[spans[g].a:spans[g].b:spans[g].b]}
	}
	return fields
}
