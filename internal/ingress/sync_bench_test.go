package ingress

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// BenchmarkPipelineSync is BenchmarkPipeline's kfbridge path on a file
// store with each of nats.embedded.sync's policies: "always" (fsync before
// every ack, the default) against nats-server's own 2-minute interval.
func BenchmarkPipelineSync(b *testing.B) {
	for _, bc := range []struct {
		name   string
		always bool
	}{{"interval=2m", false}, {"always", true}} {
		b.Run(bc.name, func(b *testing.B) {
			js := syncServer(b, bc.always)
			codec, err := wxcodec.New(testAppID, testToken, testKey)
			if err != nil {
				b.Fatal(err)
			}
			runPipeline(b, &env{js: js, codec: codec}, kfbridgeStep(codec, NewPublisher(js)))
		})
	}
}

// syncServer starts a server as broker.StartEmbedded configures it for
// nats.embedded.sync, with the push stream on file storage.
func syncServer(b *testing.B, always bool) jetstream.JetStream {
	b.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(), NoLog: true, NoSigs: true}
	if always {
		opts.SyncAlways = true
	} else {
		opts.SyncInterval = 2 * time.Minute
	}
	s, err := server.NewServer(opts)
	if err != nil {
		b.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats not ready")
	}
	b.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateOrUpdateStream(b.Context(), events.InboundStream()); err != nil {
		b.Fatal(err)
	}
	return js
}
