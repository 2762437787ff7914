package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// BenchmarkThroughput measures commands/s of one egress process against the
// simulator: b.N commands (5 per conversation, the send window's allowance)
// are stored first, then the egress starts and the clock runs until the
// b.N-th result. Default settings: 256 partitions, concurrency 64.
//
//	go test -run '^$' -bench Throughput -benchtime 3000x ./internal/egress/
func BenchmarkThroughput(b *testing.B) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", latency), func(b *testing.B) {
			e := newEnv(b, wxsim.SimConfig{Latency: latency}, func(c *config.Egress) {
				d := config.Default().Egress
				c.Partitions, c.Concurrency, c.AckWait, c.RetryBudget = d.Partitions, d.Concurrency, d.AckWait, d.RetryBudget
			})
			// Streams and consumers exist before the commands are stored.
			eg := e.newEgress(e.js)
			var futures []jetstream.PubAckFuture
			for i := range b.N {
				openid := fmt.Sprintf("oB%06d", i/5)
				if i%5 == 0 {
					e.interact("0", openid)
				}
				id := fmt.Sprintf("b-%d", i)
				data, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "type": "weixin.kf.command.send", "data": text("x")})
				msg := nats.NewMsg(fmt.Sprintf("wxkf.out.%s.0.%s.send", appID, openid))
				msg.Data = data
				msg.Header.Set(nats.MsgIdHdr, id)
				f, err := e.js.PublishMsgAsync(msg)
				if err != nil {
					b.Fatal(err)
				}
				futures = append(futures, f)
			}
			for _, f := range futures {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatal(err)
				}
			}
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
			for id, r := range res {
				if r.Data.Outcome != events.OutcomeDelivered {
					b.Fatalf("%s: %+v", id, r.Data)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}
