package wxpush

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// testSim is a [wxsim.Sim] of the demo app served by an httptest server,
// with a wxapi client: what the push side's recorder talks to.
type testSim struct {
	*wxsim.Sim
	srv    *httptest.Server
	client *wxapi.Client
}

// newTestSim starts a simulator on a fixed clock and closes it when the
// test ends.
func newTestSim(tb testing.TB) *testSim {
	tb.Helper()
	t0 := time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC)
	sim, err := wxsim.NewSim(wxsim.SimConfig{Now: func() time.Time { return t0 }})
	if err != nil {
		tb.Fatalf("NewSim: %v", err)
	}
	srv := httptest.NewServer(sim.Handler())
	tb.Cleanup(srv.Close)
	c, err := wxapi.New(srv.URL)
	if err != nil {
		tb.Fatalf("wxapi.New: %v", err)
	}
	return &testSim{Sim: sim, srv: srv, client: c}
}

// token returns a usable stable token of the demo app.
func (ts *testSim) token(tb testing.TB) string {
	tb.Helper()
	tok, err := ts.client.StableToken(tb.Context(), demo.AppID, demo.Secret, false)
	if err != nil {
		tb.Fatalf("StableToken: %v", err)
	}
	return tok.AccessToken
}

// send sends msg to openid in conversation bid and returns the errcode
// (0 on success).
func (ts *testSim) send(tb testing.TB, bid, openid, msg string) int {
	tb.Helper()
	err := ts.client.Send(tb.Context(), ts.token(tb), wxapi.SendRequest{ToUser: openid, BusinessID: bid, Message: json.RawMessage(msg)})
	if err == nil {
		return 0
	}
	var api *wxapi.APIError
	if !errors.As(err, &api) {
		tb.Fatalf("send: not an API error: %v", err)
	}
	return api.Code
}
