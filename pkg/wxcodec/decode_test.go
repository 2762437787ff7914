package wxcodec

import (
	"crypto/aes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const v1OpenID = "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"

// pushQuery returns the query WeChat sends with an encrypted push of v.
func pushQuery(v vector) Query {
	return ParseQuery(url.Values{
		"signature":     {v.Signature},
		"timestamp":     {v.Timestamp},
		"nonce":         {v.Nonce},
		"openid":        {v1OpenID},
		"encrypt_type":  {"aes"},
		"msg_signature": {v.MsgSignature},
	})
}

func envelopeBody(f Format, to, enc string) []byte {
	return appendEnvelope(nil, f, to, enc)
}

func TestDecodeVectors(t *testing.T) {
	v1 := vectorByID(t, "V1")
	v2 := vectorByID(t, "V2")
	tests := []struct {
		name string
		v    vector
		body []byte
		want Push
	}{
		{
			name: "V1 safe json",
			v:    v1,
			body: []byte(`{"ToUserName": "gh_97417a04a28d", "Encrypt": "` + v1.Encrypt + `"}`),
			want: Push{Format: FormatJSON, Mode: ModeSafe, Message: Message{
				ToUserName: "gh_97417a04a28d", FromUserName: v1OpenID, CreateTime: 1714112445,
				MsgType: "event", Event: "debug_demo",
				Extra: []Field{{Name: "debug_str", Value: json.RawMessage(`"hello world"`)}},
			}},
		},
		{
			name: "V2 safe xml",
			v:    v2,
			body: []byte("<xml>\n    <ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>\n    <Encrypt><![CDATA[" + v2.Encrypt + "]]></Encrypt>\n</xml>"),
			want: Push{Format: FormatXML, Mode: ModeSafe, Message: Message{
				ToUserName: "gh_97417a04a28d", FromUserName: v1OpenID, CreateTime: 1715943329,
				MsgType: "event", Event: "debug_demo",
				Extra: []Field{{Name: "debug_str", Value: json.RawMessage(`"hello world"`)}},
			}},
		},
		{
			name: "V1 compatible json",
			v:    v1,
			body: []byte(v1.Plaintext[:len(v1.Plaintext)-1] + `,"Encrypt":"` + v1.Encrypt + `"}`),
			want: Push{Format: FormatJSON, Mode: ModeCompatible, Message: Message{
				ToUserName: "gh_97417a04a28d", FromUserName: v1OpenID, CreateTime: 1714112445,
				MsgType: "event", Event: "debug_demo",
				Extra: []Field{{Name: "debug_str", Value: json.RawMessage(`"hello world"`)}},
			}},
		},
	}
	for _, v := range loadVectors(t).Vectors {
		if v.Timestamp == "" || v.MsgSignature == "" || v.ID == "V1" || v.ID == "V2" {
			continue
		}
		m, err := ParseMessage([]byte(v.Plaintext))
		if err != nil {
			t.Fatalf("ParseMessage(%s plaintext) = %v", v.ID, err)
		}
		body := envelopeBody(FormatXML, "gh_x", v.Encrypt)
		mode := ModeSafe
		if v.ID == "V3" { // the official sample's compatible-mode body
			body = []byte("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n<Encrypt><![CDATA[" + v.Encrypt + "]]></Encrypt>\n</xml>")
			mode = ModeCompatible
		}
		tests = append(tests, struct {
			name string
			v    vector
			body []byte
			want Push
		}{name: v.ID, v: v, body: body, want: Push{Format: FormatXML, Mode: mode, Message: m}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCodec(t, tt.v.AppID, tt.v.Token, tt.v.EncodingAESKey)
			got, err := c.Decode(pushQuery(tt.v), tt.body)
			if err != nil {
				t.Fatalf("Decode(%q) = %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
	t.Run("V3 MsgId exact", func(t *testing.T) {
		v := vectorByID(t, "V3")
		m, err := ParseMessage([]byte(v.Plaintext))
		if err != nil || m.MsgID != "6054768590064713728" {
			t.Errorf("ParseMessage(V3) = %+v, %v, want MsgID 6054768590064713728", m, err)
		}
	})
}

// plaintextPush is the official plaintext-mode POST example: the V1
// plaintext with CreateTime 1714037059.
func TestDecodePlaintextExample(t *testing.T) {
	ex := loadVectors(t).SignatureExamples[1]
	v1 := vectorByID(t, "V1")
	body := strings.Replace(v1.Plaintext, "1714112445", ex.Timestamp, 1)
	c := mustCodec(t, v1.AppID, ex.Token, "")
	q := Query{Signature: ex.Signature, Timestamp: ex.Timestamp, Nonce: ex.Nonce}
	got, err := c.Decode(q, []byte(body))
	if err != nil {
		t.Fatalf("Decode(%q) = %v", body, err)
	}
	if got.Mode != ModePlaintext || got.Format != FormatJSON || got.Message.CreateTime != 1714037059 || got.Message.Event != "debug_demo" {
		t.Errorf("Decode(%q) = %+v", body, got)
	}
}

// In compatible mode the plaintext fields beside Encrypt are not covered by
// msg_signature: tampering with them must not change the decoded push.
func TestDecodeCompatibleIgnoresPlaintext(t *testing.T) {
	v := vectorByID(t, "V3")
	c := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
	want, err := ParseMessage([]byte(v.Plaintext))
	if err != nil {
		t.Fatal(err)
	}
	tampered := "<xml><ToUserName><![CDATA[gh_evil]]></ToUserName>\n<FromUserName><![CDATA[o_attacker]]></FromUserName>\n<CreateTime>1</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n<Event><![CDATA[user_enter_tempsession]]></Event>\n<Content><![CDATA[transfer all money]]></Content>\n<MsgId>1</MsgId><BusinessId>666</BusinessId>\n<Encrypt><![CDATA[" + v.Encrypt + "]]></Encrypt>\n</xml>"
	for _, f := range []Format{FormatXML, FormatJSON} {
		body := []byte(tampered)
		if f == FormatJSON {
			body = []byte(`{"ToUserName":"gh_evil","FromUserName":"o_attacker","CreateTime":1,"MsgType":"text","Content":"forged","MsgId":"1","Encrypt":"` + v.Encrypt + `"}`)
		}
		t.Run(f.String(), func(t *testing.T) {
			got, err := c.Decode(pushQuery(v), body)
			if err != nil {
				t.Fatalf("Decode(%q) = %v", body, err)
			}
			if got.Mode != ModeCompatible {
				t.Errorf("Decode(%q).Mode = %v, want %v", body, got.Mode, ModeCompatible)
			}
			if diff := cmp.Diff(want, got.Message); diff != "" {
				t.Errorf("Decode(%q) used plaintext fields (-want +got):\n%s", body, diff)
			}
		})
	}
}

// encryptRaw encrypts random ‖ len ‖ msg ‖ rid ‖ pad, appending spaces to
// msg so that the total is a multiple of the AES block size.
func encryptRaw(k *Key, random string, msg []byte, rid string, pad []byte) string {
	fill := (aes.BlockSize - (20+len(msg)+len(rid)+len(pad))%aes.BlockSize) % aes.BlockSize
	msg = append(msg[:len(msg):len(msg)], strings.Repeat(" ", fill)...)
	var b []byte
	b = append(b, random...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	b = append(b, msg...)
	b = append(b, rid...)
	b = append(b, pad...)
	return cbcEncrypt(k, b)
}

func repeatByte(c byte, n int) []byte { return []byte(strings.Repeat(string(rune(c)), n)) }

func TestDecodeErrors(t *testing.T) {
	v := vectorByID(t, "V1")
	k := mustKey(t, v.EncodingAESKey)
	c := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
	msg := []byte(v.Plaintext)
	ct := decodeB64(t, v.Encrypt)
	flip := []byte(v.Encrypt)
	flip[10] ^= 'A' ^ 'B'
	if flip[10] == v.Encrypt[10] {
		t.Fatal("flip did nothing")
	}
	tests := []struct {
		name    string
		encrypt string
		sig     string // msg_signature; computed when ""
		appID   string
		want    error
	}{
		{name: "flipped char", encrypt: string(flip), sig: v.MsgSignature, want: ErrSignature},
		{name: "flipped char resigned", encrypt: string(flip), want: ErrSyntax},
		{name: "wrong signature", encrypt: v.Encrypt, sig: strings.Repeat("0", 40), want: ErrSignature},
		{name: "short signature", encrypt: v.Encrypt, sig: "046e02", want: ErrSignature},
		{name: "wrong appid", encrypt: v.Encrypt, appID: "wx0000000000000000", want: ErrAppID},
		{name: "pad 0", encrypt: encryptRaw(k, v.Random, msg, v.AppID, []byte{0}), want: ErrPadding},
		{name: "pad 33", encrypt: encryptRaw(k, v.Random, msg, v.AppID, repeatByte(33, 33)), want: ErrPadding},
		{name: "pad 255", encrypt: encryptRaw(k, v.Random, msg, v.AppID, repeatByte(255, 1)), want: ErrPadding},
		{name: "pad inconsistent", encrypt: encryptRaw(k, v.Random, msg, v.AppID, append([]byte{5}, repeatByte(17, 16)...)), want: ErrPadding},
		{name: "pad 17 ok", encrypt: encryptRaw(k, v.Random, msg, v.AppID, repeatByte(17, 17)), want: nil},
		{name: "pad 32 ok", encrypt: encryptRaw(k, v.Random, msg, v.AppID, repeatByte(32, 32)), want: nil},
		{name: "truncated", encrypt: base64.StdEncoding.EncodeToString(ct[:len(ct)-5]), want: ErrCiphertext},
		{name: "empty", encrypt: "", want: ErrCiphertext},
		{name: "one block", encrypt: cbcEncrypt(k, []byte("0123456789abcde\x01")), want: ErrCiphertext},
		{name: "not block sized", encrypt: v.Encrypt[:len(v.Encrypt)-4], want: ErrCiphertext},
		{name: "bad base64", encrypt: "!!!" + v.Encrypt[3:], want: ErrBase64},
		{name: "msg_len too big", encrypt: lenLie(k, v), want: ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := tt.sig
			if sig == "" {
				sig = MsgSignature(v.Token, v.Timestamp, v.Nonce, tt.encrypt)
			}
			cc := c
			if tt.appID != "" {
				cc = mustCodec(t, tt.appID, v.Token, v.EncodingAESKey)
			}
			q := pushQuery(v)
			q.MsgSignature = sig
			body := envelopeBody(FormatJSON, "gh_97417a04a28d", tt.encrypt)
			_, err := cc.Decode(q, body)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Decode(%q) = %v, want %v", body, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), v.Token) {
				t.Errorf("Decode error %q contains the token", err)
			}
		})
	}
}

// lenLie returns a ciphertext whose msg_len exceeds the plaintext.
func lenLie(k *Key, v vector) string {
	b := []byte(v.Random)
	b = binary.BigEndian.AppendUint32(b, 1000)
	b = append(b, "{}"...)
	b = append(b, v.AppID...)
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	p := 32
	for range p {
		b = append(b, byte(p))
	}
	return cbcEncrypt(k, b)
}

func TestDecodeModeErrors(t *testing.T) {
	v := vectorByID(t, "V1")
	withKey := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
	noKey := mustCodec(t, v.AppID, v.Token, "")
	safe := envelopeBody(FormatJSON, "gh_97417a04a28d", v.Encrypt)
	tests := []struct {
		name string
		c    *Codec
		q    Query
		body string
		want error
	}{
		{name: "encrypted query, plaintext body", c: withKey, q: pushQuery(v), body: v.Plaintext, want: ErrNotEncrypted},
		{name: "msg_signature only, plaintext body", c: withKey, q: Query{MsgSignature: v.MsgSignature}, body: v.Plaintext, want: ErrNotEncrypted},
		{name: "no key", c: noKey, q: pushQuery(v), body: string(safe), want: ErrMode},
		{name: "plaintext bad signature", c: withKey, q: Query{Signature: "x", Timestamp: v.Timestamp, Nonce: v.Nonce}, body: v.Plaintext, want: ErrSignature},
		{name: "plaintext no signature", c: withKey, q: Query{}, body: v.Plaintext, want: ErrSignature},
		{name: "safe body as plaintext", c: withKey, q: Query{Signature: v.Signature, Timestamp: v.Timestamp, Nonce: v.Nonce}, body: string(safe), want: ErrMissingField},
		{name: "not a format", c: withKey, q: pushQuery(v), body: "hello", want: ErrFormat},
		{name: "bad envelope", c: withKey, q: pushQuery(v), body: `{"Encrypt":`, want: ErrSyntax},
		{name: "duplicate Encrypt", c: withKey, q: pushQuery(v), body: `{"Encrypt":"a","Encrypt":"b"}`, want: ErrField},
		{name: "numeric Encrypt", c: withKey, q: pushQuery(v), body: `{"Encrypt":1}`, want: ErrField},
		{name: "xml Encrypt with children", c: withKey, q: pushQuery(v), body: `<xml><Encrypt><a/></Encrypt></xml>`, want: ErrField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Decode(tt.q, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode(%q) = %v, want %v", tt.body, err, tt.want)
			}
		})
	}
}

// A Codec is shared by the HTTP handlers of the ingress.
func TestDecodeConcurrent(t *testing.T) {
	v := vectorByID(t, "V2")
	c := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
	body := envelopeBody(FormatXML, "gh_97417a04a28d", v.Encrypt)
	want, err := c.Decode(pushQuery(v), body)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := c.Decode(pushQuery(v), body)
				if err != nil {
					t.Errorf("Decode(%q) = %v", body, err)
					return
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Decode(%q) mismatch (-want +got):\n%s", body, diff)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestDecodeResultsOwnTheirMemory decodes distinct pushes concurrently,
// unknown fields included, and checks every result once all are done:
// Decode reuses its decryption buffers, so nothing it returns may alias
// them.
func TestDecodeResultsOwnTheirMemory(t *testing.T) {
	v := vectorByID(t, "V2")
	c := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
	const workers, each = 8, 40
	type decoded struct{ want, got Message }
	results := make([][]decoded, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := fmt.Sprint(w*each + i)
				m := Message{ToUserName: "gh_97417a04a28d", FromUserName: "oUser" + n, CreateTime: 1700000000,
					MsgType: "event", Event: "debug_demo",
					Extra: []Field{{Name: "debug_str", Value: json.RawMessage(`"push ` + n + `"`)}}}
				f := []Format{FormatJSON, FormatXML}[i%2]
				q, body, err := c.EncodePush(rand.Reader, f, ModeSafe, m, "1700000000", n)
				if err != nil {
					t.Error(err)
					return
				}
				p, err := c.Decode(q, body)
				if err != nil {
					t.Errorf("Decode push %s: %v", n, err)
					return
				}
				results[w] = append(results[w], decoded{m, p.Message})
			}
		})
	}
	wg.Wait()
	for _, rs := range results {
		for _, r := range rs {
			if r.got.FromUserName != r.want.FromUserName || len(r.got.Extra) != 1 ||
				string(r.got.Extra[0].Value) != string(r.want.Extra[0].Value) {
				t.Fatalf("decoded %+v, want %+v", r.got, r.want)
			}
		}
	}
}
