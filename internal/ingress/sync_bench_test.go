package ingress

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
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
	s := natstest.RunServerWith(b, func(o *server.Options) {
		if always {
			o.SyncAlways = true
		} else {
			o.SyncInterval = 2 * time.Minute
		}
	})
	_, js := natstest.Connect(b, s)
	if _, err := js.CreateOrUpdateStream(b.Context(), events.InboundStream()); err != nil {
		b.Fatal(err)
	}
	return js
}
