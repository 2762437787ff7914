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
	appID string
	token string
	key   *Key      // nil when no EncodingAESKey is configured
	bufs  sync.Pool // *[]byte: decryption buffers of Decode
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
