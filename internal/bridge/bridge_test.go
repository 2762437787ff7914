package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestDemoRoundTrip runs the zero-setup bridge (embedded NATS, demo app) as
// `kfbridge --demo` does, pushes over HTTP, and reads the event as a bot in
// another process would: over TCP from the embedded server.
func TestDemoRoundTrip(t *testing.T) {
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
	cfg.Ingress.Listen = "127.0.0.1:0"
	cleanup, err := demo.Configure(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)

	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan Endpoints, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, &cfg, Options{Ingress: true, OnReady: func(e Endpoints) { ready <- e }}) }()
	var ends Endpoints
	select {
	case ends = <-ready:
	case err := <-done:
		t.Fatalf("Run() = %v before ready", err)
	case <-time.After(15 * time.Second):
		t.Fatal("bridge not ready")
	}

	nc, err := nats.Connect(ends.NATS)
	if err != nil {
		t.Fatalf("bot connect to %s: %v", ends.NATS, err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(events.InboundSubjects)
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	codec, err := wxcodec.New(demo.AppID, demo.Token, demo.EncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	m := wxcodec.Message{ToUserName: demo.OriginalID, FromUserName: demo.OpenID, CreateTime: time.Now().Unix(),
		MsgType: "text", MsgID: "42", Content: "hello", BusinessID: "7"}
	q, body, err := codec.EncodePush(rand.Reader, wxcodec.FormatXML, wxcodec.ModeSafe, m, strconv.FormatInt(time.Now().Unix(), 10), "99")
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{"signature": {q.Signature}, "timestamp": {q.Timestamp}, "nonce": {q.Nonce},
		"openid": {q.OpenID}, "encrypt_type": {q.EncryptType}, "msg_signature": {q.MsgSignature}}
	resp, err := http.Post("http://"+ends.Ingress+"/wx/"+demo.AppID+"?"+v.Encode(), "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(answer) != "success" {
		t.Fatalf("push = %d %q", resp.StatusCode, answer)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no event: %v", err)
	}
	if want := "wxkf.in." + demo.AppID + ".7." + demo.OpenID + ".text"; msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	ev, err := events.ParseInbound(msg.Data)
	if err != nil || ev.Data.Text == nil || ev.Data.Text.Content != "hello" {
		t.Errorf("event = %+v, %v", ev, err)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + ends.Ingress + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s = %v, %v", path, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() after cancel = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bridge did not stop")
	}
}
