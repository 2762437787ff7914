package broker

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// BenchmarkPushPublish measures what the ingress pays per push for the
// account model: JetStream publishes of 1 KiB pushes into WXKF_IN (file
// storage, 2-minute sync, so the disk does not hide the difference) by 64
// concurrent publishers, on a server as earlier versions ran it (global
// account only) against the embedded server with bot accounts; each with
// no core subscriber, and with two bots subscribed to the pushes (plain
// subscriptions there, stream imports here).
func BenchmarkPushPublish(b *testing.B) {
	users := []config.User{{User: "bot1", Password: "p1"}, {User: "bot2", Password: "p2"}, {User: "ops", Password: "p3", Role: "bridge"}}
	for _, subscribed := range []bool{false, true} {
		b.Run(fmt.Sprintf("global/bots-subscribed=%v", subscribed), func(b *testing.B) {
			s := natstest.RunServerWith(b, func(o *server.Options) { o.SyncInterval = 2 * time.Minute })
			_, js := natstest.ConnectURL(b, s.ClientURL(), nats.InProcessServer(s))
			cfg := events.InboundStream()
			ApplyStreamSettings(&cfg, config.Default().NATS.Streams)
			if _, err := js.CreateOrUpdateStream(b.Context(), cfg); err != nil {
				b.Fatal(err)
			}
			if subscribed {
				for range 2 {
					subscribePushes(b, connectBot(b, s.ClientURL(), "", ""))
				}
			}
			runPublish(b, js)
		})
		b.Run(fmt.Sprintf("accounts/bots-subscribed=%v", subscribed), func(b *testing.B) {
			br, _ := openEmbedded(b, users, func(c *config.NATS) { c.Embedded.Sync = "2m" })
			if subscribed {
				for _, u := range users[:2] {
					subscribePushes(b, connectBot(b, br.Server.ClientURL(), u.User, u.Password.Value()))
				}
			}
			runPublish(b, br.JS)
		})
	}
}

func subscribePushes(b *testing.B, nc *nats.Conn) {
	if _, err := nc.Subscribe(events.InboundSubjects, func(*nats.Msg) {}); err != nil {
		b.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
}

func runPublish(b *testing.B, js jetstream.JetStream) {
	body := bytes.Repeat([]byte("x"), 1024)
	var n atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			if _, err := js.Publish(ctx, fmt.Sprintf("wxkf.in.wx0123456789abcdef.0.oU%d.text", i%1000), body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
	// The process's CPU per push (server and clients run in it): less
	// sensitive than throughput to other load on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/push")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
