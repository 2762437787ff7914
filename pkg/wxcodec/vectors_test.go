package wxcodec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// vector is one entry of testdata/wechat-vectors.json.
type vector struct {
	ID                string `json:"id"`
	Token             string `json:"token"`
	EncodingAESKey    string `json:"encoding_aes_key"`
	AppID             string `json:"appid"`
	Timestamp         string `json:"timestamp"`
	Nonce             string `json:"nonce"`
	Signature         string `json:"signature"`
	MsgSignature      string `json:"msg_signature"`
	Encrypt           string `json:"encrypt"`
	Random            string `json:"random"`
	Plaintext         string `json:"plaintext"`
	ReplyRandom       string `json:"reply_random"`
	ReplyPlaintext    string `json:"reply_plaintext"`
	ReplyTimestamp    string `json:"reply_timestamp"`
	ReplyNonce        string `json:"reply_nonce"`
	ReplyEncrypt      string `json:"reply_encrypt"`
	ReplyMsgSignature string `json:"reply_msg_signature"`
	EchoTimestamp     string `json:"echo_timestamp"`
	EchoNonce         string `json:"echo_nonce"`
	EchoMsgSignature  string `json:"echo_msg_signature"`
	EchoStr           string `json:"echostr"`
	EchoStrPlaintext  string `json:"echostr_plaintext"`
}

type signatureExample struct {
	Title     string `json:"title"`
	Token     string `json:"token"`
	Timestamp string `json:"timestamp"`
	Nonce     string `json:"nonce"`
	EchoStr   string `json:"echostr"`
	Signature string `json:"signature"`
}

type vectorFile struct {
	SignatureExamples []signatureExample `json:"signature_examples"`
	Vectors           []vector           `json:"vectors"`
}

func loadVectors(tb testing.TB) vectorFile {
	tb.Helper()
	b, err := os.ReadFile("testdata/wechat-vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		tb.Fatal(err)
	}
	if len(f.Vectors) < 10 || len(f.SignatureExamples) < 2 {
		tb.Fatalf("vectors file has %d vectors and %d signature examples", len(f.Vectors), len(f.SignatureExamples))
	}
	return f
}

func vectorByID(tb testing.TB, id string) vector {
	tb.Helper()
	for _, v := range loadVectors(tb).Vectors {
		if v.ID == id {
			return v
		}
	}
	tb.Fatalf("no vector %s", id)
	return vector{}
}

func mustKey(tb testing.TB, s string) *Key {
	tb.Helper()
	k, err := ParseKey(s)
	if err != nil {
		tb.Fatalf("ParseKey(%q) = %v", s, err)
	}
	return k
}

// mustCodec returns a Codec that accepts every mode its key allows, so that
// tests can decode pushes of any mode; TestModes checks the defaults.
func mustCodec(tb testing.TB, appID, token, key string, opts ...Option) *Codec {
	tb.Helper()
	if key != "" {
		opts = append([]Option{WithModes(ModePlaintext, ModeCompatible, ModeSafe)}, opts...)
	}
	c, err := New(appID, token, key, opts...)
	if err != nil {
		tb.Fatalf("New(%q) = %v", appID, err)
	}
	return c
}

