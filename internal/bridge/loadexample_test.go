package bridge

import (
	"os"
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/internal/demo"
)

// TestLoadExample: README's load example targets bench/load.yaml with the
// ingress alone (no echo bot answering the load), and that configuration
// passes the check for the demo app wxsim sends as by default.
func TestLoadExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const target = "go run ./cmd/ingress --config bench/load.yaml"
	if !strings.Contains(string(readme), target) {
		t.Errorf("README: no %q", target)
	}
	for line := range strings.SplitSeq(string(readme), "\n") {
		if strings.Contains(line, "wxsim load") && strings.Contains(line, "--demo") {
			t.Errorf("README still loads the demo: %s", line)
		}
	}
	tmp := t.TempDir()
	cfg, err := LoadConfig("../../bench/load.yaml", []string{"TMPDIR=" + tmp})
	if err != nil {
		t.Fatalf("bench/load.yaml: %v", err)
	}
	if len(cfg.Apps) != 1 || cfg.Apps[0].AppID != demo.AppID || cfg.Apps[0].Token.Value() != demo.Token || cfg.Apps[0].EncodingAESKey.Value() != demo.EncodingAESKey {
		t.Errorf("bench/load.yaml apps = %v, want the demo app", cfg.Apps)
	}
	if "http://"+cfg.Ingress.Listen != demo.IngressURL {
		t.Errorf("bench/load.yaml ingress.listen = %s, want wxsim's default target %s", cfg.Ingress.Listen, demo.IngressURL)
	}
	if want := tmp + "/kfbridge-load"; cfg.NATS.Embedded.StoreDir != want {
		t.Errorf("store_dir = %q, want %q", cfg.NATS.Embedded.StoreDir, want)
	}
	// On free ports, so that the check passes beside a running demo.
	cfg.Ingress.Listen, cfg.Ingress.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	if err := Check(cfg, Options{Ingress: true}); err != nil {
		t.Errorf("check bench/load.yaml: %v", err)
	}
}
