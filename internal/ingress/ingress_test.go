package ingress

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/handover"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
	"github.com/kfbridge/kfbridge/schemas"
)

const (
	testAppID = "wx0123456789abcdef"
	testToken = "testtoken"
	testKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

var fixedNow = time.Unix(1714112445, 0)

// allModes makes the test app accept every mode, so that the tests can
// send pushes of each; TestModes checks the default.
var allModes = []string{"plaintext", "compatible", "safe"}

type env struct {
	srv    *Server
	js     jetstream.JetStream
	stream jetstream.Stream
	codec  *wxcodec.Codec
}

// newEnv runs a real embedded JetStream server, creates the inbound stream
// and builds a Server for the test app (plus any extra apps).
func newEnv(t testing.TB, mutate func(*Config)) *env {
	t.Helper()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	stream, err := js.CreateOrUpdateStream(t.Context(), events.InboundStream())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := handover.EnsureBucket(t.Context(), js, 1, jetstream.FileStorage)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Ingress:    config.Default().Ingress,
		Apps:       []config.App{{AppID: testAppID, Token: testToken, EncodingAESKey: testKey, Modes: allModes}},
		JetStream:  js,
		Now:        func() time.Time { return fixedNow },
		HandoverKV: kv,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	codec, err := wxcodec.New(testAppID, testToken, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, js: js, stream: stream, codec: codec}
}

func queryValues(q wxcodec.Query) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{
		"signature": q.Signature, "timestamp": q.Timestamp, "nonce": q.Nonce, "echostr": q.EchoStr,
		"openid": q.OpenID, "encrypt_type": q.EncryptType, "msg_signature": q.MsgSignature,
	} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// do sends one request to the handler and returns status and body.
func (e *env) do(t testing.TB, method, appid string, q url.Values, body []byte) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "/wx/"+appid+"?"+q.Encode(), bytes.NewReader(body))
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func (e *env) push(t testing.TB, f wxcodec.Format, mode wxcodec.Mode, m wxcodec.Message) (url.Values, []byte) {
	t.Helper()
	q, body, err := e.codec.EncodePush(rand.Reader, f, mode, m, fmt.Sprint(fixedNow.Unix()), "1234567")
	if err != nil {
		t.Fatalf("EncodePush() = %v", err)
	}
	return queryValues(q), body
}