func TestSignatureExamples(t *testing.T) {
	for _, ex := range loadVectors(t).SignatureExamples {
		t.Run(ex.Title, func(t *testing.T) {
			if got := Signature(ex.Token, ex.Timestamp, ex.Nonce); got != ex.Signature {
				t.Errorf("Signature(%q, %q, %q) = %q, want %q", ex.Token, ex.Timestamp, ex.Nonce, got, ex.Signature)
			}
			c := mustCodec(t, "wxapp", ex.Token, "")
			if ex.EchoStr != "" {
				q := Query{Signature: ex.Signature, Timestamp: ex.Timestamp, Nonce: ex.Nonce, EchoStr: ex.EchoStr}
				got, err := c.VerifyURL(q)
				if err != nil || got != ex.EchoStr {
					t.Errorf("VerifyURL(%+v) = %q, %v, want %q", q, got, err, ex.EchoStr)
				}
			}
		})
	}
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t).Vectors {
		t.Run(v.ID, func(t *testing.T) {
			if v.Signature != "" {
				if got := Signature(v.Token, v.Timestamp, v.Nonce); got != v.Signature {
					t.Errorf("Signature = %q, want %q", got, v.Signature)
				}
			}
			if v.MsgSignature != "" {
				if got := MsgSignature(v.Token, v.Timestamp, v.Nonce, v.Encrypt); got != v.MsgSignature {
					t.Errorf("MsgSignature = %q, want %q", got, v.MsgSignature)
				}
				if got := signature4b(v.Token, v.Timestamp, v.Nonce, []byte(v.Encrypt)); !equalHex(got, v.MsgSignature) {
					t.Errorf("signature4b = %x, want %s", got, v.MsgSignature)
				}
			}
			k := mustKey(t, v.EncodingAESKey)
			msg, rid, err := k.Decrypt(v.Encrypt)
			if err != nil {
				t.Fatalf("Decrypt(%q) = %v", v.Encrypt, err)
			}
			if string(msg) != v.Plaintext || rid != v.AppID {
				t.Errorf("Decrypt = %q, %q, want %q, %q", msg, rid, v.Plaintext, v.AppID)
			}
			// The random prefix: decrypt by hand to see it.
			enc, err := k.Encrypt(strings.NewReader(v.Random), []byte(v.Plaintext), v.AppID)
			if err != nil {
				t.Fatal(err)
			}
			if enc != v.Encrypt {
				t.Errorf("Encrypt(random %q) = %q, want %q", v.Random, enc, v.Encrypt)
			}
			if v.ReplyEncrypt != "" {
				enc, err := k.Encrypt(strings.NewReader(v.ReplyRandom), []byte(v.ReplyPlaintext), v.AppID)
				if err != nil || enc != v.ReplyEncrypt {
					t.Errorf("Encrypt(reply) = %q, %v, want %q", enc, err, v.ReplyEncrypt)
				}
				if got := MsgSignature(v.Token, v.ReplyTimestamp, v.ReplyNonce, v.ReplyEncrypt); got != v.ReplyMsgSignature {
					t.Errorf("MsgSignature(reply) = %q, want %q", got, v.ReplyMsgSignature)
				}
				c := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
				ts, _ := strconv.ParseInt(v.ReplyTimestamp, 10, 64)
				f, _ := Sniff([]byte(v.ReplyPlaintext))
				if v.ReplyPlaintext[0] == '<' {
					f = FormatXML
				}
				body, err := c.EncryptReply(strings.NewReader(v.ReplyRandom), f, []byte(v.ReplyPlaintext), ts, v.ReplyNonce)
				if err != nil {
					t.Fatal(err)
				}
				env, err := ParseEnvelope(body)
				if err != nil || env.Encrypt != v.ReplyEncrypt {
					t.Errorf("ParseEnvelope(EncryptReply) = %+v, %v, want Encrypt %q", env, err, v.ReplyEncrypt)
				}
				if !bytes.Contains(body, []byte(v.ReplyMsgSignature)) {
					t.Errorf("EncryptReply = %s, want MsgSignature %s", body, v.ReplyMsgSignature)
				}
			}
			if v.EchoStr != "" {
				c := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
				if got := MsgSignature(v.Token, v.EchoTimestamp, v.EchoNonce, v.EchoStr); got != v.EchoMsgSignature {
					t.Errorf("MsgSignature(echostr) = %q, want %q", got, v.EchoMsgSignature)
				}
				q := Query{Timestamp: v.EchoTimestamp, Nonce: v.EchoNonce, MsgSignature: v.EchoMsgSignature, EchoStr: v.EchoStr}
				got, err := c.VerifyURL(q)
				if err != nil || got != v.EchoStrPlaintext {
					t.Errorf("VerifyURL(%+v) = %q, %v, want %q", q, got, err, v.EchoStrPlaintext)
				}
				wrong := mustCodec(t, "wx0000000000000000", v.Token, v.EncodingAESKey)
				if _, err := wrong.VerifyURL(q); !errors.Is(err, ErrAppID) {
					t.Errorf("VerifyURL(wrong appid) = %v, want %v", err, ErrAppID)
				}
			}
		})
	}
}

// The random prefix and the padding byte, read with the key by hand.
func TestVectorsRandomPrefix(t *testing.T) {
	for _, v := range loadVectors(t).Vectors {
		t.Run(v.ID, func(t *testing.T) {
			k := mustKey(t, v.EncodingAESKey)
			ct := decodeB64(t, v.Encrypt)
			plain := cbcDecrypt(k, ct)
			if got := string(plain[:16]); got != v.Random {
				t.Errorf("random prefix = %q, want %q", got, v.Random)
			}
		})
	}
}

var wsBetweenTags = regexp.MustCompile(`>\s+<`)

// The official final reply envelopes of V1 (JSON) and V2 (XML).
func TestOfficialReplyEnvelopes(t *testing.T) {
	tests := []struct {
		name string
		id   string
		f    Format
		want string
	}{
		{
			name: "V1 json",
			id:   "V1",
			f:    FormatJSON,
			want: `{"Encrypt": "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==",
 "MsgSignature": "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1",
 "TimeStamp": 1713424427,
 "Nonce": "415670741"}`,
		},
		{
			name: "V2 xml",
			id:   "V2",
			f:    FormatXML,
			want: `<xml>
<Encrypt><![CDATA[hE8R6mGXHkJJjU72KxzKUd1GEkKJaEZq7vRL8XgK3o+00k8JGq6+pZJUIlTSyhsX+bxIBQ72g3GyvDdIZcr6+3HAZbSvPT9t/o11MI7d6WELwqrGd7jMnV0zv3Zc9Nq7]]></Encrypt>
<MsgSignature><![CDATA[03e0812039325c2712ef5f0f980fd14c70d6e307]]></MsgSignature>
<TimeStamp>1713424427</TimeStamp>
<Nonce><![CDATA[415670741]]></Nonce>
</xml>`,
		},
		{
			name: "V8 xml (wechatpy)",
			id:   "V8",
			f:    FormatXML,
			want: "<xml>\n<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3]]></Encrypt>\n<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>\n<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vectorByID(t, tt.id)
			c := mustCodec(t, v.AppID, v.Token, v.EncodingAESKey)
			ts, err := strconv.ParseInt(v.ReplyTimestamp, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.EncryptReply(strings.NewReader(v.ReplyRandom), tt.f, []byte(v.ReplyPlaintext), ts, v.ReplyNonce)
			if err != nil {
				t.Fatalf("EncryptReply = %v", err)
			}
			if tt.f == FormatXML {
				g := wsBetweenTags.ReplaceAllString(string(got), "><")
				w := wsBetweenTags.ReplaceAllString(tt.want, "><")
				if g != w {
					t.Errorf("EncryptReply = %s, want %s", got, tt.want)
				}
				return
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(tt.want)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(compact.String(), string(got)); diff != "" {
				t.Errorf("EncryptReply mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
