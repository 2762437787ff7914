package manage

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/schemas"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "test-secret"
)

// env is a management test world: a real embedded JetStream server, the
// WeChat simulator over HTTP, the token bucket, the media object store,
// and a running [Service].
type env struct {
	t         testing.TB
	nc        *nats.Conn
	js        jetstream.JetStream
	sim       *wxsim.Sim
	simURL    string
	api       *wxapi.Client
	tokens    *token.Manager
	store     jetstream.ObjectStore
	fetcher   *mediafetch.Fetcher
	client    *Client
	validator *schemas.Validator
}

func newEnv(t testing.TB, tune func(*Config)) *env {
	t.Helper()
	n := testworld.StartNATS(t)
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	api := testworld.ServeAPI(t, sim.Handler())
	sh := testworld.NewShared(t, n.JS, api.URL, map[string]string{appID: secret})
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, nc: n.NC, js: n.JS, sim: sim, simURL: api.URL, api: sh.API, tokens: sh.Tokens, store: sh.Media, fetcher: sh.Fetcher, client: NewClient(n.NC), validator: v}
	e.start(n.NC, tune)
	return e
}

// start runs one more Service on nc (a replica) until the test ends.
func (e *env) start(nc *nats.Conn, tune func(*Config)) {
	e.t.Helper()
	cfg := Config{Conn: nc, API: e.api, Tokens: e.tokens, Store: e.store, Fetcher: e.fetcher, Apps: []string{appID}}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	testworld.Run(e.t, "manage", svc.Run)
	// Ready: the server holds every endpoint's subscription (the probe
	// below alone proves only that kf.list's is there).
	natstest.WaitFor(e.t, "the management service's endpoints", func() bool { return svc.Ready(e.t.Context()) == nil })
	waitServing(e.t, nc)
}

// waitServing waits until a service on nc answers (an unknown app is
// refused at once).
func waitServing(t testing.TB, nc *nats.Conn) {
	t.Helper()
	c := NewClient(nc)
	natstest.WaitFor(t, "the management service", func() bool {
		_, err := c.Request(t.Context(), "wxnoapp", OpKFList, nil)
		return errors.Is(err, &Error{Code: CodeUnknownApp})
	})
}

// calls counts every API call the simulator answered.
func (e *env) calls() int {
	n := 0
	for _, codes := range e.sim.Calls().Calls {
		for _, c := range codes {
			n += c
		}
	}
	return n
}

// ok sends a request that must succeed, checks the reply against its
// schema and returns it decoded.
func (e *env) ok(op string, req any) map[string]any {
	e.t.Helper()
	raw, err := e.client.Request(e.t.Context(), appID, op, req)
	if err != nil {
		e.t.Fatalf("%s %v: %v", op, req, err)
	}
	if err := e.validator.Validate(ReplySchema(op), raw); err != nil {
		e.t.Errorf("%s reply %s: %v", op, raw, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// fail sends a request that must fail, checks the error body against its
// schema and the header code against the body, and returns the error.
func (e *env) fail(op string, req any) *Error {
	e.t.Helper()
	raw, err := e.client.Request(e.t.Context(), appID, op, req)
	var me *Error
	if !errors.As(err, &me) {
		e.t.Fatalf("%s %v = %s, %v; want an *Error", op, req, raw, err)
	}
	if verr := e.validator.Validate(schemas.APIErrorReply, raw); verr != nil {
		e.t.Errorf("%s error reply %s: %v", op, raw, verr)
	}
	if me.Description == "" || me.Msg == "" {
		e.t.Errorf("%s: error without description or errmsg: %+v", op, me)
	}
	return me
}

// wantCode checks that a request fails with code.
func (e *env) wantCode(op string, req any, code int) *Error {
	e.t.Helper()
	me := e.fail(op, req)
	if me.Code != code {
		e.t.Errorf("%s %v: errcode %d (%s), want %d", op, req, me.Code, me.Description, code)
	}
	return me
}

// icon uploads the placeholder image through the service and returns its
// media id.
func (e *env) icon() string {
	e.t.Helper()
	m := e.ok(OpMediaUpload, map[string]any{"data": base64.StdEncoding.EncodeToString(wxsim.PlaceholderImage())})
	id, _ := m["media_id"].(string)
	if id == "" {
		e.t.Fatalf("media.upload = %v", m)
	}
	return id
}
