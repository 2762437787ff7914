package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// smallPayloadEnv is newEnv on a NATS server whose max_payload is
// maxPayload, with the inbound stream as stream sets it.
func smallPayloadEnv(t *testing.T, maxPayload int32, stream func(*jetstream.StreamConfig), mutate func(*Config)) (*env, error) {
	t.Helper()
	s := natstest.RunServerWith(t, func(o *server.Options) { o.MaxPayload = maxPayload })
	_, js := natstest.Connect(t, s)
	sc := events.InboundStream()
	if stream != nil {
		stream(&sc)
	}
	st, err := js.CreateOrUpdateStream(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Ingress:   config.Default().Ingress,
		Apps:      []config.App{{AppID: testAppID, Token: testToken, EncodingAESKey: testKey}},
		JetStream: js,
		Registry:  prometheus.NewRegistry(),
		Now:       func() time.Time { return fixedNow },
	}
	cfg.Ingress.MaxBodyBytes = int64(maxPayload)
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		return nil, err
	}
	codec, err := wxcodec.New(testAppID, testToken, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, js: js, stream: st, codec: codec}, nil
}

// TestEventTooLargeIs413: a push within the body limit whose event does
// not fit NATS (max_payload, or the stream's max_msg_size) is answered
// 413, so that WeChat does not retry it forever, and nothing is stored.
func TestEventTooLargeIs413(t *testing.T) {
	const maxPayload = 8 << 10
	// Each '"' is one byte in the push (base64 makes it 4/3) and two in
	// the event.
	for _, tc := range []struct {
		name   string
		quotes int
		stream func(*jetstream.StreamConfig)
	}{
		// A body of about 7 KiB, an event of about 10 KiB.
		{"max_payload", 5000, nil},
		// An event of about 6.5 KiB: within max_payload, over the stream's limit.
		{"stream max_msg_size", 3000, func(sc *jetstream.StreamConfig) { sc.MaxMsgSize = 4 << 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := kinds()["text"]
			m.Content = strings.Repeat(`"`, tc.quotes)
			e, err := smallPayloadEnv(t, maxPayload, tc.stream, nil)
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, m)
			if len(body) > maxPayload {
				t.Fatalf("test push of %d bytes is over the body limit", len(body))
			}
			for attempt := range 2 { // the push and WeChat's retry
				status, answer := e.do(t, http.MethodPost, testAppID, q, body)
				if status != http.StatusRequestEntityTooLarge {
					t.Fatalf("attempt %d = %d %q, want 413", attempt, status, answer)
				}
			}
			if got := e.count(t); got != 0 {
				t.Errorf("stream holds %d events, want 0", got)
			}
			// A push that fits is still stored.
			small := kinds()["text"]
			q, body = e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, small)
			if status, answer := e.do(t, http.MethodPost, testAppID, q, body); status != http.StatusOK {
				t.Fatalf("small push = %d %q, want 200", status, answer)
			}
		})
	}
}

// TestBodyLimitOverMaxPayloadRefused: a body limit above the server's
// max_payload fails at start, naming both.
func TestBodyLimitOverMaxPayloadRefused(t *testing.T) {
	_, err := smallPayloadEnv(t, 8<<10, nil, func(c *Config) { c.Ingress.MaxBodyBytes = 1 << 20 })
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "max_payload 8192") {
		t.Fatalf("New() with max_body_bytes over max_payload = %v, want config.ErrInvalid naming max_payload", err)
	}
}

// TestMetricLabelsBounded pushes many distinct kinds and posts to many
// unknown apps, and counts the series: labels taken from requests are
// bounded by the configured apps and a fixed list of kinds.
func TestMetricLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) { c.Registry = reg })
	send := func(m wxcodec.Message) {
		t.Helper()
		q, body := e.push(t, wxcodec.FormatJSON, wxcodec.ModeSafe, m)
		if status, answer := e.do(t, http.MethodPost, testAppID, q, body); status != http.StatusOK {
			t.Fatalf("push %s/%s = %d %q", m.MsgType, m.Event, status, answer)
		}
	}
	send(kinds()["text"])
	send(kinds()["user_enter_tempsession"])
	for i := range 40 {
		ev := kinds()["unknown event"]
		ev.Event = fmt.Sprintf("made_up_event_%d", i)
		send(ev)
		msg := kinds()["text"]
		msg.MsgType, msg.MsgID = fmt.Sprintf("made_up_type_%d", i), fmt.Sprint(8_000_000+i)
		send(msg)
		q, body := e.push(t, wxcodec.FormatJSON, wxcodec.ModeSafe, msg)
		if status, _ := e.do(t, http.MethodPost, fmt.Sprintf("wxmadeup%d", i), q, body); status != http.StatusNotFound {
			t.Fatalf("unknown app = %d, want 404", status)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string][]string{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			series[f.GetName()] = append(series[f.GetName()], strings.Join(labels, ","))
		}
	}
	want := map[string]int{"kfbridge_ingress_pushes_total": 3, "kfbridge_ingress_rejected_total": 1}
	for name, n := range want {
		if len(series[name]) != n {
			t.Errorf("%s has %d series, want %d: %.300v", name, len(series[name]), n, series[name])
		}
	}
	if got := strings.Join(series["kfbridge_ingress_pushes_total"], " "); !strings.Contains(got, "kind=other") {
		t.Errorf("pushes_total series %.300s, want made-up kinds counted as other", got)
	}
}

// TestLogsTrustOnlyConfiguredProxies: X-Forwarded-For names the client in
// logs only when the peer is a configured proxy.
func TestLogsTrustOnlyConfiguredProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		peer    string
		want    string
	}{
		{"no proxies configured", nil, "192.0.2.1:1234", "192.0.2.1"},
		{"from a configured proxy", []string{"192.0.2.0/24"}, "192.0.2.1:1234", "203.0.113.7"},
		{"from another peer", []string{"192.0.2.0/24"}, "198.51.100.9:1234", "198.51.100.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			e := newEnv(t, func(c *Config) {
				c.Ingress.TrustedProxies = tc.proxies
				c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			req := httptest.NewRequest(http.MethodPost, "/wx/wxnobody", strings.NewReader("<xml/>"))
			req.RemoteAddr = tc.peer
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Real-IP", "203.0.113.8")
			e.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
			// The log may start with the start-up warnings; the push's
			// line is the last.
			lines := bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n"))
			var line struct{ Msg, Remote string }
			if err := json.Unmarshal(lines[len(lines)-1], &line); err != nil || line.Msg != "push rejected" {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if line.Remote != tc.want {
				t.Errorf("logged remote %q, want %q", line.Remote, tc.want)
			}
		})
	}
}

// TestPublicListenerServesOnlyPushes: /metrics and /readyz are on the
// admin handler only; the push handler serves /wx/<appid> and /healthz.
func TestPublicListenerServesOnlyPushes(t *testing.T) {
	e := newEnv(t, nil)
	get := func(h http.Handler, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 404, "/metrics": 404, "/debug/pprof/": 404} {
		if got := get(e.srv.Handler(), path); got != want {
			t.Errorf("push listener GET %s = %d, want %d", path, got, want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if got := get(e.srv.AdminHandler(), path); got != 200 {
			t.Errorf("admin listener GET %s = %d, want 200", path, got)
		}
	}
	if got := get(e.srv.AdminHandler(), "/wx/"+testAppID); got != 404 {
		t.Errorf("admin listener GET /wx/ = %d, want 404", got)
	}
}
