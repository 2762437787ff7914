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

// scanEnvelope parses the outer document of a push. It is one validating
// pass of the XML or JSON scanner, linear in len(body), that keeps nothing
// but ToUserName and Encrypt: no member or element list, no tree, and no
// allocation unless one of those two needs unescaping (or a nested JSON
// object has more than [MaxAttributes] members). Decode checks msg_signature right after it,
// so this is all the work an unauthenticated encrypted request can cause.
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
		err = walkJSONObject(body, func(mb jsonMember) error {
			name := body[mb.ns:mb.ne]
			if mb.nameEsc {
				name = appendJSONUnescape(nil, body, mb.ns, mb.ne)
			}
			field, dst, seen, ok := env.claim(name)
			if !ok {
				return nil
			}
			if mb.kind != '"' {
				return fieldErr(field, ErrField, "not a string")
			}
			if *seen {
				return dupErr(field)
			}
			*seen = true
			*dst = body[mb.vs+1 : mb.ve-1]
			if mb.valEsc {
				*dst = appendJSONUnescape(nil, body, mb.vs+1, mb.ve-1)
			}
			return nil
		})
	} else {
		err = walkXML(body, func(e xmlElem) error {
			field, dst, seen, ok := env.claim(body[e.ns:e.ne])
			if !ok {
				return nil
			}
			if e.kids {
				return fieldErr(field, ErrField, "has child elements")
			}
			if *seen {
				return dupErr(field)
			}
			*seen = true
			*dst = body[e.ts:e.te]
			if !e.simple {
				*dst = appendLeafText(nil, body, e.cs, e.ce)
			}
			return nil
		})
	}
	if err != nil {
		return envelope{}, err
	}
	return env, nil
}
