package wxcodec

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
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

// stdlibFlat parses doc with encoding/xml and, when it is a flat document
// (one root whose children only hold text) that both parsers should read
// the same way, returns the children's names and texts.
func stdlibFlat(doc []byte) (names, texts []string, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, roots := 0, 0
	var text []byte
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, false
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Space != "" || strings.Contains(tok.Name.Local, ":") {
				return nil, nil, false
			}
			seen := map[string]bool{}
			for _, a := range tok.Attr {
				n := a.Name.Space + ":" + a.Name.Local
				if a.Name.Space != "" || a.Name.Local == "xmlns" || seen[n] {
					return nil, nil, false
				}
				seen[n] = true
			}
			depth++
			switch depth {
			case 1:
				roots++
			case 2:
				names = append(names, tok.Name.Local)
				text = text[:0]
			default:
				return nil, nil, false
			}
		case xml.EndElement:
			if depth == 2 {
				texts = append(texts, string(text))
			}
			depth--
		case xml.CharData:
			if depth == 2 {
				text = append(text, tok...)
			} else if len(bytes.Trim(tok, " \t\r\n")) > 0 {
				return nil, nil, false
			}
		case xml.Directive:
			return nil, nil, false
		}
	}
	return names, texts, roots == 1
}

func FuzzXMLAgainstStdlib(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	f.Add([]byte("<a>\r\n<b>x\r\ny<![CDATA[\r\n]]>&#13;&#x10000;</b></a>"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		names, texts, ok := stdlibFlat(doc)
		if !ok || bytes.Contains(doc, []byte("&#")) && bytes.ContainsRune([]byte(strings.Join(texts, "")), utf8.RuneError) {
			return // not flat, or a surrogate reference that encoding/xml turns into U+FFFD
		}
		els, err := scanXML(doc, nil)
		if err != nil {
			t.Fatalf("scanXML(%q) = %v, encoding/xml accepts it", doc, err)
		}
		if len(els) != len(names) {
			t.Fatalf("scanXML(%q) found %d elements, encoding/xml %d", doc, len(els), len(names))
		}
		s := string(doc)
		for i := range els {
			if got := s[els[i].ns:els[i].ne]; got != names[i] {
				t.Errorf("scanXML(%q) element %d = %q, encoding/xml %q", doc, i, got, names[i])
			}
			if got := xmlLeafString(s, &els[i]); got != texts[i] {
				t.Errorf("scanXML(%q) text of %s = %q, encoding/xml %q", doc, names[i], got, texts[i])
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

// FuzzJSONAgainstStdlib checks the JSON scanner against encoding/json: the
// same documents are valid, except that the scanner rejects those nested
// deeper than maxJSONDepth, and member names and string values decode to
// the same text.
func FuzzJSONAgainstStdlib(f *testing.F) {
	for _, b := range fuzzBodies(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"a":[1,-0.5e+3,{"b":"\u00e9\ud83d\ude00\ud800"}],"c":true,"d":null,"e":false}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if i := skipJSONSpace(doc, 0); i >= len(doc) || doc[i] != '{' {
			return
		}
		ms, err := scanJSONObject(doc, nil)
		valid := json.Valid(doc)
		if valid && jsonDepth(doc) > maxJSONDepth {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("scanJSONObject(%q) = %v, want %v (nested deeper than %d)", doc, err, ErrSyntax, maxJSONDepth)
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
