package wxpush

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

func TestRunPush(t *testing.T) {
	ing := newFakeIngress(t, answers("200 success"))
	var out bytes.Buffer
	cfg := PushConfig{URL: ing.URL, Spec: Spec{Kind: KindText, Format: wxcodec.FormatJSON, Mode: wxcodec.ModeSafe, MsgID: "100"}, Count: 3, Repeat: 2}
	if err := RunPush(t.Context(), cfg, &out); err != nil {
		t.Fatalf("RunPush() error: %v", err)
	}
	want := "" +
		"ok   kind=text format=json mode=safe msgid=100 status=200 attempts=1 answer=success\n" +
		"ok   kind=text format=json mode=safe msgid=100 status=200 attempts=1 answer=success\n" +
		"ok   kind=text format=json mode=safe msgid=101 status=200 attempts=1 answer=success\n" +
		"ok   kind=text format=json mode=safe msgid=101 status=200 attempts=1 answer=success\n" +
		"ok   kind=text format=json mode=safe msgid=102 status=200 attempts=1 answer=success\n" +
		"ok   kind=text format=json mode=safe msgid=102 status=200 attempts=1 answer=success\n"
	if out.String() != want {
		t.Errorf("RunPush() printed\n%s\nwant\n%s", out.String(), want)
	}

	codec, err := wxcodec.New(demo.AppID, demo.Token, demo.EncodingAESKey, anyMode)
	if err != nil {
		t.Fatal(err)
	}
	reqs := ing.requests()
	if len(reqs) != 6 {
		t.Fatalf("ingress got %d requests, want 6", len(reqs))
	}
	var createTimes []int64
	for i := 0; i < len(reqs); i += 2 {
		if reqs[i].rawQuery != reqs[i+1].rawQuery || !bytes.Equal(reqs[i].body, reqs[i+1].body) {
			t.Errorf("requests %d and %d differ, want --repeat to resend byte for byte", i, i+1)
		}
		q, err := parseRawQuery(reqs[i].rawQuery)
		if err != nil {
			t.Fatal(err)
		}
		p, err := codec.Decode(q, reqs[i].body)
		if err != nil {
			t.Fatalf("Decode(request %d): %v", i, err)
		}
		m := p.Message
		if m.FromUserName != demo.OpenID || m.ToUserName != demo.OriginalID || m.BusinessID != "" {
			t.Errorf("request %d: from %q to %q bid %q, want the demo defaults and no BusinessId", i, m.FromUserName, m.ToUserName, m.BusinessID)
		}
		createTimes = append(createTimes, m.CreateTime)
	}
	if createTimes[1] != createTimes[0]+1 || createTimes[2] != createTimes[1]+1 || createTimes[2] > time.Now().Unix() {
		t.Errorf("CreateTimes %v, want one second apart, ending now", createTimes)
	}
}

// TestRunPushEvents checks that --count gives events that differ.
func TestRunPushEvents(t *testing.T) {
	ing := newCheckingIngress(t, 200, "success")
	var out bytes.Buffer
	cfg := PushConfig{URL: ing.URL, Spec: Spec{Kind: KindUserEnterTempSession, BusinessID: 3}, Count: 3}
	if err := RunPush(t.Context(), cfg, &out); err != nil {
		t.Fatalf("RunPush() error: %v", err)
	}
	if n := strings.Count(out.String(), "ok   kind=user_enter_tempsession format=xml mode=safe msgid=- status=200 attempts=1 answer=success\n"); n != 3 {
		t.Errorf("RunPush() printed\n%s\nwant 3 ok lines", out.String())
	}
	ing.mu.Lock()
	defer ing.mu.Unlock()
	if len(ing.ids) != 3 {
		t.Errorf("ingress got %d distinct event ids (%v), want 3", len(ing.ids), ing.ids)
	}
}

