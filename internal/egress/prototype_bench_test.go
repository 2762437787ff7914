package egress

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkEgressPrototypes measures, beside the naive baseline and today's
// egress, cheap variants of the egress's JetStream topology that need no
// change to its code — prototypes for issue 11, not wired in:
//
//   - memstate: the same 256 partition consumers with MemoryStorage, so
//     nats-server keeps their delivery and ack state in memory instead of
//     rewriting a state file per consumer up to 10 times a second
//     (consumerFileStore.writeState, the largest cost in the profile).
//
//   - p16: 16 partitions instead of 256 (16 state files, at most 16
//     conversations' commands in flight).
//
//     go test -run '^$' -bench EgressPrototypes -benchtime 20000x ./internal/egress/
func BenchmarkEgressPrototypes(b *testing.B) {
	memState := func(b *testing.B, e *env, eg *Egress) {
		ctx := b.Context()
		for p := range eg.cfg.Partitions {
			cfg := eg.consumerConfig(p)
			cfg.MemoryStorage = true
			if err := eg.out.DeleteConsumer(ctx, cfg.Durable); err != nil {
				b.Fatal(err)
			}
			if _, err := eg.out.CreateConsumer(ctx, cfg); err != nil {
				b.Fatal(err)
			}
		}
	}
	partitions := func(n int) func(*testing.B, *env, *Egress) {
		return func(b *testing.B, e *env, eg *Egress) {
			ctx := b.Context()
			for p := range eg.cfg.Partitions {
				if err := eg.out.DeleteConsumer(ctx, consumerName(p)); err != nil {
					b.Fatal(err)
				}
			}
			eg.cfg.Partitions = n
			if err := eg.Setup(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		for _, v := range []struct {
			name    string
			impl    string
			prepare func(*testing.B, *env, *Egress)
		}{
			{"naive", "naive", nil},
			{"egress", "egress", nil},
			{"egress-memstate", "egress", memState},
			{"egress-p16", "egress", partitions(16)},
		} {
			b.Run(fmt.Sprintf("latency=%v/impl=%s", latency, v.name), func(b *testing.B) {
				runBaselineBench(b, latency, v.impl, v.prepare)
			})
		}
	}
}
