package wxsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// Push kinds as wxpush.Spec.Kind names them (wxsim does not import the
// push side).
const (
	kindText             = "text"
	kindImage            = "image"
	kindMiniProgramPage  = "miniprogrampage"
	kindEnterTempSession = "user_enter_tempsession"
)

// simT0 is the base clock of test simulators: 10:00 Beijing time, so that
// a few hours of Advance stay within one quota day.
var simT0 = time.Date(2025, 3, 14, 10, 0, 0, 0, beijing)

// testSim is a [Sim] served over HTTP, with a wxapi client.
type testSim struct {
	*Sim
	srv    *testworld.API
	client *wxapi.Client
}

// newTestSim starts a Sim with cfg on the fixed clock simT0 (unless cfg
// sets Now) and closes it when the test ends.
func newTestSim(tb testing.TB, cfg SimConfig) *testSim {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return simT0 }
	}
	sim, err := NewSim(cfg)
	if err != nil {
		tb.Fatalf("NewSim: %v", err)
	}
	srv := testworld.ServeAPI(tb, sim.Handler())
	return &testSim{Sim: sim, srv: srv, client: srv.Client}
}

// token returns a usable stable token of the demo app.
func (ts *testSim) token(tb testing.TB) string {
	tb.Helper()
	return ts.srv.StableToken(tb, demo.AppID, demo.Secret)
}

// send sends msg to openid in conversation bid with a fresh token and
// returns the errcode (0 on success).
func (ts *testSim) send(tb testing.TB, bid, openid, msg string) int {
	tb.Helper()
	return codeOf(tb, ts.client.Send(tb.Context(), ts.token(tb), sendReq(openid, bid, msg)))
}

// typing posts a typing command with a fresh token and returns the
// errcode.
func (ts *testSim) typing(tb testing.TB, bid, openid, command string) int {
	tb.Helper()
	return codeOf(tb, ts.client.Typing(tb.Context(), ts.token(tb), openid, bid, command))
}

// raw sends a raw request to pathQuery (the path with the query) and
// returns the answer's status, header and body.
func (ts *testSim) raw(tb testing.TB, method, pathQuery, contentType string, body []byte) (int, http.Header, []byte) {
	tb.Helper()
	return testworld.Do(tb, ts.srv.HTTP, method, ts.srv.URL+pathQuery, contentType, body)
}

// rawCode sends a raw request and returns the errcode of its JSON answer.
func (ts *testSim) rawCode(tb testing.TB, method, pathQuery string, body string) int {
	tb.Helper()
	status, _, b := ts.raw(tb, method, pathQuery, "application/json", []byte(body))
	if status != http.StatusOK {
		tb.Fatalf("%s %s: HTTP %d %s", method, pathQuery, status, b)
	}
	var a struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		tb.Fatalf("%s %s: answer %q: %v", method, pathQuery, b, err)
	}
	if a.ErrCode == nil {
		return 0
	}
	if *a.ErrCode != 0 && !strings.Contains(a.ErrMsg, " rid: ") {
		tb.Errorf("%s %s: errmsg %q has no rid", method, pathQuery, a.ErrMsg)
	}
	return *a.ErrCode
}

// probe returns the errcode a token gets from an API call that checks it
// and then fails for want of media_id (41006 means the token is usable).
func (ts *testSim) probe(tb testing.TB, token string) int {
	tb.Helper()
	return ts.rawCode(tb, http.MethodGet, "/cgi-bin/media/get?access_token="+token, "")
}

// codeOf returns the errcode of a wxapi error: 0 for nil, the code of an
// APIError; anything else fails the test.
func codeOf(tb testing.TB, err error) int {
	tb.Helper()
	if err == nil {
		return 0
	}
	code := testworld.Code(tb, err)
	if api := (*wxapi.APIError)(nil); errors.As(err, &api) && !strings.Contains(api.Msg, " rid: ") {
		tb.Errorf("errmsg %q has no rid", api.Msg)
	}
	return code
}

// newRecorder returns an httptest recorder.
func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// newRequest returns a server request for calling a handler directly.
func newRequest(tb testing.TB, method, target, body string) *http.Request {
	tb.Helper()
	r := httptest.NewRequestWithContext(tb.Context(), method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// sendReq returns a wxapi send request.
func sendReq(openid, bid, msg string) wxapi.SendRequest {
	return wxapi.SendRequest{ToUser: openid, BusinessID: bid, Message: json.RawMessage(msg)}
}
