package ingress

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kfbridge/kfbridge/bench/naive"
	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// benchPush is one signed push ready to send.
type benchPush struct {
	q     wxcodec.Query
	query string
	body  []byte
}

// makePushes builds n distinct safe-mode pushes (unique MsgIds, so the
// duplicate window drops none).
func makePushes(tb testing.TB, codec *wxcodec.Codec, f wxcodec.Format, n int) []benchPush {
	return makeUserPushes(tb, codec, f, n, 1)
}

// makeUserPushes builds n distinct safe-mode pushes from users users in
// turn (users 0: a new user for every push).
func makeUserPushes(tb testing.TB, codec *wxcodec.Codec, f wxcodec.Format, n, users int) []benchPush {
	tb.Helper()
	out := make([]benchPush, n)
	ts := strconv.FormatInt(fixedNow.Unix(), 10)
	for i := range out {
		from := "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"
		switch {
		case users == 0:
			from += "-" + strconv.Itoa(i)
		case users > 1:
			from += "-" + strconv.Itoa(i%users)
		}
		m := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: from,
			CreateTime: fixedNow.Unix(), MsgType: "text", MsgID: strconv.Itoa(7_000_000_000 + i),
			Content: "你好, I would like to know where my order is. 订单号 1234567890"}
		q, body, err := codec.EncodePush(rand.Reader, f, wxcodec.ModeSafe, m, ts, strconv.Itoa(i))
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = benchPush{q: q, query: queryValues(q).Encode(), body: body}
	}
	return out
}

