package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTelemetryOTLP: span export is off by default, the endpoint and the
// service name come from the file or KFBRIDGE_ variables, and an endpoint
// that is not a plain http(s) URL is refused without echoing it (it could
// carry credentials).
func TestTelemetryOTLP(t *testing.T) {
	if ep := Default().Telemetry.OTLP.Endpoint; ep != "" {
		t.Errorf("default telemetry.otlp.endpoint = %q, want empty (off)", ep)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("telemetry:\n  otlp:\n    endpoint: http://collector:4318\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env(map[string]string{"KFBRIDGE_TELEMETRY_OTLP_SERVICE_NAME": "bridge-a"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Telemetry.OTLP.Endpoint != "http://collector:4318" || cfg.Telemetry.OTLP.ServiceName != "bridge-a" {
		t.Errorf("telemetry.otlp = %+v", cfg.Telemetry.OTLP)
	}
	if err := CheckEnviron([]string{"KFBRIDGE_TELEMETRY_OTLP_ENDPOINT=https://c:4318"}, nil); err != nil {
		t.Errorf("CheckEnviron(KFBRIDGE_TELEMETRY_OTLP_ENDPOINT) = %v", err)
	}
	for _, ep := range []string{"collector:4318", "ftp://c:21", "http://", "https://user:s3cret@c:4318", "http://c:4318?token=s3cret", "http://c:4318/#x"} {
		cfg := Default()
		cfg.Telemetry.OTLP.Endpoint = ep
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "telemetry.otlp.endpoint") {
			t.Errorf("Validate(endpoint %q) = %v, want %v naming the key", ep, err, ErrInvalid)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Validate(endpoint %q) = %v: echoes the secret", ep, err)
		}
	}
}
