package ingress

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// rawEncrypt builds an Encrypt value by hand, with a chosen receiveid and
// padding (pad < 0: correct), to forge ciphertexts the codec must refuse.
func rawEncrypt(t testing.TB, msg []byte, receiver string, pad int) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(testKey + "=")
	if err != nil {
		t.Fatal(err)
	}
	plain := append([]byte("0123456789abcdef"), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(plain[16:], uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, receiver...)
	n := 32 - len(plain)%32
	plain = append(plain, bytes.Repeat([]byte{byte(n)}, n)...)
	if pad >= 0 { // overwrite the last byte with a bad pad value
		plain[len(plain)-1] = byte(pad)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

// signedSafe returns the query and body of a safe-mode XML push carrying
// encrypt, correctly signed.
func signedSafe(encrypt string, ts string) (url.Values, []byte) {
	nonce := "42"
	q := url.Values{
		"signature": {wxcodec.Signature(testToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
		"openid": {"oU"}, "encrypt_type": {"aes"},
		"msg_signature": {wxcodec.MsgSignature(testToken, ts, nonce, encrypt)},
	}
	body := fmt.Sprintf("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>", encrypt)
	return q, []byte(body)
}

func signedPlain(body string, ts string) (url.Values, []byte) {
	nonce := "42"
	return url.Values{"signature": {wxcodec.Signature(testToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}, []byte(body)
}

// overLimits is a push with more nodes than wxcodec.MaxNodes.
var overLimits = `{"FromUserName":"oU","MsgType":"video","X":[` + strings.Repeat("0,", wxcodec.MaxNodes) + `0]}`

// TestBadInput sends every kind of bad request: each gets its 4xx, nothing
// is published, and the server goes on serving.
func TestBadInput(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Ingress.MaxBodyBytes = 4096 })
	ts := fmt.Sprint(fixedNow.Unix())
	good := []byte(`<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oU]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>1</MsgId></xml>`)
	validQ, validBody := signedSafe(rawEncrypt(t, good, testAppID, -1), ts)

	tests := []struct {
		name   string
		appid  string
		q      url.Values
		body   []byte
		status int
	}{
		{name: "unknown app", appid: "wxnobody", q: validQ, body: validBody, status: 404},
		{name: "wrong msg_signature", q: with(validQ, "msg_signature", strings.Repeat("a", 40)), body: validBody, status: 401},
		{name: "tampered ciphertext", q: validQ, body: bytes.Replace(validBody, []byte("CDATA["+rawEncrypt(t, good, testAppID, -1)[:4]), []byte("CDATA[AAAA"), 1), status: 401},
		{name: "wrong plaintext signature", q: with(mustQ(signedPlain(string(good), ts)), "signature", strings.Repeat("b", 40)), body: good, status: 401},
		{name: "no signature", q: url.Values{"timestamp": {ts}, "nonce": {"1"}}, body: good, status: 401},
		{name: "stale timestamp", q: mustQ(signedPlain(string(good), fmt.Sprint(fixedNow.Add(-6*time.Minute).Unix()))), body: good, status: 401},
		{name: "future timestamp", q: mustQ(signedPlain(string(good), fmt.Sprint(fixedNow.Add(6*time.Minute).Unix()))), body: good, status: 401},
		{name: "non-numeric timestamp", q: mustQ(signedPlain(string(good), "soon")), body: good, status: 401},
		{name: "ciphertext for another app", q: q1(signedSafe(rawEncrypt(t, good, "wxsomeoneelse", -1), ts)), body: b1(signedSafe(rawEncrypt(t, good, "wxsomeoneelse", -1), ts)), status: 401},
		{name: "pad 0", q: q1(signedSafe(rawEncrypt(t, good, testAppID, 0), ts)), body: b1(signedSafe(rawEncrypt(t, good, testAppID, 0), ts)), status: 400},
		{name: "pad 33", q: q1(signedSafe(rawEncrypt(t, good, testAppID, 33), ts)), body: b1(signedSafe(rawEncrypt(t, good, testAppID, 33), ts)), status: 400},
		{name: "truncated ciphertext", q: q1(signedSafe(rawEncrypt(t, good, testAppID, -1)[:40], ts)), body: b1(signedSafe(rawEncrypt(t, good, testAppID, -1)[:40], ts)), status: 400},
		{name: "not base64", q: q1(signedSafe("!!!not*base64!!!", ts)), body: b1(signedSafe("!!!not*base64!!!", ts)), status: 400},
		{name: "malformed xml", q: mustQ(signedPlain("<xml><MsgType>text</xml>", ts)), body: []byte("<xml><MsgType>text</xml>"), status: 400},
		{name: "malformed json", q: mustQ(signedPlain(`{"MsgType":"text",`, ts)), body: []byte(`{"MsgType":"text",`), status: 400},
		{name: "over the structure limits", q: mustQ(signedPlain(overLimits, ts)), body: []byte(overLimits), status: 400},
		{name: "neither xml nor json", q: mustQ(signedPlain("hello", ts)), body: []byte("hello"), status: 400},
		{name: "no MsgType", q: mustQ(signedPlain(`{"FromUserName":"oU"}`, ts)), body: []byte(`{"FromUserName":"oU"}`), status: 400},
		{name: "openid with a dot", q: mustQ(signedPlain(`{"FromUserName":"o.U","MsgType":"text","Content":"x","MsgId":1}`, ts)), body: []byte(`{"FromUserName":"o.U","MsgType":"text","Content":"x","MsgId":1}`), status: 400},
		{name: "event name with a wildcard", q: mustQ(signedPlain(`{"FromUserName":"oU","MsgType":"event","Event":"a*"}`, ts)), body: []byte(`{"FromUserName":"oU","MsgType":"event","Event":"a*"}`), status: 400},
		{name: "oversize body", q: mustQ(signedPlain(string(good), ts)), body: append(good, bytes.Repeat([]byte(" "), 5000)...), status: 413},
		{name: "encrypt_type aes without Encrypt", q: with(with(mustQ(signedPlain(string(good), ts)), "encrypt_type", "aes"), "msg_signature", strings.Repeat("c", 40)), body: good, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appid := tt.appid
			if appid == "" {
				appid = testAppID
			}
			status, answer := e.do(t, http.MethodPost, appid, tt.q, tt.body)
			if status != tt.status {
				t.Errorf("status = %d (%q), want %d", status, answer, tt.status)
			}
			if got := e.count(t); got != 0 {
				t.Fatalf("a bad request was published (%d events)", got)
			}
		})
	}
	// The process is unharmed: the valid push still goes through.
	if status, answer := e.do(t, http.MethodPost, testAppID, validQ, validBody); status != 200 || answer != "success" {
		t.Fatalf("valid push after the bad ones = %d %q", status, answer)
	}
	if got := e.count(t); got != 1 {
		t.Fatalf("stream holds %d events, want 1", got)
	}
}

func with(q url.Values, k, v string) url.Values {
	c := url.Values{}
	for key, vals := range q {
		c[key] = append([]string(nil), vals...)
	}
	c.Set(k, v)
	return c
}

func mustQ(q url.Values, _ []byte) url.Values { return q }
func q1(q url.Values, _ []byte) url.Values    { return q }
func b1(_ url.Values, b []byte) []byte        { return b }
