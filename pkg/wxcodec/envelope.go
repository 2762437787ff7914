package wxcodec

import "unicode/utf8"

// Envelope is the outer document of an encrypted push.
type Envelope struct {
	// Format is the format of the body.
	Format Format
	// ToUserName is the mini program original id ("" when absent).
	ToUserName string
	// Encrypt is the base64 ciphertext as received, after JSON or XML
	// unescaping; it is what msg_signature covers ("" when absent).
	Encrypt string
	// Plain is true when the body also carries plaintext fields besides
	// ToUserName and Encrypt (compatible mode). WeCom's AgentID does not count.
	Plain bool
}

// ParseEnvelope parses the outer document of a push, XML or JSON. It
// validates the whole document but reads only ToUserName and Encrypt;
// Encrypt is "" when absent. Errors wrap [ErrFormat], [ErrSyntax] or are a
// [*FieldError] (for example a duplicate Encrypt).
func ParseEnvelope(body []byte) (Envelope, error) {
	e, err := scanEnvelope(body)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{
		Format:     e.format,
		ToUserName: string(e.to),
		Encrypt:    string(e.encrypt),
		Plain:      e.plain,
	}, nil
}

// envelope is the result of scanEnvelope. to and encrypt alias body unless
// their text needed decoding.
type envelope struct {
	format     Format
	plain      bool
	hasEncrypt bool
	hasTo      bool
	to         []byte
	encrypt    []byte
}

// claim says where the envelope field name goes: its canonical name, the
// slice that receives its text and the flag that marks it seen. ok is false
// for fields the envelope does not keep: WeCom's AgentID, and anything else,
// which marks a compatible-mode body carrying plaintext fields.
func (env *envelope) claim(name []byte) (field string, dst *[]byte, seen *bool, ok bool) {
	switch string(name) {
	case nameToUserName:
		return nameToUserName, &env.to, &env.hasTo, true
	case nameEncrypt:
		return nameEncrypt, &env.encrypt, &env.hasEncrypt, true
	case "AgentID":
		return "", nil, nil, false
	}
	env.plain = true
	return "", nil, nil, false
}

// scanEnvelope parses the outer document of a push.
func scanEnvelope(body []byte) (envelope, error) {
	f, err := Sniff(body)
	if err != nil {
		return envelope{}, err
	}
	body = body[skipBOM(body):]
	if !utf8.Valid(body) {
		return envelope{}, syntaxErr("invalid UTF-8")
	}
	env := envelope{format: f}
	if f == FormatJSON {
		var buf [16]jsonMember
		ms, err := scanJSONObject(body, buf[:0])
		if err != nil {
			return envelope{}, err
		}
		for i := range ms {
			mb := &ms[i]
			name := body[mb.ns:mb.ne]
			if mb.nameEsc {
				name = appendJSONUnescape(nil, body, mb.ns, mb.ne)
			}
			field, dst, seen, ok := env.claim(name)
			if !ok {
				continue
			}
			if mb.kind != '"' {
				return envelope{}, fieldErr(field, ErrField, "not a string")
			}
			if *seen {
				return envelope{}, dupErr(field)
			}
			*seen = true
			*dst = body[mb.vs+1 : mb.ve-1]
			if mb.valEsc {
				*dst = appendJSONUnescape(nil, body, mb.vs+1, mb.ve-1)
			}
		}
		return env, nil
	}
	var buf [16]xmlElem
	els, err := scanXML(body, buf[:0])
	if err != nil {
		return envelope{}, err
	}
	for i := range els {
		e := &els[i]
		name := body[e.ns:e.ne]
		field, dst, seen, ok := env.claim(name)
		if !ok {
			continue
		}
		if e.kids {
			return envelope{}, fieldErr(field, ErrField, "has child elements")
		}
		if *seen {
			return envelope{}, dupErr(field)
		}
		*seen = true
		*dst = body[e.ts:e.te]
		if !e.simple {
			*dst = appendLeafText(nil, body, e.cs, e.ce)
		}
	}
	return env, nil
}
