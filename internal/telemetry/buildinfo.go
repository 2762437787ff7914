package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/buildinfo"
)

// BuildInfo returns the kfbridge_build_info gauge: always 1, with the build's
// version, revision and Go version as labels (one series per binary).
func BuildInfo(info buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kfbridge_build_info",
		Help: "The running kfbridge build: always 1, labelled with version, revision and goversion.",
		ConstLabels: prometheus.Labels{
			"version": info.Version, "revision": info.Revision, "goversion": info.GoVersion,
		},
	})
	g.Set(1)
	return g
}
