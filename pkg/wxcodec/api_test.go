package wxcodec

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStrings(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "xml", got: FormatXML.String(), want: "xml"},
		{name: "json", got: FormatJSON.String(), want: "json"},
		{name: "format zero", got: Format(0).String(), want: "Format(0)"},
		{name: "plaintext", got: ModePlaintext.String(), want: "plaintext"},
		{name: "compatible", got: ModeCompatible.String(), want: "compatible"},
		{name: "safe", got: ModeSafe.String(), want: "safe"},
		{name: "mode 9", got: Mode(9).String(), want: "Mode(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("String() = %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	v, err := url.ParseQuery("signature=s&timestamp=1&nonce=2&echostr=e&openid=o&encrypt_type=aes&msg_signature=m&other=x")
	if err != nil {
		t.Fatal(err)
	}
	want := Query{Signature: "s", Timestamp: "1", Nonce: "2", EchoStr: "e", OpenID: "o", EncryptType: "aes", MsgSignature: "m"}
	got := ParseQuery(v)
	if got != want {
		t.Errorf("ParseQuery(%v) = %+v, want %+v", v, got, want)
	}
	if back := ParseQuery(got.Values()); back != want {
		t.Errorf("ParseQuery(Values()) = %+v, want %+v", back, want)
	}
}

