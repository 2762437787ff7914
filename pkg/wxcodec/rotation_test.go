package wxcodec

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	rotAppID    = "wx1234567890abcdef"
	rotOldToken = "oldtoken"
	rotNewToken = "newtoken"
)

var (
	rotOldKey = strings.Repeat("o", 43)
	rotNewKey = strings.Repeat("n", 43)
)

// TestRotation decodes pushes signed and encrypted with every combination
// of the current and previous token and key, and checks that the reply is
// encrypted and signed with the ones the push used.
func TestRotation(t *testing.T) {
	c := mustCodec(t, rotAppID, rotNewToken, rotNewKey, WithPrevious(rotOldToken, rotOldKey))
	m := Message{ToUserName: "gh_97417a04a28d", FromUserName: "oUser", CreateTime: 1714112445, MsgType: "text", Content: "hi", MsgID: "7"}
	tests := []struct {
		name       string
		token, key string
		want       Secrets
	}{
		{name: "current", token: rotNewToken, key: rotNewKey},
		{name: "previous", token: rotOldToken, key: rotOldKey, want: PreviousToken | PreviousKey},
		{name: "previous token", token: rotOldToken, key: rotNewKey, want: PreviousToken},
		{name: "previous key", token: rotNewToken, key: rotOldKey, want: PreviousKey},
	}
	for _, tt := range tests {
		sender := mustCodec(t, rotAppID, tt.token, tt.key)
		senderKey := mustKey(t, tt.key)
		for _, mode := range []Mode{ModePlaintext, ModeCompatible, ModeSafe} {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				q, body, err := sender.EncodePush(rand.Reader, FormatJSON, mode, m, "1714112445", "99")
				if err != nil {
					t.Fatal(err)
				}
				p, err := c.Decode(q, body)
				if err != nil {
					t.Fatalf("Decode = %v", err)
				}
				want := tt.want
				if mode == ModePlaintext {
					want &^= PreviousKey // nothing to decrypt
				}
				if p.Previous != want || p.Message.Content != "hi" {
					t.Errorf("Decode = Previous %v, Content %q; want %v, hi", p.Previous, p.Message.Content, want)
				}
				if mode == ModePlaintext {
					return
				}
				reply, err := c.EncryptReplyFor(&p, rand.Reader, []byte(`{"MsgType":"transfer_customer_service"}`), 1714112446, "99")
				if err != nil {
					t.Fatal(err)
				}
				env, err := ParseEnvelope(reply)
				if err != nil {
					t.Fatal(err)
				}
				// WeChat, still on the sender's secrets, must read it.
				if _, ok := sender.verify4(&Query{Timestamp: "1714112446", Nonce: "99", MsgSignature: msgSignatureOf(t, reply)}, []byte(env.Encrypt)); !ok {
					t.Errorf("reply is not signed with the push's token")
				}
				if msg, rid, err := senderKey.Decrypt(env.Encrypt); err != nil || rid != rotAppID || !strings.Contains(string(msg), "transfer") {
					t.Errorf("reply does not decrypt with the push's key: %q, %q, %v", msg, rid, err)
				}
			})
		}
	}
	t.Run("VerifyURL", func(t *testing.T) {
		for _, token := range []string{rotNewToken, rotOldToken} {
			q := Query{Signature: Signature(token, "1", "2"), Timestamp: "1", Nonce: "2", EchoStr: "echo"}
			if got, err := c.VerifyURL(q); got != "echo" || err != nil {
				t.Errorf("VerifyURL(signed with %s) = %q, %v", token, got, err)
			}
		}
		for _, key := range []string{rotNewKey, rotOldKey} {
			enc, err := mustKey(t, key).Encrypt(rand.Reader, []byte("echo"), rotAppID)
			if err != nil {
				t.Fatal(err)
			}
			q := Query{Timestamp: "1", Nonce: "2", MsgSignature: MsgSignature(rotOldToken, "1", "2", enc), EchoStr: enc}
			if got, err := c.VerifyURL(q); got != "echo" || err != nil {
				t.Errorf("VerifyURL(encrypted echostr) = %q, %v", got, err)
			}
		}
	})
	t.Run("neither", func(t *testing.T) {
		other := mustCodec(t, rotAppID, "othertoken", strings.Repeat("x", 43))
		q, body, err := other.EncodePush(rand.Reader, FormatXML, ModeSafe, m, "1714112445", "99")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Decode(q, body); !errors.Is(err, ErrSignature) {
			t.Errorf("Decode(other token) = %v, want %v", err, ErrSignature)
		}
		// Signed with a known token, encrypted with an unknown key: the
		// current key's error is reported.
		q.MsgSignature = MsgSignature(rotOldToken, q.Timestamp, q.Nonce, mustEnvelope(t, body).Encrypt)
		if _, err := c.Decode(q, body); err == nil || errors.Is(err, ErrSignature) {
			t.Errorf("Decode(other key) = %v, want a decryption error", err)
		}
		if _, err := c.VerifyURL(Query{Signature: Signature("othertoken", "1", "2"), Timestamp: "1", Nonce: "2", EchoStr: "e"}); !errors.Is(err, ErrSignature) {
			t.Errorf("VerifyURL(other token) = %v, want %v", err, ErrSignature)
		}
	})
	t.Run("without previous", func(t *testing.T) {
		cur := mustCodec(t, rotAppID, rotNewToken, rotNewKey)
		old := mustCodec(t, rotAppID, rotOldToken, rotOldKey)
		q, body, err := old.EncodePush(rand.Reader, FormatXML, ModeSafe, m, "1714112445", "99")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cur.Decode(q, body); !errors.Is(err, ErrSignature) {
			t.Errorf("Decode(old secrets, no previous) = %v, want %v", err, ErrSignature)
		}
	})
}

func msgSignatureOf(t *testing.T, reply []byte) string {
	t.Helper()
	var r struct{ MsgSignature string }
	if err := json.Unmarshal(reply, &r); err != nil || r.MsgSignature == "" {
		t.Fatalf("reply %s: no MsgSignature (%v)", reply, err)
	}
	return r.MsgSignature
}

func mustEnvelope(t *testing.T, body []byte) Envelope {
	t.Helper()
	env, err := ParseEnvelope(body)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// BenchmarkDecodeRotation measures a safe-mode push during a rotation:
// signed with the current secrets (the fast path, as without previous
// ones) and with the previous ones (a second signature and decryption).
func BenchmarkDecodeRotation(b *testing.B) {
	c := mustCodec(b, rotAppID, rotNewToken, rotNewKey, WithPrevious(rotOldToken, rotOldKey))
	m := Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714112445,
		MsgType: "text", Content: "你好，我想咨询一下订单的物流信息", MsgID: "6054768590064713728"}
	for _, bc := range []struct{ name, token, key string }{
		{"current", rotNewToken, rotNewKey},
		{"previous", rotOldToken, rotOldKey},
	} {
		q, body, err := mustCodec(b, rotAppID, bc.token, bc.key).EncodePush(rand.Reader, FormatXML, ModeSafe, m, "1714112445", "99")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) { benchDecode(b, c, q, body) })
	}
}