func (e *env) count(t testing.TB) uint64 {
	t.Helper()
	info, err := e.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func (e *env) last(t testing.TB) *jetstream.RawStreamMsg {
	t.Helper()
	info, err := e.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.stream.GetMsg(t.Context(), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func kinds() map[string]wxcodec.Message {
	base := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714112445}
	with := func(f func(*wxcodec.Message)) wxcodec.Message { m := base; f(&m); return m }
	return map[string]wxcodec.Message{
		"text": with(func(m *wxcodec.Message) {
			m.MsgType, m.MsgID, m.Content = "text", "6054768590064713728", "你好 <b>&amp; \"q\""
		}),
		"image": with(func(m *wxcodec.Message) {
			m.MsgType, m.MsgID, m.PicURL, m.MediaID = "image", "6054768590064713729", "http://mmbiz.qpic.cn/x", "media_1"
		}),
		"miniprogrampage": with(func(m *wxcodec.Message) {
			m.MsgType, m.MsgID, m.Title, m.AppID, m.PagePath = "miniprogrampage", "6054768590064713730", "card", "wxcardapp", "pages/a?b=1"
		}),
		"user_enter_tempsession": with(func(m *wxcodec.Message) {
			m.MsgType, m.Event, m.SessionFrom = "event", "user_enter_tempsession", "from-button"
		}),
		"unknown event": with(func(m *wxcodec.Message) {
			m.MsgType, m.Event = "event", "debug_demo"
			m.Extra = []wxcodec.Field{{Name: "debug_str", Value: json.RawMessage(`"hello world"`)}}
		}),
	}
}

// TestPushMatrix sends every format × mode × kind × BusinessId and checks
// that each yields exactly one correct, schema-valid event on the right
// subject, and that three identical retries add nothing.
func TestPushMatrix(t *testing.T) {
	e := newEnv(t, nil)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	formats := []wxcodec.Format{wxcodec.FormatXML, wxcodec.FormatJSON}
	modes := []wxcodec.Mode{wxcodec.ModePlaintext, wxcodec.ModeCompatible, wxcodec.ModeSafe}
	var want uint64
	for name, base := range kinds() {
		for _, f := range formats {
			for _, mode := range modes {
				for _, bid := range []string{"", "42"} {
					t.Run(fmt.Sprintf("%s/%s/%s/bid=%q", name, f, mode, bid), func(t *testing.T) {
						m := base
						m.BusinessID = bid
						// Make each combination a distinct push.
						m.CreateTime += int64(want)
						if m.MsgID != "" {
							m.MsgID = fmt.Sprint(6054768590064713728 + want)
						}
						q, body := e.push(t, f, mode, m)
						for i := range 4 { // the push and three WeChat retries
							status, answer := e.do(t, http.MethodPost, testAppID, q, body)
							if status != http.StatusOK || answer != "success" {
								t.Fatalf("attempt %d: %d %q, want 200 success", i, status, answer)
							}
						}
						want++
						if got := e.count(t); got != want {
							t.Fatalf("stream holds %d events, want %d", got, want)
						}
						raw := e.last(t)
						ev, err := events.ParseInbound(raw.Data)
						if err != nil {
							t.Fatal(err)
						}
						wantBid := bid
						if wantBid == "" {
							wantBid = "0"
						}
						kind := m.MsgType
						if m.MsgType == "event" {
							kind = m.Event
						}
						wantSubject := strings.Join([]string{"wxkf.in", testAppID, wantBid, m.FromUserName, kind}, ".")
						if raw.Subject != wantSubject {
							t.Errorf("subject = %q, want %q", raw.Subject, wantSubject)
						}
						if got := raw.Header.Get(events.HeaderMsgID); got != testAppID+":"+ev.ID {
							t.Errorf("Nats-Msg-Id = %q, want %q", got, testAppID+":"+ev.ID)
						}
						if m.MsgID != "" && ev.ID != m.MsgID {
							t.Errorf("id = %q, want MsgId %q", ev.ID, m.MsgID)
						}
						if ev.Data.BusinessID != wantBid || ev.Data.OpenID != m.FromUserName || ev.Data.CreateTime != m.CreateTime {
							t.Errorf("data = %+v", ev.Data)
						}
						checkKind(t, m, ev.Data)
						if err := v.Validate(schemas.InboundEvent, raw.Data); err != nil {
							t.Errorf("produced event fails its schema: %v\n%s", err, raw.Data)
						}
					})
				}
			}
		}
	}
}

func checkKind(t *testing.T, m wxcodec.Message, d events.InboundData) {
	t.Helper()
	switch m.MsgType {
	case "text":
		if d.Text == nil || d.Text.Content != m.Content {
			t.Errorf("text = %+v, want %q", d.Text, m.Content)
		}
	case "image":
		if d.Image == nil || d.Image.PicURL != m.PicURL || d.Image.MediaID != m.MediaID {
			t.Errorf("image = %+v", d.Image)
		}
	case "miniprogrampage":
		if p := d.MiniProgramPage; p == nil || p.Title != m.Title || p.AppID != m.AppID || p.PagePath != m.PagePath {
			t.Errorf("miniprogrampage = %+v", p)
		}
	case "event":
		if d.Event == nil || d.Event.Name != m.Event || d.Event.SessionFrom != m.SessionFrom {
			t.Errorf("event = %+v", d.Event)
		}
		for _, f := range m.Extra {
			if got := string(d.Extra[f.Name]); got != string(f.Value) {
				t.Errorf("extra[%s] = %s, want %s", f.Name, got, f.Value)
			}
		}
	}
}

// TestProducedEventsMutatedFailSchema takes an event the ingress really
// produced and shows that the schema rejects broken variants of it.
func TestProducedEventsMutatedFailSchema(t *testing.T) {
	e := newEnv(t, nil)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	q, body := e.push(t, wxcodec.FormatJSON, wxcodec.ModeSafe, kinds()["text"])
	if status, _ := e.do(t, http.MethodPost, testAppID, q, body); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	produced := e.last(t).Data
	if err := v.Validate(schemas.InboundEvent, produced); err != nil {
		t.Fatalf("produced event invalid: %v", err)
	}
	mutations := map[string]func(map[string]any){
		"no id":              func(ev map[string]any) { delete(ev, "id") },
		"unknown attribute":  func(ev map[string]any) { ev["color"] = "red" },
		"no msg_type":        func(ev map[string]any) { delete(data(ev), "msg_type") },
		"msg_id as number":   func(ev map[string]any) { data(ev)["msg_id"] = 1 },
		"create_time string": func(ev map[string]any) { data(ev)["create_time"] = "1" },
		"unknown data field": func(ev map[string]any) { data(ev)["mood"] = "happy" },
		"no text":            func(ev map[string]any) { delete(data(ev), "text") },
		"extra kind object":  func(ev map[string]any) { data(ev)["image"] = map[string]any{"pic_url": "", "media_id": ""} },
		"bad subject token":  func(ev map[string]any) { ev["subject"] = "a.b" },
		"type mismatch":      func(ev map[string]any) { ev["type"] = "weixin.kf.message.image" },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			var ev map[string]any
			if err := json.Unmarshal(produced, &ev); err != nil {
				t.Fatal(err)
			}
			mutate(ev)
			doc, _ := json.Marshal(ev)
			if err := v.Validate(schemas.InboundEvent, doc); err == nil {
				t.Errorf("mutated event passes the schema: %s", doc)
			}
		})
	}
}

