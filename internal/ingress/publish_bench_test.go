package ingress

import (
	"context"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// benchTraceParent stands for the traceparent every push carries.
const benchTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// BenchmarkPublishPath is the ablation that justifies [Publisher]: the
// whole pipeline of BenchmarkPipeline (same pushes, 64 goroutines,
// embedded JetStream), publishing once with the ingress's own publisher
// (one ack subscription, routed by counter, PubAck scanner, pooled
// messages; the ack timeout set as in the server) and once with nats.go's
// jetstream.PublishMsg bounded by a context timeout per push, as a plain
// ingress would. Keep Publisher only while "own" is faster end to end.
func BenchmarkPublishPath(b *testing.B) {
	const timeout = 3 * time.Second // ingress.publish_timeout's default
	decode := func(e *env, bp *benchPush) (events.Inbound, error) {
		p, err := e.codec.Decode(bp.q, bp.body)
		if err != nil {
			return events.Inbound{}, err
		}
		return events.NewInbound(testAppID, &p.Message)
	}
	b.Run("own", func(b *testing.B) {
		e := newEnv(b, nil)
		pub := NewPublisher(e.js, WithAckTimeout(timeout))
		b.Cleanup(func() { pub.Close() })
		runPipeline(b, e, func(ctx context.Context, bp *benchPush) error {
			in, err := decode(e, bp)
			if err != nil {
				return err
			}
			_, err = pub.PublishInbound(ctx, &in, benchTraceParent)
			return err
		})
	})
	b.Run("jetstream", func(b *testing.B) {
		e := newEnv(b, nil)
		runPipeline(b, e, func(ctx context.Context, bp *benchPush) error {
			in, err := decode(e, bp)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			ack, err := e.js.PublishMsg(ctx, in.Msg(benchTraceParent))
			if err != nil {
				return err
			}
			_ = ack.Duplicate // read, as the handler reads it
			return nil
		})
	})
}
