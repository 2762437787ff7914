package kfctl

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

func TestStatus(t *testing.T) {
	w := newWorld(t)
	w.sim.RecordInteraction(appID, "0", user, "text", time.Time{})
	w.ok("send", "--appid", appID, "--openid", user, "--text", "hi") // fetches a token
	kv, err := w.js.KeyValue(t.Context(), token.BucketName)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(t.Context(), appID)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil || len(rec.AccessToken) < 20 {
		t.Fatalf("token record: %v", err)
	}

	out := w.ok("status")
	for _, want := range []string{"WXKF_OUT", "WXKF_RESULT", "WXKF_DLQ", "KV_WXKF_TOKENS", "PENDING", "ACK_PENDING",
		appID, "stable", "valid", "egress-p0000", "management service kfbridge-manage: 1 instance(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status printed %q, want %q", out, want)
		}
	}
	all := w.ok("status", "--all")
	if !strings.Contains(all, "egress-p0003") {
		t.Errorf("status --all printed %q", all)
	}
	js := w.ok("status", "--json")
	var st status
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Tokens) != 1 || st.Tokens[0].State != "valid" || st.Tokens[0].Mode != "stable" || st.ManageInstances != 1 {
		t.Errorf("status --json = %+v", st)
	}
	for _, o := range []string{out, all, js} {
		if strings.Contains(o, rec.AccessToken) || strings.Contains(o, rec.AccessToken[:16]) {
			t.Fatal("status printed the access token")
		}
	}
}

// TestThroughBridge runs kfctl against a whole egress process as
// bridge.Run starts it (embedded NATS, egress, management service).
func TestThroughBridge(t *testing.T) {
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
	cfg.NATS.Embedded.StoreDir = t.TempDir()
	cfg.Egress.Listen = "127.0.0.1:0"
	cfg.Egress.APIBase = hs.URL
	cfg.Egress.Partitions = 16
	cfg.Apps = []config.App{{AppID: appID, Secret: secret}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan bridge.Endpoints, 1)
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(ctx, &cfg, bridge.Options{Egress: true, OnReady: func(e bridge.Endpoints) { ready <- e }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bridge.Run() = %v", err)
		}
	})
	var ends bridge.Endpoints
	select {
	case ends = <-ready:
	case err := <-done:
		t.Fatalf("bridge.Run() = %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("bridge not ready")
	}
	w := &world{t: t, url: ends.NATS, sim: sim}
	// The service registers right after OnReady: wait until it answers.
	natstest.WaitFor(t, "kf add through the bridge", func() bool {
		_, err := w.kfctl("kf", "add", "--appid", appID, "--kf-wx", "agent_one")
		return err == nil
	})
	if out := w.ok("kf", "list", "--appid", appID); !strings.Contains(out, "agent_one") {
		t.Errorf("kf list printed %q", out)
	}
	if out := w.ok("status"); !strings.Contains(out, "1 instance(s)") || !strings.Contains(out, "valid") ||
		!strings.Contains(out, "(16 idle consumers not shown; --all shows them)") || strings.Contains(out, "egress-p0015") {
		t.Errorf("status printed %q", out)
	}
	if out := w.ok("status", "--all"); !strings.Contains(out, "egress-p0015") {
		t.Errorf("status --all printed %q", out)
	}
}
