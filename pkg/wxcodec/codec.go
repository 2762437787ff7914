package wxcodec

import (
	"fmt"
	"net/url"
)

// Query holds the URL query parameters WeChat sends with a push or a URL
// verification request.
type Query struct {
	Signature    string // signature
	Timestamp    string // timestamp
	Nonce        string // nonce
	EchoStr      string // echostr (GET verification only)
	OpenID       string // openid (encrypted pushes)
	EncryptType  string // encrypt_type: "aes" when encrypted
	MsgSignature string // msg_signature (encrypted pushes)
}

// ParseQuery extracts the WeChat parameters from v (missing ones are "").
func ParseQuery(v url.Values) Query {
	return Query{
		Signature:    v.Get("signature"),
		Timestamp:    v.Get("timestamp"),
		Nonce:        v.Get("nonce"),
		EchoStr:      v.Get("echostr"),
		OpenID:       v.Get("openid"),
		EncryptType:  v.Get("encrypt_type"),
		MsgSignature: v.Get("msg_signature"),
	}
}

// Values returns q as URL query values, omitting empty parameters; it is
// the inverse of [ParseQuery].
func (q Query) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("signature", q.Signature)
	set("timestamp", q.Timestamp)
	set("nonce", q.Nonce)
	set("echostr", q.EchoStr)
	set("openid", q.OpenID)
	set("encrypt_type", q.EncryptType)
	set("msg_signature", q.MsgSignature)
	return v
}

// Codec verifies, decrypts and decodes the pushes of one mini program and
// encodes its replies. A Codec is immutable and safe for concurrent use.
type Codec struct {
	appID string
	token string
	key   *Key // nil when no EncodingAESKey is configured
}

// New returns a [Codec] for the mini program appID with the push Token
// token and the EncodingAESKey encodingAESKey. encodingAESKey may be ""
// (plaintext mode only; encrypted pushes then fail with [ErrNoKey]). appID
// and token are required. Errors wrap [ErrConfig] or [ErrKey] and never
// contain the token or key.
func New(appID, token, encodingAESKey string) (*Codec, error) {
	if appID == "" {
		return nil, fmt.Errorf("%w: appid is required", ErrConfig)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: token is required", ErrConfig)
	}
	c := &Codec{appID: appID, token: token}
	if encodingAESKey != "" {
		k, err := ParseKey(encodingAESKey)
		if err != nil {
			return nil, err
		}
		c.key = k
	}
	return c, nil
}

// AppID returns the mini program AppID the codec was created with.
func (c *Codec) AppID() string { return c.appID }

// VerifyURL checks a GET push-URL verification request and returns the
// body to answer: the echostr verbatim when the 3-part signature is valid.
//
// As a defensive extra (WeCom style, not used by mini programs), when the
// 3-part signature fails but q.MsgSignature is set and the codec has a key,
// VerifyURL checks the 4-part signature over echostr, decrypts it, requires
// the receiveid to equal the AppID and returns the decrypted echostr.
//
// Errors wrap [ErrSignature], [ErrAppID], the decryption errors of
// [Key.Decrypt], or are a [*FieldError] when echostr is missing.
func (c *Codec) VerifyURL(q Query) (string, error) {
	if q.EchoStr == "" {
		return "", &FieldError{Field: "echostr", Err: ErrMissingField}
	}
	if equalHex(signature3(c.token, q.Timestamp, q.Nonce), q.Signature) {
		return q.EchoStr, nil
	}
	if q.MsgSignature == "" || c.key == nil {
		return "", fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	if !equalHex(signature4(c.token, q.Timestamp, q.Nonce, q.EchoStr), q.MsgSignature) {
		return "", fmt.Errorf("%w: msg_signature does not match", ErrSignature)
	}
	msg, rid, err := c.key.decrypt(q.EchoStr)
	if err != nil {
		return "", fmt.Errorf("decrypt echostr: %w", err)
	}
	if string(rid) != c.appID {
		return "", fmt.Errorf("%w: echostr receiveid is not the configured appid", ErrAppID)
	}
	return string(msg), nil
}
