package handover

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Decision outcomes, the outcome label of
// kfbridge_ingress_handover_decisions_total.
const (
	OutcomeTransfer    = "transfer"
	OutcomeKeep        = "keep"
	OutcomeTimeout     = "timeout"
	OutcomeNoResponder = "no_responder"
	OutcomeError       = "error"
)

type metrics struct {
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_ingress_handover_decisions_total",
			Help: "Handover decisions on user messages, by app, mode (always, rules, bot) and outcome (transfer, keep, timeout, no_responder, error).",
		}, []string{"appid", "mode", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kfbridge_ingress_handover_decision_seconds",
			Help:    "Time from a decision request to its answer (or the deadline), by mode.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2},
		}, []string{"mode"}),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
