package wxpush

import (
	"net/url"
	"strings"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// queryParams lists the query parameters in the order WeChat sends them,
// with a getter each.
var queryParams = [...]struct {
	name string
	get  func(*wxcodec.Query) string
}{
	{"signature", func(q *wxcodec.Query) string { return q.Signature }},
	{"timestamp", func(q *wxcodec.Query) string { return q.Timestamp }},
	{"nonce", func(q *wxcodec.Query) string { return q.Nonce }},
	{"echostr", func(q *wxcodec.Query) string { return q.EchoStr }},
	{"openid", func(q *wxcodec.Query) string { return q.OpenID }},
	{"encrypt_type", func(q *wxcodec.Query) string { return q.EncryptType }},
	{"msg_signature", func(q *wxcodec.Query) string { return q.MsgSignature }},
}

// QueryValues returns q as URL query values (signature, timestamp, nonce,
// echostr, openid, encrypt_type, msg_signature), leaving out the empty
// ones. [wxcodec.ParseQuery] reverses it.
func QueryValues(q wxcodec.Query) url.Values {
	v := make(url.Values, len(queryParams))
	for _, p := range queryParams {
		if s := p.get(&q); s != "" {
			v.Set(p.name, s)
		}
	}
	return v
}

// EncodeQuery returns q as an encoded query string (without "?") with the
// parameters in the order WeChat sends them, leaving out the empty ones.
func EncodeQuery(q wxcodec.Query) string {
	var b strings.Builder
	for _, p := range queryParams {
		s := p.get(&q)
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(s))
	}
	return b.String()
}

// PushURL returns the URL WeChat posts a push for appID to: base (the
// ingress's base URL, for example http://127.0.0.1:8080) joined with
// /wx/<appID>, and q as its query ([EncodeQuery]). It returns an error
// wrapping [ErrInvalid] when base is not an absolute http(s) URL without
// query.
func PushURL(base, appID string, q wxcodec.Query) (string, error) {
	u, err := pushEndpoint(base, appID)
	if err != nil {
		return "", err
	}
	u.RawQuery = EncodeQuery(q)
	return u.String(), nil
}

// pushEndpoint returns base joined with /wx/<appID>.
func pushEndpoint(base, appID string) (*url.URL, error) {
	if err := checkURL("url", base); err != nil {
		return nil, err
	}
	u, _ := url.Parse(base) // checked above
	// Not JoinPath: it leaves the path relative when base has none.
	u.Path = strings.TrimSuffix(u.Path, "/") + "/wx/" + appID
	u.RawPath = ""
	return u, nil
}
