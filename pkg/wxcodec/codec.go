package wxcodec

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
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

// queryParams names the WeChat query parameters, in the order of
// [Query.fields].
var queryParams = [...]string{"signature", "timestamp", "nonce", "echostr", "openid", "encrypt_type", "msg_signature"}

// fields points at q's parameters, in the order of queryParams.
func (q *Query) fields() [len(queryParams)]*string {
	return [...]*string{&q.Signature, &q.Timestamp, &q.Nonce, &q.EchoStr, &q.OpenID, &q.EncryptType, &q.MsgSignature}
}

// ParseQuery extracts the WeChat parameters from v (missing ones are "").
func ParseQuery(v url.Values) Query {
	var q Query
	for i, f := range q.fields() {
		*f = v.Get(queryParams[i])
	}
	return q
}

// ParseRawQuery extracts the WeChat parameters from a raw URL query (the
// part after "?"). It gives the same Query as ParseQuery of the values
// url.ParseQuery finds: the first value of each parameter, pairs with a
// semicolon or a bad escape skipped, nothing at all past 10000 parameters.
// It builds no url.Values: a query without escapes costs no allocation.
func ParseRawQuery(raw string) Query {
	var q Query
	if strings.Count(raw, "&") >= maxQueryParams {
		return q
	}
	fields := q.fields()
	var seen uint8
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, ok := queryUnescape(k)
		if !ok {
			continue
		}
		i := slices.Index(queryParams[:], k)
		if i < 0 || seen&(1<<i) != 0 {
			continue
		}
		if v, ok = queryUnescape(v); ok {
			seen |= 1 << i
			*fields[i] = v
		}
	}
	return q
}

// maxQueryParams is net/url's default limit of query parameters.
const maxQueryParams = 10000

// queryUnescape is url.QueryUnescape that returns s itself when it has
// nothing to unescape.
func queryUnescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

// Values returns q as URL query values, omitting empty parameters; it is
// the inverse of [ParseQuery].
func (q Query) Values() url.Values {
	v := url.Values{}
	for i, f := range q.fields() {
		if *f != "" {
			v.Set(queryParams[i], *f)
		}
	}
	return v
}

// Codec verifies, decrypts and decodes the pushes of one mini program and
// encodes its replies. Its settings never change after [New]; it is safe
// for concurrent use.
type Codec struct {
	appID     string
	token     string
	key       *Key // nil when no EncodingAESKey is configured
	modes     modeSet
	prevToken string    // "" when no previous Token is configured
	prevKey   *Key      // nil when no previous EncodingAESKey is configured
	bufs      sync.Pool // *[]byte: decryption buffers of Decode
}

// New returns a [Codec] for the mini program appID with the push Token
// token and the EncodingAESKey encodingAESKey. encodingAESKey may be ""
// (plaintext mode only). appID and token are required. By default the
// codec accepts only the mode the key implies, safe with a key and
// plaintext without; see [WithModes] and, for a key rotation,
// [WithPrevious]. Errors wrap [ErrConfig] or [ErrKey] and never contain the
// token or key.
func New(appID, token, encodingAESKey string, opts ...Option) (*Codec, error) {
	if appID == "" {
		return nil, fmt.Errorf("%w: appid is required", ErrConfig)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: token is required", ErrConfig)
	}
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	c := &Codec{appID: appID, token: token, prevToken: o.prevToken}
	if encodingAESKey != "" {
		k, err := ParseKey(encodingAESKey)
		if err != nil {
			return nil, err
		}
		c.key = k
	}
	if o.prevKey != "" {
		if c.key == nil {
			return nil, fmt.Errorf("%w: a previous EncodingAESKey needs a current one", ErrConfig)
		}
		k, err := ParseKey(o.prevKey)
		if err != nil {
			return nil, fmt.Errorf("previous: %w", err)
		}
		c.prevKey = k
	}
	switch {
	case o.modes != nil:
		for _, m := range o.modes {
			if m != ModePlaintext && c.key == nil {
				return nil, fmt.Errorf("%w: %v mode needs an EncodingAESKey", ErrConfig, m)
			}
			c.modes |= 1 << m
		}
	case c.key != nil:
		c.modes = 1 << ModeSafe
	default:
		c.modes = 1 << ModePlaintext
	}
	return c, nil
}

// AppID returns the mini program AppID the codec was created with.
func (c *Codec) AppID() string { return c.appID }

// Accepts reports whether [Codec.Decode] accepts pushes in mode m.
func (c *Codec) Accepts(m Mode) bool { return m <= ModeSafe && c.modes.has(m) }

// VerifyURL checks a GET push-URL verification request and returns the
// body to answer: the echostr verbatim when the 3-part signature is valid
// with the token or, after a rotation, the previous token ([WithPrevious]).
// It does not depend on the accepted modes: WeChat verifies a URL the same
// way in every mode.
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
	if _, ok := c.verify3(&q); ok {
		return q.EchoStr, nil
	}
	if q.MsgSignature == "" || c.key == nil {
		return "", fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	if _, ok := c.verify4(&q, []byte(q.EchoStr)); !ok {
		return "", fmt.Errorf("%w: msg_signature does not match", ErrSignature)
	}
	msg, _, _, err := c.open(nil, []byte(q.EchoStr))
	if err != nil {
		return "", fmt.Errorf("echostr: %w", err)
	}
	return string(msg), nil
}

// verify3 checks the 3-part signature of q with the token, then with the
// previous token, and says which one matched.
func (c *Codec) verify3(q *Query) (Secrets, bool) {
	if equalHex(signature3(c.token, q.Timestamp, q.Nonce), q.Signature) {
		return 0, true
	}
	if c.prevToken != "" && equalHex(signature3(c.prevToken, q.Timestamp, q.Nonce), q.Signature) {
		return PreviousToken, true
	}
	return 0, false
}

// verify4 checks q.MsgSignature over encrypt with the token, then with the
// previous token, and says which one matched.
func (c *Codec) verify4(q *Query, encrypt []byte) (Secrets, bool) {
	if equalHex(signature4b(c.token, q.Timestamp, q.Nonce, encrypt), q.MsgSignature) {
		return 0, true
	}
	if c.prevToken != "" && equalHex(signature4b(c.prevToken, q.Timestamp, q.Nonce, encrypt), q.MsgSignature) {
		return PreviousToken, true
	}
	return 0, false
}

// open decrypts the Encrypt text encrypt in buf (grown as needed and
// returned) with the key, or, when that fails, with the previous key, and
// requires the receiveid to be the AppID. msg is a sub-slice of out. When
// both keys fail it returns the current key's error.
func (c *Codec) open(buf, encrypt []byte) (msg []byte, used Secrets, out []byte, err error) {
	msg, out, err = c.openWith(c.key, buf, encrypt)
	if err == nil || c.prevKey == nil {
		return msg, 0, out, err
	}
	msg, out, perr := c.openWith(c.prevKey, out, encrypt)
	if perr != nil {
		return nil, 0, out, err
	}
	return msg, PreviousKey, out, nil
}

func (c *Codec) openWith(k *Key, buf, encrypt []byte) (msg, out []byte, err error) {
	msg, rid, out, err := k.decryptInto(buf, encrypt)
	if err != nil {
		return nil, out, fmt.Errorf("decrypt: %w", err)
	}
	if string(rid) != c.appID {
		return nil, out, fmt.Errorf("%w: receiveid %q", ErrAppID, clip(rid, 64))
	}
	return msg, out, nil
}
