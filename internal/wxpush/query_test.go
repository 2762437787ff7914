package wxpush

import (
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

func TestQuery(t *testing.T) {
	safe := wxcodec.Query{
		Signature: "6c5c81", Timestamp: "1714112445", Nonce: "415670741",
		OpenID: "oUser+1/=", EncryptType: "aes", MsgSignature: "046e02",
	}
	tests := []struct {
		name   string
		q      wxcodec.Query
		encode string
	}{
		{
			name:   "plaintext",
			q:      wxcodec.Query{Signature: "f464b2", Timestamp: "1714036504", Nonce: "1514711492"},
			encode: "signature=f464b2&timestamp=1714036504&nonce=1514711492",
		},
		{
			name:   "safe, in WeChat's order, escaped",
			q:      safe,
			encode: "signature=6c5c81&timestamp=1714112445&nonce=415670741&openid=oUser%2B1%2F%3D&encrypt_type=aes&msg_signature=046e02",
		},
		{
			name:   "verification",
			q:      wxcodec.Query{Signature: "s", Timestamp: "1", Nonce: "2", EchoStr: "echo me"},
			encode: "signature=s&timestamp=1&nonce=2&echostr=echo+me",
		},
		{name: "empty", q: wxcodec.Query{}, encode: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodeQuery(tt.q); got != tt.encode {
				t.Errorf("EncodeQuery(%+v) = %q, want %q", tt.q, got, tt.encode)
			}
			v := QueryValues(tt.q)
			if got := wxcodec.ParseQuery(v); got != tt.q {
				t.Errorf("ParseQuery(QueryValues(%+v)) = %+v", tt.q, got)
			}
			for name, vals := range v {
				if len(vals) != 1 || vals[0] == "" {
					t.Errorf("QueryValues(%+v)[%q] = %q, want one non-empty value", tt.q, name, vals)
				}
			}
			parsed, err := url.ParseQuery(tt.encode)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(v, parsed, cmp.Comparer(func(a, b url.Values) bool { return a.Encode() == b.Encode() })); diff != "" {
				t.Errorf("EncodeQuery and QueryValues disagree:\n%s", diff)
			}
		})
	}
}

func TestPushURL(t *testing.T) {
	q := wxcodec.Query{Signature: "s", Timestamp: "1", Nonce: "2"}
	tests := []struct {
		name, base, want string
		err              error
	}{
		{"host only", "http://127.0.0.1:8080", "http://127.0.0.1:8080/wx/wxapp?signature=s&timestamp=1&nonce=2", nil},
		{"trailing slash", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/wx/wxapp?signature=s&timestamp=1&nonce=2", nil},
		{"behind a path", "https://example.com/kf/", "https://example.com/kf/wx/wxapp?signature=s&timestamp=1&nonce=2", nil},
		{"no scheme", "127.0.0.1:8080", "", ErrInvalid},
		{"query", "http://h/?x=1", "", ErrInvalid},
		{"empty", "", "", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PushURL(tt.base, "wxapp", q)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("PushURL(%q) = %q, %v, want %q, %v", tt.base, got, err, tt.want, tt.err)
			}
		})
	}
}
