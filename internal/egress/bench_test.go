package egress

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// BenchmarkThroughput measures commands/s of one egress process against the
// simulator: b.N commands (5 per conversation, the send window's allowance)
// are stored first, then the egress starts and the clock runs until the
// b.N-th result. Shipped settings (see shipped).
//
//	go test -run '^$' -bench Throughput -benchtime 3000x ./internal/egress/
func BenchmarkThroughput(b *testing.B) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", latency), func(b *testing.B) {
			e := newEnv(b, wxsim.SimConfig{Latency: latency}, shipped)
			// Streams and consumers exist before the commands are stored.
			eg := e.newEgress(e.js)
			storeSends(b, e, b.N)
			res := runTimed(b, e, eg)
			for id, r := range res {
				if r.Data.Outcome != events.OutcomeDelivered {
					b.Fatalf("%s: %+v", id, r.Data)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}

// runTimed runs eg over the commands stored, timing it until b.N results
// are stored, and returns them.
func runTimed(b *testing.B, e *env, eg *Egress) map[string]events.ResultEvent {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- eg.Run(ctx) }()
	res := e.results(b.N)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return res
}