func TestParseRawQuery(t *testing.T) {
	tests := []struct {
		raw  string
		want Query
	}{
		{"signature=s&timestamp=1&nonce=2&echostr=e&openid=o&encrypt_type=aes&msg_signature=m&other=x",
			Query{Signature: "s", Timestamp: "1", Nonce: "2", EchoStr: "e", OpenID: "o", EncryptType: "aes", MsgSignature: "m"}},
		{"nonce=a%2Bb+c&nonce=second", Query{Nonce: "a+b c"}},         // escapes; the first value counts
		{"nonce=&nonce=second", Query{}},                              // even an empty first value
		{"nonce=%zz&nonce=ok", Query{Nonce: "ok"}},                    // a bad escape is no value
		{"nonce=1;x=2&timestamp=3", Query{Timestamp: "3"}},            // semicolons spoil their pair
		{"%6Eonce=n&&=&timestamp", Query{Nonce: "n"}},                 // escaped key; empty pairs; no "="
		{"signature=" + strings.Repeat("&", maxQueryParams), Query{}}, // over net/url's limit
		{"", Query{}},
	}
	for _, tt := range tests {
		if got := ParseRawQuery(tt.raw); got != tt.want {
			t.Errorf("ParseRawQuery(%.60q) = %+v, want %+v", tt.raw, got, tt.want)
		}
		v, _ := url.ParseQuery(tt.raw)
		if got := ParseQuery(v); got != tt.want {
			t.Errorf("ParseQuery(url.ParseQuery(%.60q)) = %+v, want %+v", tt.raw, got, tt.want)
		}
	}
	raw := "signature=s&timestamp=1409304348&nonce=xxxxxx&openid=o&encrypt_type=aes&msg_signature=m"
	if n := testing.AllocsPerRun(100, func() { ParseRawQuery(raw) }); n != 0 {
		t.Errorf("ParseRawQuery allocates %v times for a query without escapes, want 0", n)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		err  error
	}{
		{name: "all A", key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{name: "non-strict 1", key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
		{name: "non-strict 2", key: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"},
		{name: "non-strict 3", key: "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"},
		{name: "empty", key: "", err: ErrKey},
		{name: "42 chars", key: strings.Repeat("A", 42), err: ErrKey},
		{name: "44 chars", key: strings.Repeat("A", 44), err: ErrKey},
		{name: "padded", key: strings.Repeat("A", 42) + "=", err: ErrKey},
		{name: "plus", key: strings.Repeat("A", 42) + "+", err: ErrKey},
		{name: "non-ascii", key: strings.Repeat("A", 40) + "é", err: ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.key)
			if !errors.Is(err, tt.err) || (err == nil) != (k != nil) {
				t.Errorf("ParseKey(%q) = %v, %v, want %v", tt.key, k, err, tt.err)
			}
			if err != nil && tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("ParseKey error %q contains the key", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name              string
		appID, token, key string
		err               error
	}{
		{name: "plaintext only", appID: "wx1", token: "t"},
		{name: "with key", appID: "wx1", token: "t", key: strings.Repeat("A", 43)},
		{name: "no token", appID: "wx1", err: ErrConfig},
		{name: "no appid", token: "t", err: ErrConfig},
		{name: "bad key", appID: "wx1", token: "t", key: "short", err: ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.appID, tt.token, tt.key)
			if !errors.Is(err, tt.err) {
				t.Fatalf("New(%q) = %v, want %v", tt.appID, err, tt.err)
			}
			if err == nil && c.AppID() != tt.appID {
				t.Errorf("AppID() = %q, want %q", c.AppID(), tt.appID)
			}
		})
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1714112445, 0)
	tests := []struct {
		name string
		ts   string
		err  error
	}{
		{name: "now", ts: "1714112445"},
		{name: "edge past", ts: "1714112145"},
		{name: "edge future", ts: "1714112745"},
		{name: "too old", ts: "1714112144", err: ErrTimestamp},
		{name: "too new", ts: "1714112746", err: ErrTimestamp},
		{name: "empty", ts: "", err: ErrTimestamp},
		{name: "negative", ts: "-1", err: ErrTimestamp},
		{name: "float", ts: "1714112445.0", err: ErrTimestamp},
		{name: "huge", ts: "99999999999999999999", err: ErrTimestamp},
		{name: "max int64", ts: "9223372036854775807", err: ErrTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckTimestamp(tt.ts, now, 5*time.Minute); !errors.Is(err, tt.err) {
				t.Errorf("CheckTimestamp(%q) = %v, want %v", tt.ts, err, tt.err)
			}
		})
	}
}

func TestVerifyURL(t *testing.T) {
	ex := loadVectors(t).SignatureExamples[0]
	v7 := vectorByID(t, "V7")
	plain := mustCodec(t, "wx1", ex.Token, "")
	wecom := mustCodec(t, v7.AppID, v7.Token, v7.EncodingAESKey)
	good := Query{Signature: ex.Signature, Timestamp: ex.Timestamp, Nonce: ex.Nonce, EchoStr: ex.EchoStr}
	wq := Query{Timestamp: v7.EchoTimestamp, Nonce: v7.EchoNonce, MsgSignature: v7.EchoMsgSignature, EchoStr: v7.EchoStr}
	tests := []struct {
		name string
		c    *Codec
		q    Query
		want string
		err  error
	}{
		{name: "plain", c: plain, q: good, want: ex.EchoStr},
		{name: "uppercase signature", c: plain, q: Query{Signature: strings.ToUpper(ex.Signature), Timestamp: ex.Timestamp, Nonce: ex.Nonce, EchoStr: ex.EchoStr}, err: ErrSignature},
		{name: "bad signature", c: plain, q: Query{Signature: ex.Signature, Timestamp: ex.Timestamp, Nonce: "1", EchoStr: ex.EchoStr}, err: ErrSignature},
		{name: "no echostr", c: plain, q: Query{Signature: ex.Signature, Timestamp: ex.Timestamp, Nonce: ex.Nonce}, err: ErrMissingField},
		{name: "wecom", c: wecom, q: wq, want: v7.EchoStrPlaintext},
		{name: "wecom without key", c: mustCodec(t, v7.AppID, v7.Token, ""), q: wq, err: ErrSignature},
		{name: "wecom bad msg_signature", c: wecom, q: Query{Timestamp: v7.EchoTimestamp, Nonce: "0", MsgSignature: v7.EchoMsgSignature, EchoStr: v7.EchoStr}, err: ErrSignature},
		{name: "wecom bad echostr", c: wecom, q: Query{Timestamp: "1", Nonce: "2", MsgSignature: MsgSignature(v7.Token, "1", "2", "AAAA"), EchoStr: "AAAA"}, err: ErrCiphertext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.VerifyURL(tt.q)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("VerifyURL(%+v) = %q, %v, want %q, %v", tt.q, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestEncodePushDecode(t *testing.T) {
	c := mustCodec(t, "wx1234567890abcdef", "tok", strings.Repeat("k", 43))
	for _, tt := range messageTests {
		if tt.err != nil {
			continue
		}
		for _, f := range []Format{FormatXML, FormatJSON} {
			for _, mode := range []Mode{ModePlaintext, ModeCompatible, ModeSafe} {
				t.Run(tt.name+"/"+f.String()+"/"+mode.String(), func(t *testing.T) {
					q, body, err := c.EncodePush(strings.NewReader("0123456789abcdef"), f, mode, tt.want, "1700000000", "42")
					if err != nil {
						if f == FormatXML { // some JSON values have no XML form
							t.Skipf("EncodePush: %v", err)
						}
						t.Fatalf("EncodePush = %v", err)
					}
					if mode != ModePlaintext && (q.OpenID != tt.want.FromUserName || q.EncryptType != "aes" || q.MsgSignature == "") {
						t.Errorf("EncodePush query = %+v", q)
					}
					got, err := c.Decode(q, body)
					if err != nil {
						t.Fatalf("Decode(%q) = %v", body, err)
					}
					if got.Mode != mode || got.Format != f {
						t.Errorf("Decode(%q) = %v %v, want %v %v", body, got.Format, got.Mode, f, mode)
					}
					want, err := ParseMessage(mustEncode(t, f, tt.want))
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, got.Message); diff != "" {
						t.Errorf("Decode(%q) mismatch (-want +got):\n%s", body, diff)
					}
				})
			}
		}
	}
	t.Run("no key", func(t *testing.T) {
		c := mustCodec(t, "wx1", "tok", "")
		if _, _, err := c.EncodePush(strings.NewReader("0123456789abcdef"), FormatJSON, ModeSafe, Message{MsgType: "text"}, "1", "2"); !errors.Is(err, ErrNoKey) {
			t.Errorf("EncodePush = %v, want %v", err, ErrNoKey)
		}
	})
	t.Run("short random", func(t *testing.T) {
		if _, _, err := c.EncodePush(strings.NewReader("0123"), FormatJSON, ModeSafe, Message{MsgType: "text"}, "1", "2"); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("EncodePush = %v, want %v", err, io.ErrUnexpectedEOF)
		}
	})
	t.Run("random error", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := c.EncryptReply(iotest.ErrReader(boom), FormatXML, []byte("x"), 1, "n"); !errors.Is(err, boom) {
			t.Errorf("EncryptReply = %v, want %v", err, boom)
		}
	})
}

func mustEncode(t *testing.T, f Format, m Message) []byte {
	t.Helper()
	b, err := EncodeMessage(f, m)
	if err != nil {
		t.Fatalf("EncodeMessage(%v, %+v) = %v", f, m, err)
	}
	return b
}

func TestReply(t *testing.T) {
	m := Message{ToUserName: "gh_1", FromUserName: "o_1", MsgType: "text", Content: "x"}
	r := TransferReply(m, time.Unix(1399197672, 0))
	want := Reply{ToUserName: "o_1", FromUserName: "gh_1", CreateTime: 1399197672, MsgType: "transfer_customer_service"}
	if r != want {
		t.Fatalf("TransferReply = %+v, want %+v", r, want)
	}
	xmlWant := "<xml><ToUserName><![CDATA[o_1]]></ToUserName><FromUserName><![CDATA[gh_1]]></FromUserName><CreateTime>1399197672</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>"
	jsonWant := `{"ToUserName":"o_1","FromUserName":"gh_1","CreateTime":1399197672,"MsgType":"transfer_customer_service"}`
	if got := string(EncodeReply(FormatXML, r)); got != xmlWant {
		t.Errorf("EncodeReply(xml) = %s, want %s", got, xmlWant)
	}
	if got := string(EncodeReply(FormatJSON, r)); got != jsonWant {
		t.Errorf("EncodeReply(json) = %s, want %s", got, jsonWant)
	}
	if got := EncodeReply(0, r); got != nil {
		t.Errorf("EncodeReply(0) = %q, want nil", got)
	}
	// The reply parses back as a message.
	for _, f := range []Format{FormatXML, FormatJSON} {
		back, err := ParseMessage(EncodeReply(f, r))
		if err != nil || back.ToUserName != "o_1" || back.FromUserName != "gh_1" || back.MsgType != MsgTypeTransfer || back.CreateTime != 1399197672 {
			t.Errorf("ParseMessage(EncodeReply(%v)) = %+v, %v", f, back, err)
		}
	}
	// Encrypted replies decrypt back to the plaintext with the AppID.
	v1 := vectorByID(t, "V1")
	c := mustCodec(t, v1.AppID, v1.Token, v1.EncodingAESKey)
	for _, f := range []Format{FormatXML, FormatJSON} {
		plain := EncodeReply(f, r)
		body, err := c.EncryptReply(strings.NewReader(v1.ReplyRandom), f, plain, 1713424427, "415670741")
		if err != nil {
			t.Fatal(err)
		}
		env, err := ParseEnvelope(body)
		if err != nil || env.Format != f {
			t.Fatalf("ParseEnvelope(%s) = %+v, %v", body, env, err)
		}
		msg, rid, err := c.key.Decrypt(env.Encrypt)
		if err != nil || string(msg) != string(plain) || rid != v1.AppID {
			t.Errorf("Decrypt(EncryptReply) = %q, %q, %v", msg, rid, err)
		}
		sig := MsgSignature(v1.Token, "1713424427", "415670741", env.Encrypt)
		if !strings.Contains(string(body), sig) {
			t.Errorf("EncryptReply = %s, want MsgSignature %s", body, sig)
		}
	}
	if _, err := c.EncryptReply(strings.NewReader(v1.ReplyRandom), 0, nil, 1, "n"); !errors.Is(err, ErrFormat) {
		t.Errorf("EncryptReply(format 0) = %v, want %v", err, ErrFormat)
	}
	if _, err := mustCodec(t, "wx1", "t", "").EncryptReply(strings.NewReader(v1.ReplyRandom), FormatXML, nil, 1, "n"); !errors.Is(err, ErrNoKey) {
		t.Errorf("EncryptReply(no key) = %v, want %v", err, ErrNoKey)
	}
}

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Envelope
		err  error
	}{
		{name: "json safe", body: `{"ToUserName":"gh_1","Encrypt":"abc="}`, want: Envelope{Format: FormatJSON, ToUserName: "gh_1", Encrypt: "abc="}},
		{name: "json escaped", body: `{"ToUserName":"gh_\u0031","Encrypt":"a\/b"}`, want: Envelope{Format: FormatJSON, ToUserName: "gh_1", Encrypt: "a/b"}},
		{name: "json compatible", body: `{"ToUserName":"gh_1","MsgType":"text","Encrypt":"abc="}`, want: Envelope{Format: FormatJSON, ToUserName: "gh_1", Encrypt: "abc=", Plain: true}},
		{name: "json plaintext", body: `{"ToUserName":"gh_1","MsgType":"text"}`, want: Envelope{Format: FormatJSON, ToUserName: "gh_1", Plain: true}},
		{name: "xml safe", body: "<xml>\n <ToUserName><![CDATA[gh_1]]></ToUserName>\n <Encrypt><![CDATA[abc=]]></Encrypt>\n</xml>", want: Envelope{Format: FormatXML, ToUserName: "gh_1", Encrypt: "abc="}},
		{name: "xml wecom AgentID", body: "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>", want: Envelope{Format: FormatXML, ToUserName: "ww1", Encrypt: "abc="}},
		{name: "xml entity", body: "<xml><Encrypt>a&#43;b</Encrypt></xml>", want: Envelope{Format: FormatXML, Encrypt: "a+b"}},
		{name: "xml compatible", body: "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><Encrypt>abc=</Encrypt></xml>", want: Envelope{Format: FormatXML, ToUserName: "gh", Encrypt: "abc=", Plain: true}},
		{name: "duplicate ToUserName", body: `<xml><ToUserName>a</ToUserName><ToUserName>b</ToUserName></xml>`, err: ErrField},
		{name: "numeric ToUserName", body: `{"ToUserName":1}`, err: ErrField},
		{name: "not json", body: `{"a"}`, err: ErrSyntax},
		{name: "not xml", body: `<xml>`, err: ErrSyntax},
		{name: "text", body: `success`, err: ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvelope([]byte(tt.body))
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("ParseEnvelope(%q) = %+v, %v, want %+v, %v", tt.body, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestEncodeMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		m    Message
		err  error
	}{
		{name: "unknown format", f: 0, m: Message{MsgType: "text"}, err: ErrFormat},
		{name: "json invalid extra", f: FormatJSON, m: Message{MsgType: "x", Extra: []Field{{"a", json.RawMessage(`{`)}}}, err: ErrField},
		{name: "json nil extra", f: FormatJSON, m: Message{MsgType: "x", Extra: []Field{{"a", nil}}}, err: ErrField},
		{name: "xml control char", f: FormatXML, m: Message{MsgType: "text", Content: "a\x00"}, err: ErrField},
		{name: "xml invalid utf8", f: FormatXML, m: Message{MsgType: "text", Content: "a\xff"}, err: ErrField},
		{name: "xml bad name", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"a b", json.RawMessage(`"v"`)}}}, err: ErrField},
		{name: "xml empty name", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"", json.RawMessage(`"v"`)}}}, err: ErrField},
		{name: "xml nested array", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"a", json.RawMessage(`[[1]]`)}}}, err: ErrField},
		{name: "xml object attribute", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"a", json.RawMessage(`{"@b":{}}`)}}}, err: ErrField},
		{name: "xml bad attribute name", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"a", json.RawMessage(`{"@":"1"}`)}}}, err: ErrField},
		{name: "xml extra control char", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"a", json.RawMessage(`"\u0001"`)}}}, err: ErrField},
		{name: "xml too deep", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"a", json.RawMessage(strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40))}}}, err: ErrField},
		{name: "xml invalid extra", f: FormatXML, m: Message{MsgType: "x", Extra: []Field{{"a", json.RawMessage(`tru`)}}}, err: ErrField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeMessage(tt.f, tt.m)
			if !errors.Is(err, tt.err) {
				t.Errorf("EncodeMessage(%v, %+v) = %q, %v, want %v", tt.f, tt.m, got, err, tt.err)
			}
			var fe *FieldError
			if errors.Is(err, ErrField) && !errors.As(err, &fe) {
				t.Errorf("EncodeMessage error %v is not a *FieldError", err)
			}
		})
	}
}

