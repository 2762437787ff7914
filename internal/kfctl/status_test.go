package kfctl

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/token"
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
		appID, "stable", "valid", "egress-4-0", "management service kfbridge-manage: 1 instance(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status printed %q, want %q", out, want)
		}
	}
	all := w.ok("status", "--all")
	if !strings.Contains(all, "egress-4-3") {
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
// bridge.Run starts it (embedded NATS, egress, management service) with
// its default stream storage and 16 partitions.
func TestThroughBridge(t *testing.T) {
	w := newWorld(t, func(cfg *config.Config) {
		cfg.NATS.Streams.Storage = config.Default().NATS.Streams.Storage
		cfg.Egress.Partitions = 16
	})
	w.ok("kf", "add", "--appid", appID, "--kf-wx", "agent_one")
	if out := w.ok("kf", "list", "--appid", appID); !strings.Contains(out, "agent_one") {
		t.Errorf("kf list printed %q", out)
	}
	if out := w.ok("status"); !strings.Contains(out, "1 instance(s)") || !strings.Contains(out, "valid") ||
		!strings.Contains(out, "(16 idle consumers not shown; --all shows them)") || strings.Contains(out, "egress-16-15") {
		t.Errorf("status printed %q", out)
	}
	if out := w.ok("status", "--all"); !strings.Contains(out, "egress-16-15") {
		t.Errorf("status --all printed %q", out)
	}
}
