package ingress

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/examples/handoverbot"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// handoverPushes builds n distinct safe-mode XML text pushes over 100
// conversations; every other one asks for a human ("我要人工").
func handoverPushes(tb testing.TB, codec *wxcodec.Codec, n int) []benchPush {
	tb.Helper()
	out := make([]benchPush, n)
	ts := strconv.FormatInt(fixedNow.Unix(), 10)
	for i := range out {
		content := "where is my order 1234567890?"
		if i%2 == 1 {
			content = "我要人工, order 1234567890"
		}
		m := wxcodec.Message{ToUserName: "gh_97417a04a28d", FromUserName: fmt.Sprintf("oBench%03d", i%100),
			CreateTime: fixedNow.Unix(), MsgType: "text", MsgID: strconv.Itoa(8_000_000_000 + i), Content: content}
		q, body, err := codec.EncodePush(rand.Reader, wxcodec.FormatXML, wxcodec.ModeSafe, m, ts, strconv.Itoa(i))
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = benchPush{q: q, query: queryValues(q).Encode(), body: body}
	}
	return out
}

// runHandoverBot runs the example handover bot on a connection of its own
// until the benchmark ends, and waits until it answers.
func runHandoverBot(tb testing.TB, e *env) {
	tb.Helper()
	nc, err := nats.Connect(e.js.Conn().ConnectedUrl())
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- handoverbot.Run(ctx, nc, handoverbot.Options{}) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
		nc.Close()
	})
	probe := e.js.Conn()
	for {
		if _, err := probe.Request("wxkf.decide.x.0.o", []byte("{}"), time.Second); err == nil {
			return
		}
		select {
		case err := <-done:
			tb.Fatalf("handoverbot: %v", err)
		default:
		}
	}
}

// BenchmarkHandoverLatency sends pushes one at a time through the handler
// (no network) and reports the latency of each answer: mode never (today's
// path), mode bot with no responder (the server answers "no responders"
// at once) and mode bot with the example bot answering (half of the
// messages are handed over: KV record and transferred event). The
// difference of the first two is what an unanswered decision adds.
func BenchmarkHandoverLatency(b *testing.B) {
	for _, tc := range []struct {
		name, mode string
		bot        bool
	}{
		{"mode=never", config.HandoverNever, false},
		{"mode=bot/responder=none", config.HandoverBot, false},
		{"mode=bot/responder=handoverbot", config.HandoverBot, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b, func(c *Config) { c.Apps[0].Handover.Mode = tc.mode })
			if tc.bot {
				runHandoverBot(b, e)
			}
			pushes := handoverPushes(b, e.codec, b.N)
			h := e.srv.Handler()
			lat := make([]time.Duration, b.N)
			transfers := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range pushes {
				req := httptest.NewRequest(http.MethodPost, "/wx/"+testAppID+"?"+pushes[i].query, bytes.NewReader(pushes[i].body))
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				lat[i] = time.Since(start)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if rec.Body.String() != "success" {
					transfers++
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
			b.ReportMetric(float64(transfers)/float64(b.N), "transfers/op")
		})
	}
}

// BenchmarkHandoverOpenLoop sends b.N pushes over HTTP on loopback at a
// fixed rate (-handover.rate, default 200/s) whatever the answers do, to an
// app in mode bot with the example bot answering (every other message is
// handed over), and reports the latency of the whole answer from each
// push's scheduled time (no coordinated omission).
//
//	go test -run '^$' -bench HandoverOpenLoop -benchtime 6000x ./internal/ingress/
func BenchmarkHandoverOpenLoop(b *testing.B) {
	const rate = 200
	e := newEnv(b, func(c *Config) { c.Apps[0].Handover.Mode = config.HandoverBot })
	runHandoverBot(b, e)
	pushes := handoverPushes(b, e.codec, b.N)
	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	base := srv.URL + "/wx/" + testAppID + "?"
	lat := make([]time.Duration, b.N)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		transfers int
		lag       time.Duration
	)
	interval := time.Second / rate
	b.ResetTimer()
	start := time.Now()
	for i := range pushes {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d) // the schedule of an open-loop load, not test ordering
		} else if -d > lag {
			lag = -d
		}
		wg.Go(func() {
			resp, err := client.Post(base+pushes[i].query, "text/xml", bytes.NewReader(pushes[i].body))
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(at)
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			if !strings.HasPrefix(string(body), "success") {
				mu.Lock()
				transfers++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, lat)
	b.ReportMetric(float64(transfers)/float64(b.N), "transfers/op")
	b.ReportMetric(float64(lag.Milliseconds()), "max-send-lag-ms")
}

// reportLatency reports p50, p99 and the maximum of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