func TestEncodeMessageXMLSpecials(t *testing.T) {
	m := Message{MsgType: "x", Content: "", Extra: []Field{
		{"cr", json.RawMessage(`"a\r\nb]]>c"`)},
		{"n", json.RawMessage(`12.5`)},
		{"b", json.RawMessage(`true`)},
		{"z", json.RawMessage(`null`)},
		{"o", json.RawMessage(`{"@id":"a\"<&\t\n\r","#text":"t","k":["1","2"],"e":{}}`)},
	}}
	b := mustEncode(t, FormatXML, m)
	got, err := ParseMessage(b)
	if err != nil {
		t.Fatalf("ParseMessage(%q) = %v", b, err)
	}
	want := []Field{
		{"cr", json.RawMessage(`"a\r\nb]]>c"`)},
		{"n", json.RawMessage(`"12.5"`)},
		{"b", json.RawMessage(`"true"`)},
		{"z", json.RawMessage(`""`)},
		{"o", json.RawMessage(`{"@id":"a\"<&\t\n\r","#text":"t","k":["1","2"],"e":""}`)},
	}
	if diff := cmp.Diff(want, got.Extra); diff != "" {
		t.Errorf("ParseMessage(%q) mismatch (-want +got):\n%s", b, diff)
	}
}

func TestFieldError(t *testing.T) {
	_, err := ParseMessage([]byte(`{"Content":"x"}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "MsgType" || !errors.Is(err, ErrMissingField) {
		t.Fatalf("ParseMessage = %v, want *FieldError{MsgType, ErrMissingField}", err)
	}
	if !strings.HasPrefix(err.Error(), "wxcodec: ") || !strings.Contains(err.Error(), "MsgType") {
		t.Errorf("Error() = %q", err.Error())
	}
}