func newNaive(tb testing.TB, e *env) *naive.Pipeline {
	p, err := naive.New(e.js, testAppID, testToken, testKey)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkPipeline runs verify → decrypt → parse → event → publish with
// JetStream ack for safe-mode XML pushes, 64 concurrent publishers on an
// embedded server: kfbridge's path against the naive one.
func BenchmarkPipeline(b *testing.B) {
	b.Run("naive", func(b *testing.B) {
		e := newEnv(b, nil)
		p := newNaive(b, e)
		runPipeline(b, e, func(ctx context.Context, bp *benchPush) error { return p.Handle(ctx, bp.q, bp.body) })
	})
	b.Run("kfbridge", func(b *testing.B) {
		e := newEnv(b, nil)
		runPipeline(b, e, kfbridgeStep(e.codec, NewPublisher(e.js)))
	})
}

// kfbridgeStep is kfbridge's pipeline for one push, without HTTP: decode,
// build the event, publish it and wait for its ack.
func kfbridgeStep(codec *wxcodec.Codec, pub *Publisher) func(context.Context, *benchPush) error {
	return func(ctx context.Context, bp *benchPush) error {
		p, err := codec.Decode(bp.q, bp.body)
		if err != nil {
			return err
		}
		in, err := events.NewInbound(testAppID, &p.Message)
		if err != nil {
			return err
		}
		_, err = pub.PublishInbound(ctx, &in, "")
		return err
	}
}

func runPipeline(b *testing.B, e *env, step func(context.Context, *benchPush) error) {
	pushes := makePushes(b, e.codec, wxcodec.FormatXML, b.N)
	var next atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := next.Add(1) - 1
			if err := step(ctx, &pushes[i%int64(len(pushes))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
}

// BenchmarkHTTP serves the pipeline over real HTTP on loopback and drives it
// with 64 keep-alive connections from the same process, reporting pushes/s
// and latency percentiles: the in-repo comparison of the naive handler
// against kfbridge's ingress. (cmd/wxsim load measures a separate process.)
func BenchmarkHTTP(b *testing.B) {
	b.Run("naive", func(b *testing.B) {
		e := newEnv(b, nil)
		p := newNaive(b, e)
		runHTTP(b, e, p.Router())
	})
	b.Run("kfbridge", func(b *testing.B) {
		e := newEnv(b, func(c *Config) { c.Ingress.TimestampWindow = 0 })
		runHTTP(b, e, e.srv.Handler())
	})
	// With span export on: the SDK's batching processor, to an exporter
	// that drops the batches.
	b.Run("kfbridge-traced", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
		defer tp.Shutdown(context.Background())
		e := newEnv(b, func(c *Config) { c.Ingress.TimestampWindow = 0; c.TracerProvider = tp })
		runHTTP(b, e, e.srv.Handler())
	})
}

// BenchmarkHTTPBudget is BenchmarkHTTP's kfbridge run with pushes from
// 1000 users in turn, without reply budgets (egress.reply_budget off) and
// with them (observe or enforce: the ingress grants the same way), and with
// a new user for every push (each grant creates a key).
func BenchmarkHTTPBudget(b *testing.B) {
	run := func(b *testing.B, tracked bool, users int) {
		e := newEnv(b, func(c *Config) {
			c.Ingress.TimestampWindow = 0
			if tracked {
				tr, err := budget.Open(b.Context(), c.JetStream, budget.Config{Storage: jetstream.FileStorage})
				if err != nil {
					b.Fatal(err)
				}
				c.Budget = tr
			}
		})
		runHTTPWith(b, e, e.srv.Handler(), makeUserPushes(b, e.codec, wxcodec.FormatXML, b.N, users))
	}
	b.Run("off", func(b *testing.B) { run(b, false, 1000) })
	b.Run("tracked", func(b *testing.B) { run(b, true, 1000) })
	b.Run("tracked-new-users", func(b *testing.B) { run(b, true, 0) })
}

// discardExporter drops the spans it is handed.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkHTTPBudgetLatency is BenchmarkHTTPBudget off and tracked with
// 4 connections instead of 64: a light load, where a push's latency is
// its round trips rather than queueing for the CPU, so what granting adds
// to each push's answer shows in p50.
func BenchmarkHTTPBudgetLatency(b *testing.B) {
	run := func(b *testing.B, tracked bool) {
		e := newEnv(b, func(c *Config) {
			c.Ingress.TimestampWindow = 0
			if tracked {
				tr, err := budget.Open(b.Context(), c.JetStream, budget.Config{Storage: jetstream.FileStorage})
				if err != nil {
					b.Fatal(err)
				}
				c.Budget = tr
			}
		})
		ln := listenLoopback(b)
		srv := &http.Server{Handler: e.srv.Handler()}
		go srv.Serve(ln)
		defer srv.Close()
		postAllWith(b, ln.Addr().String(), makeUserPushes(b, e.codec, wxcodec.FormatXML, b.N, 1000), 4)
	}
	b.Run("off", func(b *testing.B) { run(b, false) })
	b.Run("tracked", func(b *testing.B) { run(b, true) })
}

func runHTTP(b *testing.B, e *env, h http.Handler) {
	runHTTPWith(b, e, h, makePushes(b, e.codec, wxcodec.FormatXML, b.N))
}

func runHTTPWith(b *testing.B, e *env, h http.Handler, pushes []benchPush) {
	ln := listenLoopback(b)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	postAll(b, ln.Addr().String(), pushes)
}

// postAll posts every push to the ingress listening at addr over 64
// keep-alive connections, with the benchmark timer running only while it
// posts, and reports pushes/s and the p50 and p99 latencies.
func postAll(b *testing.B, addr string, pushes []benchPush) {
	postAllWith(b, addr, pushes, 64)
}

// postAllWith is postAll over conns connections.
func postAllWith(b *testing.B, addr string, pushes []benchPush, conns int) {
	base := "http://" + addr + "/wx/" + testAppID + "?"
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	urls := make([]string, len(pushes))
	for i := range pushes {
		urls[i] = base + pushes[i].query
	}
	lat := make([]time.Duration, len(pushes))
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(pushes)) {
					return
				}
				start := time.Now()
				resp, err := client.Post(urls[i], "text/xml", bytes.NewReader(pushes[i].body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(len(pushes))/b.Elapsed().Seconds(), "pushes/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
