package wxapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// TestErrorsCarryNoSecret: whatever goes wrong — connection refused, reset
// before or after the request was written, a timeout, an error page that
// echoes the request, a non-JSON 200 — no error of any call names the
// access token or the app secret.
func TestErrorsCarryNoSecret(t *testing.T) {
	// Tokens as long as WeChat's, so that a 200-byte excerpt of an error
	// page would cut one.
	tok := "86_" + strings.Repeat("TOKEN-abcdefghijklmnopqrstuvwxyz0123456789", 3)
	fresh := "86_" + strings.Repeat("FRESH-abcdefghijklmnopqrstuvwxyz0123456789", 3)
	const secret = "0123456789abcdef0123456789abcdef"
	// echo answers with the request URI and body in its text, as a
	// proxy's error page may.
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(status)
			io.WriteString(w, "cannot reach "+r.URL.String()+" with "+string(body))
		}
	}
	hangUp := func(read bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if read {
				io.ReadAll(r.Body)
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0) // a reset, not a clean close
				}
				conn.Close()
			}
		}
	}
	servers := map[string]http.Handler{
		"error page 502":    echo(http.StatusBadGateway),
		"error page 200":    echo(http.StatusOK),
		"reset before read": hangUp(false),
		"reset after write": hangUp(true),
		"timeout":           http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body); <-r.Context().Done() }),
		"errmsg echoes": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"errcode":40001,"errmsg":"invalid credential `+r.URL.RawQuery+`"}`)
		}),
		"connection refused": nil,
		"answer cut short": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"access_token":"`+fresh) // a new token, in a body that is not JSON
		}),
	}
	for name, h := range servers {
		t.Run(name, func(t *testing.T) {
			base := refusedURL(t)
			if h != nil {
				hs := httptest.NewServer(h)
				t.Cleanup(hs.Close)
				base = hs.URL
			}
			c, err := wxapi.New(base, wxapi.WithTimeout(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			calls := map[string]func() error{
				"StableToken":  func() error { _, err := c.StableToken(ctx, "wxapp", secret, false); return err },
				"ClassicToken": func() error { _, err := c.ClassicToken(ctx, "wxapp", secret); return err },
				"Send": func() error {
					return c.Send(ctx, tok, wxapi.SendRequest{ToUser: "o", BusinessID: "7", Message: []byte(`{"msgtype":"text","text":{"content":"x"}}`)})
				},
				"Typing":      func() error { return c.Typing(ctx, tok, "o", "0", "Typing") },
				"UploadImage": func() error { _, err := c.UploadImage(ctx, tok, "a.png", "image/png", []byte("png")); return err },
				"GetMedia":    func() error { _, _, err := c.GetMedia(ctx, tok, "M", 1<<20); return err },
				"Call": func() error {
					_, err := c.Call(ctx, tok, http.MethodGet, "/cgi-bin/kf/getkflist", url.Values{"x": {"1"}}, nil)
					return err
				},
			}
			for call, f := range calls {
				err := f()
				if err == nil {
					t.Errorf("%s: no error", call)
					continue
				}
				secrets := []string{tok, secret, tok[:40]}
				if strings.HasSuffix(call, "Token") { // its answer holds a new one
					secrets = append(secrets, fresh[:40])
				}
				for _, s := range secrets {
					if msg := err.Error(); strings.Contains(msg, s) {
						t.Errorf("%s: error %q carries a secret", call, msg)
					}
				}
				var ue *url.Error
				if errors.As(err, &ue) && strings.Contains(ue.URL, "?") {
					t.Errorf("%s: wrapped url.Error keeps the query: %q", call, ue.URL)
				}
			}
		})
	}
}

// refusedURL returns the URL of a port nobody listens on.
func refusedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestRedactKeepsClass: redaction keeps what callers act on — the class,
// Written, and errors.Is of the cause.
func TestRedactKeepsClass(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		<-r.Context().Done() // no answer: the client gives up after 100 ms
	}))
	t.Cleanup(hs.Close)
	c, err := wxapi.New(hs.URL, wxapi.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Typing(t.Context(), "86_SECRET_TOKEN", "o", "0", "Typing")
	if wxapi.ClassOf(err) != wxapi.ClassMaybeDelivered || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Typing = %v (class %v), want maybe_delivered wrapping DeadlineExceeded", err, wxapi.ClassOf(err))
	}
}
