package wxpush

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

const textMsg = `{"msgtype":"text","text":{"content":"hi"}}`

func TestPusherRecorder(t *testing.T) {
	tests := []struct {
		name      string
		spec      Spec
		answer    string
		wantSend  int    // after the push
		wantMedia string // a media id the push registered
	}{
		{"text opens the window", Spec{Kind: KindText, OpenID: "oU"}, "200 success", wxsim.CodeOK, ""},
		{"enter session opens the short window", Spec{Kind: KindUserEnterTempSession, OpenID: "oU"}, "200 ", wxsim.CodeOK, ""},
		{"other event: known user, no window", Spec{Kind: "event:debug_demo", OpenID: "oU"}, "200 success", wxsim.CodeOutOfWindow, ""},
		{"sub-merchant", Spec{Kind: KindText, OpenID: "oU", BusinessID: 77}, "200 success", wxsim.CodeOK, ""},
		{"image registers its MediaId", Spec{Kind: KindImage, OpenID: "oU", MsgID: "555"}, "200 success", wxsim.CodeOK, "wxsim_image_555"},
		{"card registers its ThumbMediaId", Spec{Kind: KindMiniProgramPage, OpenID: "oU", MsgID: "556"}, "200 success", wxsim.CodeOK, "wxsim_thumb_556"},
		// WeChat knows of the message whatever our ingress answers.
		{"not delivered: still recorded", Spec{Kind: KindText, OpenID: "oU"}, "503 busy", wxsim.CodeOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, api := newTestSim(t)
			ing := newFakeIngress(t, answers(tt.answer))
			signer, err := NewSigner(ing.URL, App{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewPusher(signer, WithRecorder(sim), WithAttempts(1))
			if err != nil {
				t.Fatal(err)
			}
			req, err := signer.Sign(tt.spec, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			p.Push(t.Context(), req)
			bid := "0"
			if tt.spec.BusinessID != 0 {
				bid = "77"
			}
			if got := api.Send(t, demo.AppID, demo.Secret, bid, "oU", textMsg); got != tt.wantSend {
				t.Errorf("send after the push = %d, want %d", got, tt.wantSend)
			}
			if tt.wantMedia != "" {
				data, ct, err := api.Client.GetMedia(t.Context(), api.StableToken(t, demo.AppID, demo.Secret), tt.wantMedia, 1<<20)
				if err != nil || !bytes.Equal(data, wxsim.PlaceholderImage()) || ct != "image/png" {
					t.Errorf("GetMedia(%s) = %d bytes of %s, %v; want the placeholder PNG", tt.wantMedia, len(data), ct, err)
				}
			}
		})
	}
	if _, err := NewPusher(&Signer{}, WithRecorder(nil)); !errors.Is(err, ErrInvalid) {
		t.Errorf("WithRecorder(nil) = %v, want ErrInvalid", err)
	}
}

func TestRunPushSim(t *testing.T) {
	_, api := newTestSim(t)
	ing := newFakeIngress(t, answers("200 success"))
	cfg := PushConfig{URL: ing.URL, SimURL: api.URL, Spec: Spec{Kind: KindImage, Format: wxcodec.FormatJSON, MsgID: "900"}}
	if err := RunPush(t.Context(), cfg, io.Discard); err != nil {
		t.Fatalf("RunPush: %v", err)
	}
	if got := api.Send(t, demo.AppID, demo.Secret, "0", demo.OpenID, textMsg); got != wxsim.CodeOK {
		t.Errorf("send after wxsim push --sim = %d, want 0", got)
	}
	if _, _, err := api.Client.GetMedia(t.Context(), api.StableToken(t, demo.AppID, demo.Secret), "wxsim_image_900", 1<<20); err != nil {
		t.Errorf("GetMedia of the pushed image: %v", err)
	}

	// No simulator there: pushes still work.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cfg.SimURL = closed.URL
	if err := RunPush(t.Context(), cfg, io.Discard); err != nil {
		t.Errorf("RunPush without a simulator: %v", err)
	}
	cfg.SimURL = "nowhere"
	if err := RunPush(t.Context(), cfg, io.Discard); !errors.Is(err, ErrInvalid) {
		t.Errorf("RunPush with sim url %q = %v, want ErrInvalid", cfg.SimURL, err)
	}
}

func TestLoadSim(t *testing.T) {
	sim, api := newTestSim(t)
	ing := newCheckingIngress(t, http.StatusOK, "success")
	cfg := LoadConfig{URL: ing.URL, SimURL: api.URL, Spec: Spec{Kind: KindText, BusinessID: 4}, Conns: 2, Duration: 50 * time.Millisecond, Warmup: -1, Pushes: 200}
	if _, err := Load(t.Context(), cfg); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := api.Send(t, demo.AppID, demo.Secret, "4", demo.OpenID, textMsg); got != wxsim.CodeOK {
		t.Errorf("send after wxsim load --sim = %d, want 0", got)
	}
	if n := sim.Calls().Interactions; n != 1 {
		t.Errorf("Calls().Interactions = %d, want 1 (one report per run)", n)
	}
}
