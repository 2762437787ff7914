package wxpush

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// LoadReport is the outcome of [Load]. Counts, throughput and latencies
// cover the measured time only: requests started during the warmup are
// counted in WarmupSent alone, and requests cut off by the end of ctx are
// not counted at all.
type LoadReport struct {
	// URL is the push endpoint, without query.
	URL string `json:"url"`
	// Kind, Format and Mode describe the pushes.
	Kind   string `json:"kind"`
	Format string `json:"format"`
	Mode   string `json:"mode"`
	// Conns is the number of workers (and connections).
	Conns int `json:"conns"`
	// Pushes is the number of pushes generated before the run.
	Pushes int `json:"pushes"`
	// WarmupSent is the number of requests started during the warmup.
	WarmupSent int `json:"warmup_sent"`
	// Sent is Succeeded + Failed.
	Sent int `json:"sent"`
	// Succeeded counts the answers 200 with body "success" or empty.
	Succeeded int `json:"succeeded"`
	// Failed counts the rest; Failures splits it by class ("status 503",
	// "timeout", "connection refused", …).
	Failed   int            `json:"failed"`
	Failures map[string]int `json:"failures,omitempty"`
	// Elapsed is the measured time: from the end of the warmup until the
	// last worker finished its last request.
	Elapsed time.Duration `json:"-"`
	// Throughput is Succeeded per second of Elapsed.
	Throughput float64 `json:"throughput"`
	// Latency summarizes the latencies of all Sent requests.
	Latency Latency `json:"-"`
	// Exhausted is true when the run ended early because every generated
	// push was sent; raise [LoadConfig].Pushes.
	Exhausted bool `json:"exhausted"`
}

// Latency holds latency percentiles (nearest rank) and the maximum.
type Latency struct {
	// P50, P90, P99 and P999 are the 50th, 90th, 99th and 99.9th
	// percentiles.
	P50, P90, P99, P999 time.Duration
	// Max is the slowest request.
	Max time.Duration
}

// MarshalJSON writes r with Throughput rounded to 0.1, Elapsed in seconds
// as "elapsed_s" and the latencies in milliseconds under "latency_ms".
func (r LoadReport) MarshalJSON() ([]byte, error) {
	type plain LoadReport
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return json.Marshal(struct {
		plain
		Throughput float64            `json:"throughput"`
		ElapsedS   float64            `json:"elapsed_s"`
		LatencyMS  map[string]float64 `json:"latency_ms"`
	}{
		plain:      plain(r),
		Throughput: math.Round(r.Throughput*10) / 10,
		ElapsedS:   math.Round(r.Elapsed.Seconds()*1e3) / 1e3,
		LatencyMS: map[string]float64{
			"p50": ms(r.Latency.P50), "p90": ms(r.Latency.P90), "p99": ms(r.Latency.P99),
			"p99.9": ms(r.Latency.P999), "max": ms(r.Latency.Max),
		},
	})
}

// merge adds up the workers' counts and latencies; measure is the end of
// the warmup.
func (r *LoadReport) merge(workers []*loadWorker, measure time.Time) {
	n := 0
	var stopped time.Time
	for _, w := range workers {
		n += len(w.lat)
		if w.stopped.After(stopped) {
			stopped = w.stopped
		}
	}
	lat := make([]time.Duration, 0, n)
	for _, w := range workers {
		lat = append(lat, w.lat...)
		r.WarmupSent += w.warm
		r.Sent += w.sent
		r.Succeeded += w.ok
		for class, c := range w.fails {
			if r.Failures == nil {
				r.Failures = map[string]int{}
			}
			r.Failures[class] += c
			r.Failed += c
		}
	}
	if stopped.After(measure) {
		r.Elapsed = stopped.Sub(measure)
		r.Throughput = float64(r.Succeeded) / r.Elapsed.Seconds()
	}
	slices.Sort(lat)
	r.Latency = Latency{
		P50:  percentile(lat, 50),
		P90:  percentile(lat, 90),
		P99:  percentile(lat, 99),
		P999: percentile(lat, 99.9),
	}
	if len(lat) > 0 {
		r.Latency.Max = lat[len(lat)-1]
	}
}

// percentile returns the nearest-rank p-th percentile of sorted, 0 when it
// is empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// WriteText writes r for people, one aspect per line.
func (r *LoadReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target      %s  (%s, %s, %s)\n", r.URL, r.Kind, r.Format, r.Mode)
	fmt.Fprintf(&b, "load        %d conns, %d pushes generated\n", r.Conns, r.Pushes)
	fmt.Fprintf(&b, "sent        %d  (+%d during warmup)\n", r.Sent, r.WarmupSent)
	fmt.Fprintf(&b, "succeeded   %d\n", r.Succeeded)
	fmt.Fprintf(&b, "failed      %d", r.Failed)
	if len(r.Failures) > 0 {
		var parts []string
		for _, class := range slices.Sorted(maps.Keys(r.Failures)) {
			parts = append(parts, fmt.Sprintf("%s: %d", class, r.Failures[class]))
		}
		fmt.Fprintf(&b, "  (%s)", strings.Join(parts, ", "))
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "throughput  %.1f pushes/s over %s\n", r.Throughput, r.Elapsed.Round(time.Millisecond))
	d := func(x time.Duration) string { return x.Round(time.Microsecond).String() }
	fmt.Fprintf(&b, "latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		d(r.Latency.P50), d(r.Latency.P90), d(r.Latency.P99), d(r.Latency.P999), d(r.Latency.Max))
	if r.Exhausted {
		b.WriteString("note        ran out of generated pushes before the time was up: raise --pushes\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RunLoad runs [Load] and writes its report to w: as text, or as one JSON
// object on one line when asJSON is true.
func RunLoad(ctx context.Context, cfg LoadConfig, w io.Writer, asJSON bool) error {
	r, err := Load(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	return r.WriteText(w)
}
