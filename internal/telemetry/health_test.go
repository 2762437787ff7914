package telemetry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/internal/telemetry"
)

func TestHealthHandler(t *testing.T) {
	var egressErr error
	ran := 0
	h := telemetry.HealthHandler(telemetry.NewRegistry(),
		func(context.Context) error { ran++; return nil },
		func(context.Context) error { return egressErr },
		func(context.Context) error { ran++; return nil })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready" || ran != 2 {
		t.Errorf("/readyz = %d %q after %d checks, want 200 ready after every check", code, body, ran)
	}
	egressErr = errors.New("stream WXKF_OUT: timeout")
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "not ready: stream WXKF_OUT: timeout") || ran != 3 {
		t.Errorf("/readyz with a failing check = %d %q (%d checks ran), want 503 naming it, later checks skipped", code, body, ran)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, %d bytes", code, len(body))
	}
}
