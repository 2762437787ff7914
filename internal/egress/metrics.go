package egress

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	commands   *prometheus.CounterVec
	apiSeconds *prometheus.HistogramVec
	apiErrors  *prometheus.CounterVec
	retries    *prometheus.CounterVec
	inflight   prometheus.Gauge
	held       prometheus.Gauge

	budgetOver   *prometheus.CounterVec
	budgetMisses *prometheus.CounterVec
	// budgetCaughtUp counts grants the egress applied from a stored push.
	budgetCaughtUp prometheus.Counter
	// budgetReserved counts sends that used a reservation instead of a
	// take, budgetReturned reserved sends given back unused.
	budgetReserved, budgetReturned prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_egress_commands_total",
			Help: "Commands by final outcome (delivered, failed) and failure reason.",
		}, []string{"appid", "verb", "outcome", "reason"}),
		apiSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kfbridge_egress_api_seconds",
			Help:    "Latency of WeChat API calls by operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"op"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_egress_api_errors_total",
			Help: "WeChat API calls that failed, by operation and errcode (-1 also for transport failures).",
		}, []string{"op", "errcode"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_egress_retries_total",
			Help: "Commands put back for a later retry, by app and class (transient, quota).",
		}, []string{"appid", "class"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kfbridge_egress_inflight_commands",
			Help: "Commands a worker of this process is handling (not those whose result is being stored).",
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kfbridge_egress_held_commands",
			Help: "Commands this process holds unacknowledged: being handled, queued behind their conversation's earlier commands, or waiting for a retry.",
		}),
		budgetOver: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_egress_budget_over_total",
			Help: "Commands the reply budget predicted WeChat refuses, by egress.reply_budget mode: refused in enforce, sent anyway in observe.",
		}, []string{"mode"}),
		budgetMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfbridge_egress_budget_misses_total",
			Help: "WeChat window refusals (45015, 45047, 45080, 45081) the reply budget did not predict, by errcode: drift between the budget and WeChat.",
		}, []string{"errcode"}),
		budgetCaughtUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kfbridge_egress_budget_caught_up_total",
			Help: "User messages whose reply-budget grant the egress applied from the stored event before deciding a send, because the ingress's concurrent write was not stored yet (or failed).",
		}),
		budgetReserved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kfbridge_egress_budget_reserved_total",
			Help: "Sends (reply_budget observe) that used a send the take of their burst's first send reserved for them, instead of a take of their own.",
		}),
		budgetReturned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kfbridge_egress_budget_returned_total",
			Help: "Reserved sends (reply_budget observe) given back to their window unused.",
		}),
	}
	for _, c := range []prometheus.Collector{m.commands, m.apiSeconds, m.apiErrors, m.retries, m.inflight, m.held, m.budgetOver, m.budgetMisses, m.budgetCaughtUp, m.budgetReserved, m.budgetReturned} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
