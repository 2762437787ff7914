package wxapi

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestSecretsOfReadsTheQueryAsParseQuery: the secrets found in a request's
// query are the values url.ParseQuery gives, whatever the query holds.
func TestSecretsOfReadsTheQueryAsParseQuery(t *testing.T) {
	for _, q := range []string{"", "access_token=T", "a=1&access_token=T%2B%26x&secret=S+s&access_token=U",
		"access%5Ftoken=T", "access_token=T;x&secret=S", "access_token=%zz&secret=S", "&&access_token&=x&secret=",
		"access_token=T=1", "secret=%E4%B8%AD&x=%"} {
		req, err := http.NewRequest(http.MethodGet, "http://api.invalid/cgi-bin/x?"+q, nil)
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ := url.ParseQuery(q)
		want := append(append([]string{"extra"}, parsed["access_token"]...), parsed["secret"]...)
		if got := secretsOf(req, "extra"); !slices.Equal(got, want) {
			t.Errorf("query %q: secrets %q, want %q", q, got, want)
		}
	}
}
