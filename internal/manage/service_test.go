package manage

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// TestInvalidRequests: bad requests are refused with a clear message and
// never reach WeChat (no API call at all, not even for a token).
func TestInvalidRequests(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat("a", 31)
	tests := []struct {
		name string
		op   string
		body string
		want string // part of the message
	}{
		{"not JSON", OpBusinessGet, `{`, "not JSON"},
		{"not an object", OpBusinessGet, `[1]`, "body"},
		{"short account_name", OpBusinessRegister, `{"account_name":"apple","nickname":"苹果","icon_media_id":"m"}`, "/account_name: want 6 to 30 characters"},
		{"long account_name", OpBusinessRegister, `{"account_name":"` + long + `","nickname":"苹果","icon_media_id":"m"}`, "/account_name"},
		{"account_name with dash", OpBusinessRegister, `{"account_name":"apple-shop","nickname":"苹果","icon_media_id":"m"}`, "/account_name"},
		{"nickname too narrow", OpBusinessRegister, `{"account_name":"apple_shop","nickname":"苹a","icon_media_id":"m"}`, "/nickname: is 3 wide, want 4 to 30"},
		{"nickname too wide", OpBusinessRegister, `{"account_name":"apple_shop","nickname":"` + strings.Repeat("苹", 15) + `a","icon_media_id":"m"}`, "/nickname: is 31 wide"},
		{"nickname with space", OpBusinessRegister, `{"account_name":"apple_shop","nickname":"ab cd","icon_media_id":"m"}`, "/nickname: want Chinese characters"},
		{"nickname fullwidth", OpBusinessRegister, `{"account_name":"apple_shop","nickname":"ＡＢＣＤ","icon_media_id":"m"}`, "/nickname"},
		{"no icon", OpBusinessRegister, `{"account_name":"apple_shop","nickname":"苹果"}`, "icon_media_id"},
		{"unknown field", OpBusinessRegister, `{"account_name":"apple_shop","nickname":"苹果","icon_media_id":"m","businessid":1}`, "businessid"},
		{"update without id", OpBusinessUpdate, `{"nickname":"苹果"}`, "business_id"},
		{"update id string", OpBusinessUpdate, `{"business_id":"1"}`, "/business_id"},
		{"update id 1.5", OpBusinessUpdate, `{"business_id":1.5}`, "/business_id"},
		{"update id 1.0", OpBusinessUpdate, `{"business_id":1.0}`, "/business_id: want int64"},
		{"update narrow nickname", OpBusinessUpdate, `{"business_id":1,"nickname":"苹"}`, "/nickname"},
		{"get both", OpBusinessGet, `{"business_id":1,"account_name":"apple_shop"}`, "want exactly one of: by business_id, by account_name"},
		{"get neither", OpBusinessGet, `{}`, "got none"},
		{"list count 201", OpBusinessList, `{"offset":0,"count":201}`, "/count"},
		{"list count 0", OpBusinessList, `{"offset":0,"count":0}`, "/count"},
		{"list offset -1", OpBusinessList, `{"offset":-1,"count":10}`, "/offset"},
		{"list without count", OpBusinessList, `{"offset":0}`, "count"},
		{"list all and page", OpBusinessList, `{"all":true,"count":10,"offset":0}`, "want exactly one of"},
		{"kf list negative business", OpKFList, `{"business_id":-1}`, "/business_id"},
		{"kf add no kf_wx", OpKFAdd, `{}`, "kf_wx"},
		{"kf add empty kf_wx", OpKFAdd, `{"kf_wx":""}`, "/kf_wx"},
		{"kf del no kf_openid", OpKFDel, `{"business_id":1}`, "kf_openid"},
		{"kf setadmin empty kf_openid", OpKFSetAdmin, `{"kf_openid":""}`, "/kf_openid"},
		{"kf canceladmin business string", OpKFCancelAdmin, `{"kf_openid":"o1","business_id":"1"}`, "/business_id"},
		{"upload two sources", OpMediaUpload, `{"url":"https://example.com/a.png","object":"a"}`, "want exactly one of: by data, by url, by object"},
		{"upload ftp", OpMediaUpload, `{"url":"ftp://example.com/a.png"}`, "/url"},
		{"upload video", OpMediaUpload, `{"type":"video","object":"a"}`, "/type"},
		{"media get no id", OpMediaGet, `{}`, "media_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.calls()
			me := e.wantCode(tt.op, []byte(tt.body), CodeInvalid)
			if !strings.Contains(me.Msg, tt.want) || !strings.Contains(me.Description, tt.want) {
				t.Errorf("%s %s: message %q, want it to mention %q", tt.op, tt.body, me.Description, tt.want)
			}
			if !strings.HasPrefix(me.Description, tt.op+": invalid request: ") {
				t.Errorf("description %q does not start with the op", me.Description)
			}
			if n := e.calls() - before; n != 0 {
				t.Errorf("an invalid request made %d API calls", n)
			}
		})
	}
}

func TestUnknownApp(t *testing.T) {
	e := newEnv(t, nil)
	before := e.calls()
	_, err := e.client.Request(t.Context(), "wxnotconfigured", OpKFList, nil)
	var me *Error
	if !errors.As(err, &me) || me.Code != CodeUnknownApp || !strings.Contains(me.Description, "wxnotconfigured") {
		t.Errorf("unknown app = %v", err)
	}
	if n := e.calls() - before; n != 0 {
		t.Errorf("made %d API calls", n)
	}
	if _, err := e.client.Request(t.Context(), "wx.bad", OpKFList, nil); err == nil {
		t.Error("appid with a dot was sent")
	}
	if _, err := e.client.Request(t.Context(), appID, "kf.nope", nil); !errors.Is(err, ErrUnknownOp) {
		t.Errorf("unknown op = %v, want ErrUnknownOp", err)
	}
}

