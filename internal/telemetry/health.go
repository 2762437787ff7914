package telemetry

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one part of a process is ready to serve; nil means
// ready. Each part contributes its own (the ingress, the egress, the
// management service, the NATS connection).
type Check func(ctx context.Context) error

// ReadyTimeout bounds the checks of one /readyz request.
const ReadyTimeout = 2 * time.Second

// HealthHandler returns the handler of a process's admin listener, the one
// place kfbridge builds it:
//
//   - GET /healthz answers 200 "ok" while the process serves HTTP;
//   - GET /readyz runs the checks in order, within [ReadyTimeout], and
//     answers 200 "ready" when all pass, 503 with the first failure
//     otherwise;
//   - GET /metrics serves reg.
func HealthHandler(reg prometheus.Gatherer, checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		for _, check := range checks {
			if err := check(ctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("ready"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
