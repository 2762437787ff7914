package wxapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// redacted replaces a secret in an error's text.
const redacted = "REDACTED"

// secrets names what must never appear in an error about one request:
// the access token and the app secret in its query, and extra (secrets
// sent in the body). The query is read only when an error needs it, so a
// call that succeeds parses no query.
type secrets struct {
	req   *http.Request
	extra []string
}

// list returns the secrets.
func (s secrets) list() []string {
	q := s.req.URL.Query()
	out := append([]string(nil), s.extra...)
	for _, k := range []string{"access_token", "secret"} {
		out = append(out, q[k]...)
	}
	return out
}

// redact returns err without secrets: a *url.Error's URL loses its query
// (where WeChat's API takes access_token, and /cgi-bin/token the app
// secret), and any text that still holds one of secrets — a proxy's error
// page echoing the request, say — has it replaced. Every error leaving this
// package passes through here.
func redact(err error, s secrets) error {
	if err == nil {
		return nil
	}
	secrets := s.list()
	var api *APIError
	if errors.As(err, &api) {
		if msg := scrub(api.Msg, secrets); msg != api.Msg {
			c := *api
			c.Msg = msg
			return &c
		}
		return err
	}
	var tr *TransportError
	if errors.As(err, &tr) {
		c := *tr
		c.Err = redactCause(tr.Err, secrets)
		return &c
	}
	return redactCause(err, secrets)
}

// redactCause strips the query from a *url.Error and, when the text still
// carries a secret, replaces the error by its scrubbed text (the chain is
// dropped: it holds the secret).
func redactCause(err error, secrets []string) error {
	if ue, ok := err.(*url.Error); ok {
		err = &url.Error{Op: ue.Op, URL: stripQuery(ue.URL), Err: ue.Err}
	}
	msg := err.Error()
	clean := scrub(msg, secrets)
	switch {
	case clean == msg:
		return err
	case errors.Is(err, ErrBadResponse):
		return fmt.Errorf("%w%s", ErrBadResponse, strings.TrimPrefix(clean, ErrBadResponse.Error()))
	}
	return errors.New(clean)
}

// stripQuery drops the query and user info of a URL.
func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	return u.String()
}

// scrub replaces every non-empty secret in s, also in its query-escaped
// form.
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if v == "" {
			continue
		}
		s = strings.ReplaceAll(s, v, redacted)
		if e := url.QueryEscape(v); e != v {
			s = strings.ReplaceAll(s, e, redacted)
		}
	}
	return s
}

// excerpt quotes the start of an unexpected answer for an error, with
// secrets replaced before it is cut (a cut must not leave part of one). An
// answer of the token endpoints is never quoted: it may hold a new token.
func excerpt(op string, body []byte, s secrets) string {
	if op == "stable_token" || op == "token" {
		return fmt.Sprintf("%d bytes", len(body))
	}
	return fmt.Sprintf("%.200q", scrub(string(body), s.list()))
}