func data(ev map[string]any) map[string]any { return ev["data"].(map[string]any) }

func TestClientHangUpStillStores(t *testing.T) {
	e := newEnv(t, nil)
	q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, kinds()["text"])
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the client is gone before the publish starts
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/wx/"+testAppID+"?"+q.Encode(), bytes.NewReader(body))
	e.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	if got := e.count(t); got != 1 {
		t.Fatalf("stream holds %d events after a hang-up, want 1", got)
	}
	// WeChat's retry of the same push is absorbed.
	if status, _ := e.do(t, http.MethodPost, testAppID, q, body); status != http.StatusOK {
		t.Fatalf("retry status %d", status)
	}
	if got := e.count(t); got != 1 {
		t.Fatalf("stream holds %d events after the retry, want 1", got)
	}
}

func TestPublishTimeoutAnswers503(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Ingress.PublishTimeout = 300 * time.Millisecond })
	if err := e.js.DeleteStream(t.Context(), events.InboundStreamName); err != nil {
		t.Fatal(err)
	}
	q, body := e.push(t, wxcodec.FormatJSON, wxcodec.ModePlaintext, kinds()["text"])
	start := time.Now()
	status, _ := e.do(t, http.MethodPost, testAppID, q, body)
	if status != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", status)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answered after %v, want well under WeChat's 5 s", d)
	}
}

func TestVerifyURL(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Apps = append(c.Apps, config.App{AppID: "wxvector", Token: "AAAAA"})
	})
	q := url.Values{"signature": {"f464b24fc39322e44b38aa78f5edd27bd1441696"}, "timestamp": {"1714036504"},
		"nonce": {"1514711492"}, "echostr": {"4375120948345356249"}}
	if status, body := e.do(t, http.MethodGet, "wxvector", q, nil); status != 200 || body != "4375120948345356249" {
		t.Errorf("GET verify = %d %q, want 200 and the echostr", status, body)
	}
	q.Set("signature", strings.Repeat("0", 40))
	if status, _ := e.do(t, http.MethodGet, "wxvector", q, nil); status != http.StatusUnauthorized {
		t.Errorf("GET verify with a bad signature = %d, want 401", status)
	}
	if status, _ := e.do(t, http.MethodGet, "wxnobody", q, nil); status != http.StatusNotFound {
		t.Errorf("GET verify of an unknown app = %d, want 404", status)
	}
}

