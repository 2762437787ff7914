package ingress

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Push outcomes, the outcome label of kfbridge_ingress_pushes_total.
const (
	outcomePublished = "published"
	outcomeDuplicate = "duplicate"
	outcomeFailed    = "publish_failed"
)

type metrics struct {
	pushes   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	publish  prometheus.Histogram
	inflight prometheus.Gauge
	previous *prometheus.CounterVec

	mu       sync.RWMutex
	counters map[[3]string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_ingress_pushes_total",
			Help: "Pushes that passed verification, by app, kind and outcome (published, duplicate, publish_failed).",
		}, []string{"appid", "kind", "outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_ingress_rejected_total",
			Help: "Requests rejected before publishing, by app and reason.",
		}, []string{"appid", "reason"}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kfbridge_ingress_publish_seconds",
			Help:    "Time from publish to JetStream ack.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kfbridge_ingress_inflight_requests",
			Help: "Push requests being processed.",
		}),
		counters: map[[3]string]prometheus.Counter{},
	}
	for _, c := range []prometheus.Collector{m.pushes, m.rejected, m.publish, m.inflight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.previous = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kfbridge_ingress_previous_secret_pushes_total",
		Help: "Pushes accepted only with an app's previous_token or previous_encoding_aes_key (key rotation), by app.",
	}, []string{"appid"})
	if err := reg.Register(m.previous); err != nil {
		return nil, err
	}
	return m, nil
}

// push counts one push; label lookups are cached since the set of (app,
// kind, outcome) is small and this is the hot path.
func (m *metrics) push(appid, kind, outcome string) {
	key := [3]string{appid, kind, outcome}
	m.mu.RLock()
	c, ok := m.counters[key]
	m.mu.RUnlock()
	if !ok {
		c = m.pushes.WithLabelValues(appid, kind, outcome)
		m.mu.Lock()
		if len(m.counters) < 10000 {
			m.counters[key] = c
		}
		m.mu.Unlock()
	}
	c.Inc()
}
