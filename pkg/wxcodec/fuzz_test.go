package wxcodec

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/kfbridge/kfbridge/internal/jsonenc"
)

// fuzzBodies returns the seed documents shared by the fuzz targets: the
// message table, the golden inputs and the vector plaintexts.
func fuzzBodies(tb testing.TB) [][]byte {
	tb.Helper()
	var bodies [][]byte
	for _, tt := range messageTests {
		bodies = append(bodies, []byte(tt.body))
	}
	for _, in := range goldenInputs(tb) {
		b, err := os.ReadFile(in)
		if err != nil {
			tb.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	for _, v := range loadVectors(tb).Vectors {
		bodies = append(bodies, []byte(v.Plaintext), envelopeBody(FormatXML, "gh_x", v.Encrypt), envelopeBody(FormatJSON, "gh_x", v.Encrypt))
	}
	return bodies
}

// checkMessage checks the invariants of a successfully parsed message.
func checkMessage(t *testing.T, body []byte, m Message) {
	t.Helper()
	if m.MsgType == "" || m.MsgType == "event" && m.Event == "" {
		t.Errorf("ParseMessage(%q) accepted a message without MsgType/Event: %+v", body, m)
	}
	for _, s := range stringFields(&m) {
		if !utf8.ValidString(s.val) {
			t.Errorf("ParseMessage(%q): %s = %q is not valid UTF-8", body, s.name, s.val)
		}
	}
	for _, x := range m.Extra {
		if !json.Valid(x.Value) || !utf8.ValidString(x.Name) {
			t.Errorf("ParseMessage(%q): Extra %q = %q is not valid JSON", body, x.Name, x.Value)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMessage(body)
		owned, _, err2 := parseMessage(bytes.Clone(body), true)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("ParseMessage(%q) = %v but owned parse = %v", body, err, err2)
		}
		if err != nil {
			for _, sentinel := range []error{ErrFormat, ErrSyntax, ErrMissingField, ErrField} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("ParseMessage(%q) = %v, want one of the parse sentinels", body, err)
		}
		checkMessage(t, body, m)
		if diff := cmp.Diff(m, owned); diff != "" {
			t.Errorf("ParseMessage(%q) differs from the owned parse:\n%s", body, diff)
		}
	})
}

func FuzzRoundtrip(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	// Within the limits in XML, over them in JSON (an array of objects).
	f.Add([]byte(`<xml><MsgType>text</MsgType>` + strings.Repeat(`<a x="1">t</a>`, 126) + `</xml>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMessage(body)
		if err != nil {
			return
		}
		format, _ := Sniff(body)
		// Same format: exact round trip.
		enc, err := EncodeMessage(format, m)
		if err != nil {
			t.Fatalf("EncodeMessage(%v, ParseMessage(%q)) = %v", format, body, err)
		}
		back, err := ParseMessage(enc)
		if err != nil {
			if jsonOverLimits(format, enc, err) {
				return
			}
			t.Fatalf("ParseMessage(%q) (encoded from %q) = %v", enc, body, err)
		}
		if diff := cmp.Diff(m, back); diff != "" {
			t.Fatalf("round trip of %q via %q (-want +got):\n%s", body, enc, diff)
		}
		// XML to JSON loses nothing either.
		if format == FormatXML {
			enc, err := EncodeMessage(FormatJSON, m)
			if err != nil {
				t.Fatalf("EncodeMessage(json, ParseMessage(%q)) = %v", body, err)
			}
			back, err := ParseMessage(enc)
			if err != nil {
				if jsonOverLimits(FormatJSON, enc, err) {
					return
				}
				t.Fatalf("ParseMessage(%q) (encoded from %q) = %v", enc, body, err)
			}
			if diff := cmp.Diff(m, back); diff != "" {
				t.Fatalf("xml→json round trip of %q via %q (-want +got):\n%s", body, enc, diff)
			}
			return
		}
		// JSON to XML may be impossible (values XML cannot hold), but when it
		// works the typed fields survive.
		enc, err = EncodeMessage(FormatXML, m)
		if err != nil {
			return
		}
		back, err = ParseMessage(enc)
		if err != nil {
			t.Fatalf("ParseMessage(%q) (encoded from %q) = %v", enc, body, err)
		}
		m.Extra, back.Extra = nil, nil
		m.MsgID, m.BusinessID = trimXMLSpace(m.MsgID), trimXMLSpace(m.BusinessID)
		if diff := cmp.Diff(m, back); diff != "" {
			t.Fatalf("json→xml round trip of %q via %q (-want +got):\n%s", body, enc, diff)
		}
	})
}

// jsonOverLimits reports whether err, from parsing enc (encoded in format
// f from a message that was parsed), is ErrLimit for a JSON document that
// is indeed over the structure limits. Encoding can add JSON nodes and
// levels: a repeated name becomes an array, an XML element's attributes
// and text become members. XML encoded from XML or JSON adds none.
func jsonOverLimits(f Format, enc []byte, err error) bool {
	return f == FormatJSON && errors.Is(err, ErrLimit) &&
		(jsonDepth(enc) > maxJSONDepth || jsonNodes(enc) > MaxNodes)
}

func FuzzParseEnvelope(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ParseEnvelope(body)
		if err != nil {
			return
		}
		if env.Format != FormatXML && env.Format != FormatJSON {
			t.Fatalf("ParseEnvelope(%q).Format = %v", body, env.Format)
		}
		if !utf8.ValidString(env.Encrypt) || !utf8.ValidString(env.ToUserName) {
			t.Fatalf("ParseEnvelope(%q) = %+v: invalid UTF-8", body, env)
		}
		// A message that parses has the same ToUserName in its envelope.
		if m, err := ParseMessage(body); err == nil && m.ToUserName != env.ToUserName {
			t.Fatalf("ParseEnvelope(%q).ToUserName = %q, ParseMessage says %q", body, env.ToUserName, m.ToUserName)
		}
	})
}

func FuzzDecrypt(f *testing.F) {
	for _, v := range loadVectors(f).Vectors {
		f.Add(v.Encrypt, []byte(v.Plaintext), v.AppID)
	}
	f.Add("", []byte{}, "")
	f.Add("AAAA", []byte("x"), "wx")
	f.Add("!!!!", []byte(nil), "")
	k := mustKey(f, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, encrypt string, msg []byte, rid string) {
		if _, _, err := k.Decrypt(encrypt); err != nil {
			ok := false
			for _, sentinel := range []error{ErrBase64, ErrCiphertext, ErrPadding, ErrLength} {
				ok = ok || errors.Is(err, sentinel)
			}
			if !ok {
				t.Fatalf("Decrypt(%q) = %v, want a decryption sentinel", encrypt, err)
			}
		}
		enc, err := k.Encrypt(strings.NewReader("0123456789abcdef"), msg, rid)
		if err != nil {
			t.Fatalf("Encrypt = %v", err)
		}
		got, gotRID, err := k.Decrypt(enc)
		if err != nil || !bytes.Equal(got, msg) || gotRID != rid {
			t.Fatalf("Decrypt(Encrypt(%q, %q)) = %q, %q, %v", msg, rid, got, gotRID, err)
		}
	})
}

// FuzzDecode feeds Codec.Decode arbitrary query fields and bodies. The low
// bits of sign make the fuzzer's inputs authentic so that it can reach the
// parsers: 1 signs the 3-part signature, 2 signs msg_signature over the
// body's Encrypt, 4 replaces the body by a safe-mode envelope of it.
func FuzzDecode(f *testing.F) {
	v1 := vectorByID(f, "V1")
	for _, b := range fuzzBodies(f) {
		f.Add(v1.Timestamp, v1.Nonce, "aes", "", b, uint8(7))
		f.Add(v1.Timestamp, v1.Nonce, "", "", b, uint8(1))
	}
	f.Add(v1.Timestamp, v1.Nonce, "aes", v1.MsgSignature, envelopeBody(FormatJSON, "gh", v1.Encrypt), uint8(0))
	f.Add("", "", "", "", []byte(nil), uint8(0))
	c := mustCodec(f, v1.AppID, v1.Token, v1.EncodingAESKey)
	f.Fuzz(func(t *testing.T, ts, nonce, encType, msgSig string, body []byte, sign uint8) {
		q := Query{Timestamp: ts, Nonce: nonce, EncryptType: encType, MsgSignature: msgSig}
		if sign&1 != 0 {
			q.Signature = Signature(v1.Token, ts, nonce)
		}
		if sign&4 != 0 {
			enc, err := c.key.Encrypt(strings.NewReader(v1.Random), body, v1.AppID)
			if err != nil {
				t.Fatal(err)
			}
			body = envelopeBody(FormatXML+Format(sign>>3&1), "gh", enc)
		}
		if sign&2 != 0 {
			if env, err := ParseEnvelope(body); err == nil {
				q.MsgSignature = MsgSignature(v1.Token, ts, nonce, env.Encrypt)
			}
		}
		p, err := c.Decode(q, body)
		if err != nil {
			if strings.Contains(err.Error(), v1.Token) || strings.Contains(err.Error(), v1.EncodingAESKey) {
				t.Fatalf("Decode error %q leaks a secret", err)
			}
			return
		}
		checkMessage(t, body, p.Message)
		encrypted := q.EncryptType == "aes" || q.MsgSignature != ""
		if encrypted == (p.Mode == ModePlaintext) {
			t.Fatalf("Decode(%+v, %q).Mode = %v", q, body, p.Mode)
		}
	})
}

// stdNode is an element as encoding/xml reads it.
type stdNode struct {
	name  string
	attrs [][2]string
	text  []byte
	kids  []*stdNode
}

// json converts n as the scanner does for Extra (see [Field]).
func (n *stdNode) json(dst []byte) []byte {
	if len(n.attrs) == 0 && len(n.kids) == 0 {
		return jsonenc.AppendString(dst, string(n.text))
	}
	var members [][2][]byte // name, value
	for _, a := range n.attrs {
		members = append(members, [2][]byte{[]byte("@" + a[0]), jsonenc.AppendString(nil, a[1])})
	}
	text := string(n.text)
	if len(n.kids) > 0 {
		text = strings.Trim(text, " \t\r\n")
	}
	if text != "" {
		members = append(members, [2][]byte{[]byte("#text"), jsonenc.AppendString(nil, text)})
	}
	var order []string
	groups := map[string][]*stdNode{}
	for _, k := range n.kids {
		if groups[k.name] == nil {
			order = append(order, k.name)
		}
		groups[k.name] = append(groups[k.name], k)
	}
	for _, name := range order {
		g := groups[name]
		var v []byte
		if len(g) > 1 {
			v = append(v, '[')
		}
		for i, k := range g {
			if i > 0 {
				v = append(v, ',')
			}
			v = k.json(v)
		}
		if len(g) > 1 {
			v = append(v, ']')
		}
		members = append(members, [2][]byte{[]byte(name), v})
	}
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonenc.AppendString(dst, string(m[0]))
		dst = append(dst, ':')
		dst = append(dst, m[1]...)
	}
	return append(dst, '}')
}

// surrogateRef matches a character reference to a UTF-16 surrogate, which
// encoding/xml turns into U+FFFD and XML forbids.
var surrogateRef = regexp.MustCompile(`&#(0*5[5-7][0-9]{3}|x0*[dD][89a-fA-F][0-9a-fA-F]{2});`)

// stdlibXML reads doc with encoding/xml. ok reports whether encoding/xml
// accepts it and it also keeps the rules of XML 1.0 that encoding/xml does
// not check, and the subset the scanner supports (all documented in
// xmlScanner's doc): valid UTF-8, exactly one root element, nothing but
// white space, comments and processing instructions outside it, only white
// space (as written, or in CDATA) as text directly in the root, no directive (DOCTYPE), no character
// reference to a surrogate, ASCII names, unique attribute names, and the
// structure limits: at most maxXMLDepth levels, MaxAttributes attributes
// per element and MaxNodes elements below the root and attributes in all.
// When ok, kids are the root's children.
func stdlibXML(doc []byte) (kids []*stdNode, ok bool) {
	doc = doc[skipBOM(doc):]
	if !utf8.Valid(doc) || surrogateRef.Match(doc) {
		return nil, false
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
	}
	ascii := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	// Names as written: RawToken does not resolve namespace prefixes. It
	// reads what Token accepted, so it cannot fail.
	d = xml.NewDecoder(bytes.NewReader(doc))
	var stack []*stdNode
	roots, nodes := 0, 0
	for {
		prev := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &stdNode{name: tok.Name.Local}
			if tok.Name.Space != "" {
				n.name = tok.Name.Space + ":" + tok.Name.Local
			}
			if !ascii(n.name) {
				return nil, false
			}
			if len(stack) > 0 {
				nodes++
			}
			nodes += len(tok.Attr)
			if nodes > MaxNodes || len(tok.Attr) > MaxAttributes {
				return nil, false
			}
			seen := map[string]bool{}
			for _, a := range tok.Attr {
				name := a.Name.Local
				if a.Name.Space != "" {
					name = a.Name.Space + ":" + a.Name.Local
				}
				if seen[name] || !ascii(name) {
					return nil, false
				}
				seen[name] = true
				n.attrs = append(n.attrs, [2]string{name, a.Value})
			}
			switch len(stack) {
			case 0:
				roots++
			case 1:
				kids = append(kids, n)
			default:
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
			if len(stack) > maxXMLDepth {
				return nil, false
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			switch len(stack) {
			case 0:
				raw := doc[prev:d.InputOffset()]
				if len(bytes.Trim(raw, " \t\r\n")) > 0 {
					return nil, false // text or CDATA outside the root
				}
			case 1:
				// White space as written (a reference is text), or a CDATA
				// section of white space.
				raw := doc[prev:d.InputOffset()]
				if inner, ok := bytes.CutPrefix(raw, []byte("<![CDATA[")); ok {
					raw = bytes.TrimSuffix(inner, []byte("]]>"))
				}
				if len(bytes.Trim(raw, " \t\r\n")) > 0 {
					return nil, false
				}
			default:
				p := stack[len(stack)-1]
				p.text = append(p.text, tok...)
			}
		case xml.ProcInst:
			if !ascii(tok.Target) {
				return nil, false
			}
		case xml.Directive:
			return nil, false
		}
	}
	return kids, roots == 1
}

// FuzzXMLAgainstStdlib checks the XML scanner against encoding/xml in both
// directions: the scanner accepts a document exactly when encoding/xml does
// and the document keeps the rules stdlibXML lists, and then both read the
// same tree: every child of the root converts to the same JSON (Extra's
// conversion: names, attributes, decoded text, repeated names as arrays).
func FuzzXMLAgainstStdlib(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	for _, s := range []string{
		"<a>\r\n<b>x\r\ny<![CDATA[\r\n]]>&#13;&#x10000;</b></a>",
		`<?xml version="1.0" encoding="UTF-8"?><a><b x='1' y="&lt;">t<c/>u<c>v</c></b></a>`,
		"<a><b>&#xD800;</b></a>",
		"<a:b/>",
		"<a>" + strings.Repeat("<b/>", MaxNodes) + "</a>",
		"<a>" + strings.Repeat("<b/>", MaxNodes+1) + "</a>",
		`<a><b c0="" c1="" c2="" c3="" c4="" c5="" c6="" c7="" c8="" c9="" ca="" cb="" cc="" cd="" ce="" cf="" cg=""/></a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		want, stdOK := stdlibXML(doc)
		// UTF-8 is checked before the scanner runs, as its callers do.
		if !utf8.Valid(doc[skipBOM(doc):]) {
			if stdOK {
				t.Fatalf("stdlibXML(%q) accepts invalid UTF-8", doc)
			}
			return
		}
		var got [][]byte
		err := walkXML(doc, func(el xmlElem) error {
			s := string(doc)
			if !el.kids && !el.attrs {
				got = append(got, jsonenc.AppendString(nil, xmlLeafString(s, &el)))
			} else {
				got = append(got, appendXMLElemJSON(nil, s, el.start))
			}
			return nil
		})
		if stdOK != (err == nil) {
			t.Fatalf("walkXML(%q) = %v, but encoding/xml and the rules say ok = %v", doc, err, stdOK)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("walkXML(%q) found %d elements, encoding/xml %d", doc, len(got), len(want))
		}
		for i := range got {
			if w := want[i].json(nil); !bytes.Equal(got[i], w) {
				t.Errorf("walkXML(%q) element %d = %s, encoding/xml %s", doc, i, got[i], w)
			}
		}
	})
}

// jsonDepth returns the nesting depth of the valid JSON document doc, as
// encoding/json's tokens show it.
func jsonDepth(doc []byte) int {
	d := json.NewDecoder(bytes.NewReader(doc))
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// jsonNestedRepeat reports whether an object nested in the valid JSON
// document doc repeats a name.
func jsonNestedRepeat(doc []byte) bool {
	d := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		object, key bool // key: the next string is a name
		names       map[string]bool
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if delim, ok := tok.(json.Delim); ok && (delim == '}' || delim == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if name, ok := tok.(string); ok && top != nil && top.object && top.key {
			if top.names[name] && len(stack) > 1 {
				return true
			}
			top.names[name] = true
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true
		}
		if delim, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{object: delim == '{', key: delim == '{', names: map[string]bool{}})
		}
	}
}

// jsonNodes returns the number of object members and array elements below
// the top-level value of the valid JSON document doc, as encoding/json's
// tokens show it.
func jsonNodes(doc []byte) int {
	d := json.NewDecoder(bytes.NewReader(doc))
	type frame struct{ object, key bool } // key: the next token is a name
	var stack []*frame
	nodes := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return nodes
		}
		if delim, ok := tok.(json.Delim); ok && (delim == '}' || delim == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if n := len(stack); n > 0 {
			switch top := stack[n-1]; {
			case top.object && top.key:
				nodes++ // a member, counted at its name
				top.key = false
				continue
			case top.object:
				top.key = true // after this value
			default:
				nodes++ // an array element
			}
		}
		if delim, ok := tok.(json.Delim); ok {
			stack = append(stack, &frame{object: delim == '{', key: delim == '{'})
		}
	}
}

// FuzzJSONAgainstStdlib checks the JSON scanner against encoding/json: the
// same documents are valid, except that the scanner rejects with ErrLimit
// those over the structure limits (nested deeper than maxJSONDepth, more
// than MaxNodes members and array elements) and with ErrSyntax those
// repeating a name in a nested object, and member names and string values
// decode to the same text.
func FuzzJSONAgainstStdlib(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"a":[1,-0.5e+3,{"b":"\u00e9\ud83d\ude00\ud800"}],"c":true,"d":null,"e":false}`))
	f.Add([]byte(`{"a":[` + strings.Repeat(`{"b":0},`, MaxNodes/2-1) + `0]}`))
	f.Add([]byte(`{"a":[` + strings.Repeat(`{"b":0},`, MaxNodes/2) + `0]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if i := skipJSONSpace(doc, 0); i >= len(doc) || doc[i] != '{' {
			return
		}
		ms, err := scanJSONObject(doc, nil)
		valid := json.Valid(doc)
		if valid && (jsonDepth(doc) > maxJSONDepth || jsonNodes(doc) > MaxNodes) {
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("scanJSONObject(%q) = %v, want %v (nested deeper than %d, or more than %d nodes)", doc, err, ErrLimit, maxJSONDepth, MaxNodes)
			}
			return
		}
		if valid && jsonNestedRepeat(doc) {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("scanJSONObject(%q) = %v, want %v (a repeated name in a nested object)", doc, err, ErrSyntax)
			}
			return
		}
		if valid != (err == nil) {
			t.Fatalf("scanJSONObject(%q) = %v, json.Valid = %v", doc, err, valid)
		}
		if err != nil || !utf8.Valid(doc) {
			return
		}
		d := json.NewDecoder(bytes.NewReader(doc))
		d.UseNumber()
		if _, err := d.Token(); err != nil { // '{'
			t.Fatal(err)
		}
		for i := 0; d.More(); i++ {
			key, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			var val json.RawMessage
			if err := d.Decode(&val); err != nil {
				t.Fatal(err)
			}
			if i >= len(ms) {
				t.Fatalf("scanJSONObject(%q) found %d members, encoding/json more", doc, len(ms))
			}
			m := ms[i]
			if got := string(appendJSONUnescape(nil, doc, m.ns, m.ne)); got != key {
				t.Errorf("scanJSONObject(%q) member %d name = %q, encoding/json %q", doc, i, got, key)
			}
			if got := doc[m.vs:m.ve]; !bytes.Equal(got, val) {
				t.Errorf("scanJSONObject(%q) member %d value = %q, encoding/json %q", doc, i, got, val)
			}
			if m.kind == '"' {
				var want string
				if err := json.Unmarshal(val, &want); err != nil {
					t.Fatal(err)
				}
				if got := string(appendJSONUnescape(nil, doc, m.vs+1, m.ve-1)); got != want {
					t.Errorf("scanJSONObject(%q) member %d string = %q, encoding/json %q", doc, i, got, want)
				}
			}
		}
	})
}

// FuzzParseRawQuery checks ParseRawQuery against ParseQuery of what
// net/url parses.
func FuzzParseRawQuery(f *testing.F) {
	for _, s := range []string{
		"signature=s&timestamp=1&nonce=2&echostr=e&openid=o&encrypt_type=aes&msg_signature=m",
		"nonce=a%2Bb+c&nonce=second",
		"nonce=%zz&nonce=ok;&timestamp=1;2",
		"%6Eonce=n&&=&timestamp",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw)
		if got, want := ParseRawQuery(raw), ParseQuery(v); got != want {
			t.Fatalf("ParseRawQuery(%q) = %+v, net/url gives %+v", raw, got, want)
		}
	})
}
