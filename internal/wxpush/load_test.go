package wxpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// checkingIngress is an httptest server that decodes every push like the
// ingress, records each event id, and answers with answer.
type checkingIngress struct {
	*httptest.Server
	mu    sync.Mutex
	ids   map[string]int
	bad   []string
	conns map[string]bool
}

func newCheckingIngress(tb testing.TB, status int, answer string) *checkingIngress {
	tb.Helper()
	codec, err := wxcodec.New(demo.AppID, demo.Token, demo.EncodingAESKey, anyMode)
	if err != nil {
		tb.Fatal(err)
	}
	ci := &checkingIngress{ids: map[string]int{}, conns: map[string]bool{}}
	ci.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var p wxcodec.Push
			if p, err = codec.Decode(wxcodec.ParseQuery(r.URL.Query()), body); err == nil {
				var in events.Inbound
				if in, err = events.NewInbound(demo.AppID, &p.Message); err == nil {
					ci.mu.Lock()
					ci.ids[in.ID]++
					ci.conns[r.RemoteAddr] = true
					ci.mu.Unlock()
				}
			}
		}
		if err != nil || r.URL.Path != "/wx/"+demo.AppID {
			ci.mu.Lock()
			ci.bad = append(ci.bad, r.URL.String()+": "+errString(err))
			ci.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	tb.Cleanup(ci.Close)
	return ci
}

func errString(err error) string {
	if err == nil {
		return "wrong path"
	}
	return err.Error()
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
	}{
		{"text xml plaintext", Spec{Kind: KindText}},
		{"image json safe", Spec{Kind: KindImage, Format: wxcodec.FormatJSON, Mode: wxcodec.ModeSafe, BusinessID: 5}},
		{"events compatible", Spec{Kind: KindUserEnterTempSession, Mode: wxcodec.ModeCompatible}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := newCheckingIngress(t, http.StatusOK, "success")
			const conns, duration, warmup = 4, 300 * time.Millisecond, 50 * time.Millisecond
			start := time.Now()
			r, err := Load(t.Context(), LoadConfig{URL: ing.URL, Spec: tt.spec, Conns: conns, Duration: duration, Warmup: warmup})
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Load() error: %v", err)
			}
			checkReport(t, r)
			if r.Sent == 0 || r.Succeeded != r.Sent || r.Failed != 0 || len(r.Failures) != 0 {
				t.Errorf("Load() sent %d, succeeded %d, failed %d %v; want all succeeded", r.Sent, r.Succeeded, r.Failed, r.Failures)
			}
			// A fast stub may use up the pool before the time is over; the
			// run then stops early and says so, which is fine here.
			if r.Pushes < r.Sent+r.WarmupSent || (r.Exhausted && r.Pushes != r.Sent+r.WarmupSent) {
				t.Errorf("Load() generated %d pushes, used %d+%d, exhausted %v", r.Pushes, r.WarmupSent, r.Sent, r.Exhausted)
			}
			// It stops by itself (timing is for benchmarks, not asserted here).
			if r.Elapsed <= 0 || took > time.Minute {
				t.Errorf("Load() measured %s and took %s for a %s run", r.Elapsed, took, duration+warmup)
			}
			if r.Conns != conns || r.Kind != tt.spec.Kind {
				t.Errorf("Load() report conns %d kind %q", r.Conns, r.Kind)
			}

			ing.mu.Lock()
			defer ing.mu.Unlock()
			if len(ing.bad) > 0 {
				t.Errorf("ingress rejected %d pushes, first: %s", len(ing.bad), ing.bad[0])
			}
			total := 0
			for id, n := range ing.ids {
				total += n
				if n > 1 {
					t.Errorf("event id %s sent %d times, want unique pushes", id, n)
					break
				}
			}
			if total != r.Sent+r.WarmupSent {
				t.Errorf("ingress got %d pushes, report says %d+%d", total, r.WarmupSent, r.Sent)
			}
			// Keep-alive: connections are reused (a busy machine may make
			// the client replace the odd one, so allow some slack). How
			// many pushes a time-bounded run sends depends on the machine,
			// so the check is on connections, not pushes per connection.
			if len(ing.conns) > 2*conns || (total > 2*conns && len(ing.conns) >= total) {
				t.Errorf("ingress saw %d connections for %d pushes from %d workers: keep-alive not used", len(ing.conns), total, conns)
			}
		})
	}
}

