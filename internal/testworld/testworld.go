// Package testworld is the one test world of kfbridge's package tests: a
// real JetStream server with a connection to it, a WeChat API handler (the
// simulator of internal/wxsim) served over HTTP with a client for it, the
// egress settings tests use, the parts the bridge shares between the egress
// and the management service, a runner for a part's Run(ctx) method, and
// HTTP requests that read the whole answer ([Do], [Get]).
//
// It imports neither the simulator nor the parts it serves (the callers
// pass them in), so the tests of internal/wxsim, internal/egress and
// internal/manage use it from inside their packages. A whole bridge, as
// bridge.Run starts it, is internal/bridge/bridgetest.
//
// # Concurrency
//
// Every function starts its own servers on free loopback ports and
// registers their shutdown with t.Cleanup; tests may run in parallel.
//
// # Errors
//
// Failures end the test with t.Fatal.
package testworld

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// NATS is a running JetStream server and a connection to it.
type NATS struct {
	Server *server.Server
	// URL is the server's client URL.
	URL string
	NC  *nats.Conn
	JS  jetstream.JetStream
}

// StartNATS starts a JetStream server storing in a temporary directory
// and connects to it, both until the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s)
	return &NATS{Server: s, URL: s.ClientURL(), NC: nc, JS: js}
}

// API is a WeChat API handler served over HTTP, with a client for it.
type API struct {
	// URL is the server's base URL, the egress's api_base.
	URL string
	// Client calls the API at URL.
	Client *wxapi.Client
	// HTTP is an HTTP client for raw requests to URL.
	HTTP *http.Client
}

// ServeAPI serves h (a wxsim.Sim's Handler) until the test ends; opts
// configure the client.
func ServeAPI(t testing.TB, h http.Handler, opts ...wxapi.Option) *API {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := wxapi.New(srv.URL, opts...)
	if err != nil {
		t.Fatalf("wxapi.New(%s): %v", srv.URL, err)
	}
	return &API{URL: srv.URL, Client: c, HTTP: srv.Client()}
}

// StableToken returns a usable stable access token of appid.
func (a *API) StableToken(t testing.TB, appid, secret string) string {
	t.Helper()
	tok, err := a.Client.StableToken(t.Context(), appid, secret, false)
	if err != nil {
		t.Fatalf("StableToken(%s): %v", appid, err)
	}
	return tok.AccessToken
}

// Egress returns the egress settings of tests against the API at apiBase
// with the given number of partitions: short call timeouts, retries and
// budgets, so that failure paths finish quickly, and media fetched from
// loopback (the tests' image servers).
func Egress(apiBase string, partitions int) config.Egress {
	cfg := config.Default().Egress
	cfg.APIBase = apiBase
	cfg.Partitions = partitions
	cfg.AckWait = 3 * time.Second
	cfg.CallTimeout = 2 * time.Second
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	cfg.RetryBudget = 3 * time.Second
	cfg.MediaFetch.Allow = []string{"127.0.0.1"}
	return cfg
}

// NewShared builds the WeChat parts the bridge shares between the egress
// and the management service, as a process builds them ([wechat.New]):
// the token bucket and media store in memory on js, tokens for the apps in
// secrets (appid → AppSecret) from the API at apiBase, and image downloads
// from public addresses only.
func NewShared(t testing.TB, js jetstream.JetStream, apiBase string, secrets map[string]string) *wechat.Parts {
	t.Helper()
	cfg := Egress(apiBase, 1)
	cfg.MediaFetch.Allow = nil
	streams := config.Default().NATS.Streams
	streams.Storage = "memory"
	var apps []config.App
	for id, secret := range secrets {
		apps = append(apps, config.App{AppID: id, Secret: config.Secret(secret)})
	}
	wx, err := wechat.New(t.Context(), wechat.Config{JS: js, Egress: cfg, Streams: streams, Apps: apps})
	if err != nil {
		t.Fatalf("wechat.New: %v", err)
	}
	return wx
}

// Run runs run (a part's Run method) until stop is called or the test
// ends, and reports an error it returns as a test error. stop waits for
// run to return; calling it again does nothing.
func Run(t testing.TB, name string, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: Run() = %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Send sends msg (a send call's JSON body without touser) to openid in
// conversation bid with a fresh stable token of appid, and returns the
// errcode ([Code]).
func (a *API) Send(t testing.TB, appid, secret, bid, openid, msg string) int {
	t.Helper()
	tok := a.StableToken(t, appid, secret)
	return Code(t, a.Client.Send(t.Context(), tok, wxapi.SendRequest{ToUser: openid, BusinessID: bid, Message: json.RawMessage(msg)}))
}

// Do sends a method request with body to url over c (a plain
// [http.Client] when nil), for as long as the test runs, and returns the
// answer's status, header and whole body. A contentType of "" sets none.
func Do(t testing.TB, c *http.Client, method, url, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	if c == nil {
		c = &http.Client{}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// Get returns the body of a GET of url, which must answer status.
func Get(t testing.TB, url string, status int) string {
	t.Helper()
	got, _, body := Do(t, nil, http.MethodGet, url, "", nil)
	if got != status {
		t.Fatalf("GET %s = %d %s, want %d", url, got, body, status)
	}
	return string(body)
}

// Code returns the errcode of an error of a wxapi call: 0 for nil, the
// code of a [*wxapi.APIError]; anything else fails the test.
func Code(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var api *wxapi.APIError
	if !errors.As(err, &api) {
		t.Fatalf("not an API error: %v", err)
	}
	return api.Code
}
