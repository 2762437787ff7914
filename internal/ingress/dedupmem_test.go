package ingress

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// BenchmarkDuplicateWindowMemory measures what each id inside the
// duplicate window costs the NATS server's heap: b.N small pushes are
// stored with and without a Nats-Msg-Id like the ingress's, and the
// difference of the heap in use afterwards, per push, is the cost of one
// remembered id (reported as heap-B/push; subtract "without-id" from
// "with-id").
func BenchmarkDuplicateWindowMemory(b *testing.B) {
	for _, withID := range []bool{false, true} {
		name := "without-id"
		if withID {
			name = "with-id"
		}
		b.Run(name, func(b *testing.B) {
			s := natstest.RunServer(b)
			_, js := natstest.Connect(b, s)
			sc := events.InboundStream()
			sc.Duplicates = time.Hour
			if _, err := js.CreateOrUpdateStream(b.Context(), sc); err != nil {
				b.Fatal(err)
			}
			before := heapInUse()
			b.ResetTimer()
			for i := range b.N {
				m := nats.NewMsg("wxkf.in.wx0123456789abcdef.0.o9AgO5Kd5ggOC-bXrbNODIiE3bGY.text")
				m.Data = []byte("x")
				if withID {
					m.Header.Set(jetstream.MsgIDHeader, "wx0123456789abcdef:"+strconv.Itoa(7_000_000_000_000_000_000+i))
				}
				if _, err := js.PublishMsgAsync(m); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			b.StopTimer()
			b.ReportMetric(float64(heapInUse()-before)/float64(b.N), "heap-B/push")
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}
