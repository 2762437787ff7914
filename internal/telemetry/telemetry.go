// Package telemetry holds what kfbridge's parts share for observability: the
// Prometheus registry every part registers its metrics in, the handler of
// /healthz, /readyz and /metrics ([HealthHandler]) to which each part
// contributes a readiness [Check], W3C trace context, and the OpenTelemetry
// span export the parts share when it is on ([NewTracerProvider]; off, the
// parts are handed no provider and record nothing).
//
// # Concurrency
//
// A registry and the health handler are safe for concurrent use.
//
// # Errors
//
// [NewRegistry] cannot fail: its collectors are registered on a fresh
// registry, where names cannot clash.
package telemetry

import (
	"github.com/kfbridge/kfbridge/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry is where a part registers its metrics and what /metrics serves.
// A [prometheus.Registry] is one; a test may wrap one to see every
// descriptor registered.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// NewRegistry returns a registry with the Go runtime and process collectors
// and kfbridge_build_info.
// Each process owns one; nothing registers in the global default registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		BuildInfo(buildinfo.Read()))
	return reg
}