// checkReport checks the invariants of every report.
func checkReport(tb testing.TB, r LoadReport) {
	tb.Helper()
	failed := 0
	for _, n := range r.Failures {
		failed += n
	}
	if r.Sent != r.Succeeded+r.Failed || failed != r.Failed {
		tb.Errorf("counts do not add up: sent %d = succeeded %d + failed %d (%v)", r.Sent, r.Succeeded, r.Failed, r.Failures)
	}
	l := r.Latency
	if !slices.IsSorted([]time.Duration{0, l.P50, l.P90, l.P99, l.P999, l.Max}) {
		tb.Errorf("latency percentiles out of order: %+v", l)
	}
	if r.Sent > 0 && l.Max == 0 {
		tb.Errorf("latency max is 0 after %d requests", r.Sent)
	}
	if r.Elapsed > 0 {
		if want := float64(r.Succeeded) / r.Elapsed.Seconds(); r.Throughput != want {
			tb.Errorf("throughput %f, want %f", r.Throughput, want)
		}
	}
}

func TestLoadFailures(t *testing.T) {
	ing := newCheckingIngress(t, http.StatusServiceUnavailable, "publish failed")
	r, err := Load(t.Context(), LoadConfig{URL: ing.URL, Conns: 2, Duration: 100 * time.Millisecond, Warmup: -1})
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	checkReport(t, r)
	if r.Sent == 0 || r.Succeeded != 0 || r.Failures["status 503"] != r.Sent || r.WarmupSent != 0 {
		t.Errorf("Load() = sent %d, succeeded %d, failures %v, warmup %d; want all 503", r.Sent, r.Succeeded, r.Failures, r.WarmupSent)
	}

	ok := newCheckingIngress(t, http.StatusOK, "ok")
	r, err = Load(t.Context(), LoadConfig{URL: ok.URL, Conns: 1, Duration: 50 * time.Millisecond, Warmup: -1})
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	if r.Sent == 0 || r.Failures["status 200, answer not success"] != r.Sent {
		t.Errorf("Load() failures %v of %d, want all answers not success", r.Failures, r.Sent)
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	r, err = Load(t.Context(), LoadConfig{URL: down.URL, Conns: 2, Duration: 50 * time.Millisecond, Warmup: -1, Pushes: 100})
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	checkReport(t, r)
	if r.Sent == 0 || r.Failures["connection refused"] != r.Sent {
		t.Errorf("Load() failures %v of %d, want all connection refused", r.Failures, r.Sent)
	}
}

// TestLoadStops checks that a run ends when its pushes are used up or its
// ctx ends, long before its duration.
func TestLoadStops(t *testing.T) {
	ing := newCheckingIngress(t, http.StatusOK, "success")
	start := time.Now()
	r, err := Load(t.Context(), LoadConfig{URL: ing.URL, Conns: 3, Duration: time.Minute, Warmup: -1, Pushes: 50})
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	checkReport(t, r)
	if !r.Exhausted || r.Sent != 50 || r.Succeeded != 50 || time.Since(start) > 10*time.Second {
		t.Errorf("Load(50 pushes) = exhausted %v, sent %d, succeeded %d after %s", r.Exhausted, r.Sent, r.Succeeded, time.Since(start))
	}

	// Ctrl-C during the run: the server cancels after 20 requests.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	seen := 0
	stopper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if seen++; seen == 20 {
			cancel()
		}
		mu.Unlock()
		io.WriteString(w, "success")
	}))
	defer stopper.Close()
	start = time.Now()
	r, err = Load(ctx, LoadConfig{URL: stopper.URL, Conns: 2, Duration: time.Minute, Warmup: -1, Pushes: 5000})
	if err != nil {
		t.Fatalf("Load() error: %v", err)
	}
	checkReport(t, r)
	if took := time.Since(start); took > 10*time.Second || r.Exhausted || r.Sent < 18 || r.Sent > 20 {
		t.Errorf("Load(canceled after 20) = sent %d, exhausted %v after %s", r.Sent, r.Exhausted, took)
	}

	// Ctrl-C while generating.
	canceled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := Load(canceled, LoadConfig{URL: stopper.URL, Pushes: 5000}); !errors.Is(err, context.Canceled) {
		t.Errorf("Load(canceled) error = %v, want %v", err, context.Canceled)
	}
}

func TestLoadConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  LoadConfig
	}{
		{"bad url", LoadConfig{URL: "localhost:8080"}},
		{"too many conns", LoadConfig{Conns: 10001}},
		{"negative duration", LoadConfig{Duration: -time.Second}},
		{"negative pushes", LoadConfig{Pushes: -1}},
		{"event that cannot vary", LoadConfig{Spec: Spec{Kind: "event:weapp_audit_success"}}},
		{"fixed msgid", LoadConfig{Spec: Spec{MsgID: "1"}}},
		{"safe mode without key", LoadConfig{App: App{AppID: "wxother", Token: "t"}, Spec: Spec{Mode: wxcodec.ModeSafe}}},
		{"no token", LoadConfig{App: App{AppID: "wxother"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(t.Context(), tt.cfg); !errors.Is(err, ErrInvalid) {
				t.Errorf("Load(%+v) error = %v, want %v", tt.cfg, err, ErrInvalid)
			}
		})
	}
}

func TestRunLoadOutput(t *testing.T) {
	ing := newCheckingIngress(t, http.StatusOK, "success")
	cfg := LoadConfig{URL: ing.URL, Conns: 2, Duration: 50 * time.Millisecond, Warmup: -1, Pushes: 20000}

	var text bytes.Buffer
	if err := RunLoad(t.Context(), cfg, &text, false); err != nil {
		t.Fatalf("RunLoad() error: %v", err)
	}
	for _, want := range []string{"target      " + ing.URL + "/wx/" + demo.AppID, "\nsucceeded   ", "\nthroughput  ", " pushes/s over ", "\nlatency     p50 "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("RunLoad() text lacks %q:\n%s", want, text.String())
		}
	}

	var js bytes.Buffer
	if err := RunLoad(t.Context(), cfg, &js, true); err != nil {
		t.Fatalf("RunLoad(json) error: %v", err)
	}
	if strings.Count(js.String(), "\n") != 1 {
		t.Errorf("RunLoad(json) printed more than one line:\n%s", js.String())
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("RunLoad(json) printed invalid JSON %q: %v", js.String(), err)
	}
	for _, key := range []string{"sent", "succeeded", "failed", "throughput", "elapsed_s", "latency_ms", "pushes", "conns", "exhausted"} {
		if _, ok := got[key]; !ok {
			t.Errorf("RunLoad(json) lacks %q: %s", key, js.String())
		}
	}
	lat, _ := got["latency_ms"].(map[string]any)
	for _, key := range []string{"p50", "p90", "p99", "p99.9", "max"} {
		if _, ok := lat[key].(float64); !ok {
			t.Errorf("RunLoad(json) latency_ms lacks %q: %s", key, js.String())
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{ms(7)}, 99.9, ms(7)},
		{"p50 of 100", hundred, 50, ms(50)},
		{"p90 of 100", hundred, 90, ms(90)},
		{"p99.9 of 100", hundred, 99.9, ms(100)},
		{"p0 of 100", hundred, 0, ms(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %s, want %s", tt.p, got, tt.want)
			}
		})
	}
}
