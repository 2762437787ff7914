package bridge_test

import (
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/bridge/bridgetest"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/playground"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestOTLPCollectorDown: a collector that cannot be reached costs the
// spans, not the push, nor a clean stop.
func TestOTLPCollectorDown(t *testing.T) {
	cfg := bridgetest.Config(t, "http://127.0.0.1:1")
	cfg.Telemetry.OTLP.Endpoint = "http://127.0.0.1:1"
	pg, err := playground.New(&cfg, playground.Options{SimListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	run, err := bridgetest.Run(t.Context(), &cfg, bridge.Options{Ingress: true, Egress: true, Extra: pg.Run})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Stop() })
	signer, err := wxpush.NewSigner("http://"+run.Endpoints.Ingress, wxpush.App{})
	if err != nil {
		t.Fatal(err)
	}
	pusher, err := wxpush.NewPusher(signer, wxpush.WithRecorder(pg.Sim()), wxpush.WithAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	req, err := signer.SignMessage(wxcodec.Message{ToUserName: demo.OriginalID, FromUserName: "oU", MsgType: "text", MsgID: "1", Content: "x"}, wxcodec.FormatXML, wxcodec.ModeSafe, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pusher.Push(t.Context(), req); err != nil {
		t.Fatalf("push with the collector down: %v", err)
	}
	if err := run.Stop(); err != nil {
		t.Errorf("bridge.Run() = %v, want nil", err)
	}
}
