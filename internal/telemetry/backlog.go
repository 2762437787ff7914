package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// backlogTimeout bounds the stream reads of one scrape; backlogCache is how
// long one reading serves scrapes (a scrape flood costs NATS at most one
// read per second per process).
const (
	backlogTimeout = 2 * time.Second
	backlogCache   = time.Second
)

// Backlog is a collector that reads, when scraped, what waits in JetStream:
// commands not yet acknowledged in WXKF_OUT and the age of the oldest one,
// and the dead letters in WXKF_DLQ. kfbridge_backlog_up is 0 when the last
// reading failed (the other gauges are then not reported).
type Backlog struct {
	js  jetstream.JetStream
	now func() time.Time

	waiting, oldest, dead, up *prometheus.Desc

	mu   sync.Mutex
	at   time.Time
	last backlogReading
}

type backlogReading struct {
	ok                    bool
	waiting, oldest, dead float64
}

// NewBacklog returns the collector reading js's streams.
func NewBacklog(js jetstream.JetStream) *Backlog {
	return &Backlog{
		js:  js,
		now: time.Now,
		waiting: prometheus.NewDesc("kfbridge_egress_commands_waiting",
			"Commands stored in WXKF_OUT and not yet acknowledged (queued, in handling or parked).", nil, nil),
		oldest: prometheus.NewDesc("kfbridge_egress_oldest_command_age_seconds",
			"Age of the oldest command not yet acknowledged in WXKF_OUT; 0 when none waits.", nil, nil),
		dead: prometheus.NewDesc("kfbridge_dead_letters",
			"Dead letters kept in WXKF_DLQ.", nil, nil),
		up: prometheus.NewDesc("kfbridge_backlog_up",
			"1 when the last reading of WXKF_OUT and WXKF_DLQ succeeded, else 0.", nil, nil),
	}
}

// Describe implements [prometheus.Collector].
func (b *Backlog) Describe(ch chan<- *prometheus.Desc) {
	ch <- b.waiting
	ch <- b.oldest
	ch <- b.dead
	ch <- b.up
}

// Collect implements [prometheus.Collector].
func (b *Backlog) Collect(ch chan<- prometheus.Metric) {
	r := b.read()
	if !r.ok {
		ch <- prometheus.MustNewConstMetric(b.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(b.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(b.waiting, prometheus.GaugeValue, r.waiting)
	ch <- prometheus.MustNewConstMetric(b.oldest, prometheus.GaugeValue, r.oldest)
	ch <- prometheus.MustNewConstMetric(b.dead, prometheus.GaugeValue, r.dead)
}

func (b *Backlog) read() backlogReading {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if !b.at.IsZero() && now.Sub(b.at) < backlogCache {
		return b.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	r := backlogReading{}
	out, err := b.js.Stream(ctx, events.OutboundStreamName)
	if err == nil {
		var dlq jetstream.Stream
		dlq, err = b.js.Stream(ctx, events.DeadLetterStreamName)
		if err == nil {
			o, d := out.CachedInfo().State, dlq.CachedInfo().State
			r = backlogReading{ok: true, waiting: float64(o.Msgs), dead: float64(d.Msgs)}
			if o.Msgs > 0 && !o.FirstTime.IsZero() {
				r.oldest = max(0, now.Sub(o.FirstTime).Seconds())
			}
		}
	}
	b.at, b.last = now, r
	return r
}