// TestErrorHeaders reads a failure as any NATS client would: micro's
// headers and the JSON body.
func TestErrorHeaders(t *testing.T) {
	e := newEnv(t, nil)
	msg, err := e.nc.Request(SubjectPrefix+appID+"."+OpBusinessGet, []byte(`{"business_id":7}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(micro.ErrorCodeHeader); got != "45071" {
		t.Errorf("%s = %q, want 45071", micro.ErrorCodeHeader, got)
	}
	if got := msg.Header.Get(micro.ErrorHeader); !strings.Contains(got, "business.get: WeChat business/get answered errcode 45071 (no such sub-merchant)") {
		t.Errorf("%s = %q", micro.ErrorHeader, got)
	}
	if !strings.Contains(string(msg.Data), `"errcode":45071`) {
		t.Errorf("body = %s", msg.Data)
	}
	ok, err := e.nc.Request(SubjectPrefix+appID+"."+OpKFList, nil, 5*time.Second)
	if err != nil || ok.Header.Get(micro.ErrorCodeHeader) != "" || string(ok.Data) != `{"errcode":0,"errmsg":"ok","kf_list":[]}` {
		t.Errorf("kf.list with an empty body = %v %q, %v", ok.Header, ok.Data, err)
	}
}

// TestTokenRefresh: WeChat rejects the shared token (another holder forced
// a refresh); the service gets a new one and retries once.
func TestTokenRefresh(t *testing.T) {
	e := newEnv(t, nil)
	e.ok(OpKFList, nil) // the manager now holds a token
	if _, err := e.api.StableToken(t.Context(), appID, secret, true); err != nil {
		t.Fatal(err) // revokes the token the manager holds
	}
	e.ok(OpKFList, nil)
	stats := e.sim.Calls()
	if got := stats.Count("/cgi-bin/customservice/getkflist", 40001); got != 1 {
		t.Errorf("getkflist answered 40001 %d times, want 1", got)
	}
	if got := stats.Count("/cgi-bin/customservice/getkflist", 0); got != 2 {
		t.Errorf("getkflist succeeded %d times, want 2", got)
	}
}

// TestTransportFailures: WeChat unreachable is -1 (safe to retry); a
// request written without an answer is -1004 (it may have taken effect).
func TestTransportFailures(t *testing.T) {
	e := newEnv(t, nil)
	e.ok(OpKFList, nil) // fetch a token while tokens work
	if err := e.sim.SetFaults(wxsim.Faults{HTTP5xxRate: 1}); err != nil {
		t.Fatal(err)
	}
	me := e.wantCode(OpKFList, nil, CodeUnreachable)
	if !strings.Contains(me.Description, "safe to retry") {
		t.Errorf("description %q", me.Description)
	}
	if err := e.sim.SetFaults(wxsim.Faults{Latency: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	e.wantCode(OpKFAdd, map[string]any{"kf_wx": "agent_slow"}, CodeMaybeApplied)
	if err := e.sim.SetFaults(wxsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	// It did take effect.
	if k := e.sim.KFAccounts(appID, 0); len(k) != 1 || k[0].KFWX != "agent_slow" {
		t.Errorf("kf accounts = %+v", k)
	}
}

// TestReplicasShare: two services in the queue group; each request is
// answered (and sent to WeChat) once.
func TestReplicasShare(t *testing.T) {
	e := newEnv(t, nil)
	srv := e.nc.ConnectedUrl()
	nc2, err := nats.Connect(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	e.start(nc2, nil)
	before := e.sim.Calls().Total("/cgi-bin/customservice/getkflist")
	for range 40 {
		e.ok(OpKFList, nil)
	}
	if n := e.sim.Calls().Total("/cgi-bin/customservice/getkflist") - before; n != 40 {
		t.Errorf("40 requests made %d calls", n)
	}
	// Both instances are registered under one name.
	sub, err := e.nc.SubscribeSync(e.nc.NewRespInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.nc.PublishRequest("$SRV.PING."+ServiceName, sub.Subject, nil); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for {
		if _, err := sub.NextMsg(500 * time.Millisecond); err != nil {
			break
		}
		seen++
	}
	if seen != 2 {
		t.Errorf("%d instances answered the ping, want 2", seen)
	}
}

// TestRunStops: Run returns nil when ctx ends; then no service answers.
func TestRunStops(t *testing.T) {
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s)
	store, err := js.CreateOrUpdateObjectStore(t.Context(), jetstream.ObjectStoreConfig{Bucket: "WXKF_MEDIA", Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	api, err := wxapi.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	tokens := newEnv(t, nil).tokens // never used: only an unknown app is asked for
	svc, err := New(Config{Conn: nc, API: api, Tokens: tokens, Store: store, Apps: []string{appID}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	c := NewClient(nc)
	natstest.WaitFor(t, "the service to answer", func() bool {
		_, err := c.Request(t.Context(), "wxother", OpKFList, nil)
		return errors.Is(err, &Error{Code: CodeUnknownApp})
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if _, err := c.Request(t.Context(), "wxother", OpKFList, nil); !errors.Is(err, ErrNoService) {
		t.Errorf("after stop: %v, want ErrNoService", err)
	}
}

func TestNewRequires(t *testing.T) {
	_, err := New(Config{Apps: []string{"bad.app"}})
	for _, want := range []string{"Conn", "API", "Tokens", "Store", "bad.app"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(empty) = %v, want it to mention %s", err, want)
		}
	}
}
