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
	evicted  prometheus.Counter
	// budgetErrors counts pushes whose reply budget could not be written.
	budgetErrors prometheus.Counter

	mu       sync.RWMutex
	counters map[[3]string]prometheus.Counter
}

// newMetrics registers the ingress's metrics on reg; openConns reports the
// push listener's open connections.
func newMetrics(reg prometheus.Registerer, openConns func() int) (*metrics, error) {
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
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kfbridge_ingress_connections_evicted_total",
			Help: "Connections closed at ingress.max_conns to admit a new one (the one idle the longest).",
		}),
		budgetErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kfbridge_ingress_budget_errors_total",
			Help: "Pushes whose reply budget could not be written to WXKF_BUDGET (stored without data.reply_budget).",
		}),
		counters: map[[3]string]prometheus.Counter{},
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kfbridge_ingress_connections",
		Help: "Open connections of the push listener (capped at ingress.max_conns).",
	}, func() float64 { return float64(openConns()) })
	for _, c := range []prometheus.Collector{m.pushes, m.rejected, m.publish, m.inflight, m.evicted, m.budgetErrors, open} {
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
// kind, outcome) is small and this is the hot path. appid must be a
// configured app; kind is bounded by [kindLabel].
func (m *metrics) push(appid, kind, outcome string) {
	key := [3]string{appid, kindLabel(kind), outcome}
	m.mu.RLock()
	c, ok := m.counters[key]
	m.mu.RUnlock()
	if !ok {
		c = m.pushes.WithLabelValues(key[0], key[1], key[2])
		m.mu.Lock()
		if len(m.counters) < 10000 {
			m.counters[key] = c
		}
		m.mu.Unlock()
	}
	c.Inc()
}

// kindOther is the kind label of every push kind not in [kindLabel]'s list.
const kindOther = "other"

// kindLabel bounds the kind label, which comes from the push itself: the
// message types and event names WeChat documents for mini programs keep
// their name, anything else is "other" (its subject still carries the
// real kind).
func kindLabel(kind string) string {
	switch kind {
	case "text", "image", "miniprogrampage", // messages
		"user_enter_tempsession", "debug_demo", // customer-service events
		"subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event",
		"wxa_media_check",
		"trade_manage_remind_access_api", "trade_manage_remind_shipping", "trade_manage_order_settlement",
		"weapp_audit_success", "weapp_audit_fail":
		return kind
	}
	return kindOther
}