func TestTransferReply(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Apps[0].PassiveReply = config.ReplyTransfer })
	m := kinds()["text"]
	t.Run("plaintext xml", func(t *testing.T) {
		q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModePlaintext, m)
		status, answer := e.do(t, http.MethodPost, testAppID, q, body)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		got, err := wxcodec.ParseMessage([]byte(answer))
		if err != nil {
			t.Fatalf("reply %q: %v", answer, err)
		}
		if got.MsgType != "transfer_customer_service" || got.ToUserName != m.FromUserName || got.FromUserName != m.ToUserName {
			t.Errorf("reply = %+v", got)
		}
	})
	t.Run("safe json is encrypted", func(t *testing.T) {
		m := m
		m.MsgID = "77"
		q, body := e.push(t, wxcodec.FormatJSON, wxcodec.ModeSafe, m)
		status, answer := e.do(t, http.MethodPost, testAppID, q, body)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		var env struct {
			Encrypt, MsgSignature, Nonce string
			TimeStamp                    int64
		}
		if err := json.Unmarshal([]byte(answer), &env); err != nil {
			t.Fatalf("reply %q: %v", answer, err)
		}
		if want := wxcodec.MsgSignature(testToken, fmt.Sprint(env.TimeStamp), env.Nonce, env.Encrypt); want != env.MsgSignature {
			t.Errorf("reply MsgSignature = %s, want %s", env.MsgSignature, want)
		}
		key, _ := wxcodec.ParseKey(testKey)
		plain, receiver, err := key.Decrypt(env.Encrypt)
		if err != nil || receiver != testAppID {
			t.Fatalf("decrypt reply: %v (receiver %q)", err, receiver)
		}
		got, err := wxcodec.ParseMessage(plain)
		if err != nil || got.MsgType != "transfer_customer_service" {
			t.Errorf("decrypted reply %s: %+v %v", plain, got, err)
		}
	})
	t.Run("events get success", func(t *testing.T) {
		q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModePlaintext, kinds()["user_enter_tempsession"])
		if status, answer := e.do(t, http.MethodPost, testAppID, q, body); status != 200 || answer != "success" {
			t.Errorf("event answered %d %q, want success", status, answer)
		}
	})
}

// TestSuccessOverHTTP checks the plain answer as a real HTTP server sends
// it: the body "success", declared text/plain.
func TestSuccessOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()
	q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, kinds()["text"])
	status, header, answer := testworld.Do(t, srv.Client(), http.MethodPost, srv.URL+"/wx/"+testAppID+"?"+q.Encode(), "text/xml", body)
	if status != http.StatusOK || string(answer) != "success" || header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("answered %d %q (Content-Type %q), want 200 success as text/plain; charset=utf-8",
			status, answer, header.Get("Content-Type"))
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t, nil)
	q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, kinds()["text"])
	e.do(t, http.MethodPost, testAppID, q, body)
	e.do(t, http.MethodPost, "wxnobody", q, body)
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": `kfbridge_ingress_pushes_total{appid="` + testAppID + `",kind="text",outcome="published"} 1`,
	} {
		rec := httptest.NewRecorder()
		e.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s = %d, want 200 containing %q; body:\n%.2000s", path, rec.Code, want, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	e.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `kfbridge_ingress_rejected_total{appid="unknown",reason="unknown_app"} 1`) {
		t.Error("metrics miss the rejected unknown app")
	}
}

func TestReadyzFailsWhenNotReady(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Ready = func(context.Context) error { return io.ErrUnexpectedEOF }
	})
	rec := httptest.NewRecorder()
	e.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", rec.Code)
	}
}