func TestRunPushNotDelivered(t *testing.T) {
	ing := newFakeIngress(t, answers("503 publish failed"))
	var out bytes.Buffer
	cfg := PushConfig{URL: ing.URL, Spec: Spec{Kind: "event:debug_demo"}, Attempts: 2, RetryInterval: time.Millisecond}
	err := RunPush(t.Context(), cfg, &out)
	if !errors.Is(err, ErrNotDelivered) {
		t.Errorf("RunPush() error = %v, want %v", err, ErrNotDelivered)
	}
	want := `FAIL kind=event:debug_demo format=xml mode=safe msgid=- status=503 attempts=2 answer="publish failed"` + "\n"
	if out.String() != want {
		t.Errorf("RunPush() printed %q, want %q", out.String(), want)
	}
}

func TestPushConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  PushConfig
	}{
		{"bad url", PushConfig{URL: "http://"}},
		{"bad kind", PushConfig{Spec: Spec{Kind: "event"}}},
		{"negative count", PushConfig{Count: -1}},
		{"negative repeat", PushConfig{Repeat: -1}},
		{"msgid to count up from", PushConfig{Count: 2, Spec: Spec{MsgID: "abc"}}},
		{"negative attempts", PushConfig{Attempts: -1}},
		{"negative timeout", PushConfig{AttemptTimeout: -time.Second}},
		{"negative interval", PushConfig{RetryInterval: -time.Second}},
		{"safe mode without key", PushConfig{App: App{AppID: "wxother", Token: "t"}, Spec: Spec{Mode: wxcodec.ModeSafe}}},
		{"bad format", PushConfig{Spec: Spec{Format: 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.setDefaults()
			if err := cfg.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate(%+v) = %v, want %v", tt.cfg, err, ErrInvalid)
			}
		})
	}
	var cfg PushConfig
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate(zero config) = %v, want nil", err)
	}
	if cfg.URL != demo.IngressURL || cfg.App.AppID != demo.AppID || cfg.App.Token != demo.Token || cfg.App.EncodingAESKey != demo.EncodingAESKey {
		t.Errorf("zero config defaults to %+v, want the demo app", cfg)
	}
}

// TestSignMessage: a message signed as it is reaches the recorder with its
// own media, and its Spec describes it for the Pusher.
func TestSignMessage(t *testing.T) {
	s, err := NewSigner("http://127.0.0.1:1", App{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	m := wxcodec.Message{ToUserName: demo.OriginalID, FromUserName: "oU", MsgType: "image", MsgID: "77", BusinessID: "3", MediaID: "own-media", PicURL: "http://x/p.png"}
	req, err := s.SignMessage(m, wxcodec.FormatJSON, wxcodec.ModeSafe, now)
	if err != nil {
		t.Fatalf("SignMessage: %v", err)
	}
	want := Spec{Kind: "image", Format: wxcodec.FormatJSON, Mode: wxcodec.ModeSafe, OpenID: "oU", To: demo.OriginalID, BusinessID: 3, MsgID: "77", CreateTime: now.Unix()}
	if req.Spec != want {
		t.Errorf("Spec = %+v, want %+v", req.Spec, want)
	}
	got, err := req.message()
	if err != nil || got.MediaID != "own-media" || got.CreateTime != now.Unix() {
		t.Errorf("message() = %+v, %v; want %+v with CreateTime now", got, err, m)
	}
	ev, err := s.SignMessage(wxcodec.Message{MsgType: "event", Event: "user_enter_tempsession"}, 0, 0, now)
	if err != nil || ev.Spec.Kind != "event:user_enter_tempsession" || !ev.Spec.IsEvent() || ev.Spec.Mode != wxcodec.ModeSafe {
		t.Errorf("event: Spec %+v, %v", ev.Spec, err)
	}
	for _, bad := range []wxcodec.Message{{}, {MsgType: "text", BusinessID: "x"}, {MsgType: "text", BusinessID: "-1"}} {
		if _, err := s.SignMessage(bad, 0, 0, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("SignMessage(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}
