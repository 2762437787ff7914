package wxpush

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// LoadConfig configures [Load] (wxsim load). The zero value runs 64
// connections for 10 s after a 2 s warmup against the demo ingress.
type LoadConfig struct {
	// URL is the ingress's base URL (default [demo.IngressURL]).
	URL string
	// App is the mini program; empty fields default to the demo app.
	App App
	// Spec is the push template, as for [PushConfig]. Every push gets a
	// unique MsgId (events a unique SessionFrom or debug_str), so
	// JetStream's duplicate window drops none of them; kinds that cannot
	// vary (events other than user_enter_tempsession and debug_demo) are
	// rejected.
	Spec Spec
	// Conns is the number of workers, each with its own keep-alive
	// HTTP/1.1 connection, sending back to back (default 64).
	Conns int
	// Duration is the measured time (default 10 s). The pushes are signed
	// before the run with the time of signing, and the ingress rejects
	// timestamps older than its timestamp_window (default 5 min): keep
	// Warmup+Duration well below it.
	Duration time.Duration
	// Warmup runs before the measured time; its pushes are counted apart
	// and left out of throughput and latency (default 2 s; negative: none).
	Warmup time.Duration
	// Pushes is how many unique signed pushes are generated before the run
	// (on all cores, so that signing and encryption cost nothing during
	// it). The run stops early when they are used up ([LoadReport].Exhausted).
	// Default: 15000 per second of Warmup+Duration.
	Pushes int
	// Timeout bounds each request, as WeChat's 5 s (default 5 s).
	Timeout time.Duration
	// SimURL is a running `wxsim serve` ([wxsim.SimURL]) told, once the run is
	// over, that the user interacted (when any push succeeded), so that
	// its send window is open as after the last push. "" tells no
	// simulator; failures are logged at Debug level. Media of image pushes
	// are not registered.
	SimURL string
	// Logger receives progress records at Info level (default: discard).
	Logger *slog.Logger
}

// defaultPushRate sizes the default pool of pre-generated pushes: more
// than a two-core box's ingress stores per second.
const defaultPushRate = 15000

// maxPushes caps the default pool (about 1 KiB each in safe mode).
const maxPushes = 2_000_000

func (c *LoadConfig) setDefaults() {
	setTargetDefaults(&c.URL, &c.App, &c.Spec)
	if c.Conns == 0 {
		c.Conns = 64
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	} else if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultAttemptTimeout
	}
	if c.Pushes == 0 && c.Duration > 0 {
		n := int((c.Warmup + c.Duration).Seconds() * defaultPushRate)
		c.Pushes = min(max(n, c.Conns), maxPushes)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem of c (after defaults) at once, each
// wrapped in [ErrInvalid].
func (c *LoadConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if err := checkURL("url", c.URL); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.App.validate(), checkSpec(&c.Spec, &c.App))
	if name, ok := c.Spec.event(); ok && name != KindUserEnterTempSession && name != EventDebugDemo {
		bad("kind %q: load needs unique pushes, and this event has no field to vary", c.Spec.Kind)
	}
	if c.Spec.MsgID != "" {
		bad("msgid: load gives every push its own")
	}
	if c.Conns < 1 || c.Conns > 10000 {
		bad("conns %d: want 1 to 10000", c.Conns)
	}
	if c.Duration <= 0 {
		bad("duration %s: want positive", c.Duration)
	}
	if c.Pushes < 1 {
		bad("pushes %d: want at least 1", c.Pushes)
	}
	if c.Timeout <= 0 {
		bad("timeout %s: want positive", c.Timeout)
	}
	if c.SimURL != "" {
		errs = append(errs, checkURL("sim url", c.SimURL))
	}
	return errors.Join(errs...)
}

// loadPush is one pre-generated push: its query string and body.
type loadPush struct {
	query string
	body  []byte
}

// Load generates cfg.Pushes unique signed pushes, then sends them from
// cfg.Conns workers back to back for cfg.Warmup + cfg.Duration and reports
// what happened. It stops by itself: when the time is up, when the pushes
// are used up, or when ctx ends (the report then covers what was answered
// before). A request counts as succeeded only on HTTP 200 with body
// "success" or an empty body. With cfg.SimURL set, the simulator there is
// told of the user's interaction when the run is over. Errors wrap
// [ErrInvalid] for a bad cfg, come from signing, or are ctx's error when
// ctx ends before the pushes are generated; failed requests are counted in
// the report, not returned.
func Load(ctx context.Context, cfg LoadConfig) (LoadReport, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return LoadReport{}, err
	}
	signer, err := NewSigner(cfg.URL, cfg.App)
	if err != nil {
		return LoadReport{}, err
	}
	spec, err := signer.complete(cfg.Spec, time.Now())
	if err != nil {
		return LoadReport{}, err
	}
	began := time.Now()
	pushes, err := generate(ctx, signer, spec, cfg.Pushes)
	if err != nil {
		return LoadReport{}, err
	}
	cfg.Logger.Info("pushes generated", "pushes", len(pushes), "took", time.Since(began).Round(time.Millisecond))

	transport := &http.Transport{
		Proxy:               nil, // never through a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Conns,
		MaxIdleConnsPerHost: cfg.Conns,
		MaxConnsPerHost:     cfg.Conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// A non-nil empty map keeps HTTP/2 off, also for https.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport:     transport,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	run := &loadRun{
		client:   client,
		endpoint: signer.endpoint,
		header:   http.Header{"Content-Type": {contentType(spec.Format)}, "User-Agent": {"wxsim-load"}},
		pushes:   pushes,
	}
	run.start = time.Now()
	run.measure = run.start.Add(cfg.Warmup)
	run.end = run.measure.Add(cfg.Duration)
	cfg.Logger.Info("load running", "conns", cfg.Conns, "warmup", cfg.Warmup, "duration", cfg.Duration, "url", signer.endpoint.String())

	workers := make([]*loadWorker, cfg.Conns)
	share := len(pushes)/cfg.Conns + 1
	var wg sync.WaitGroup
	for i := range workers {
		w := &loadWorker{lat: make([]time.Duration, 0, min(2*share, len(pushes))), fails: map[string]int{}}
		workers[i] = w
		wg.Go(func() { run.work(ctx, w) })
	}
	wg.Wait()
	if cfg.SimURL != "" && run.delivered.Load() {
		if rec, err := wxsim.NewRemoteRecorder(cfg.SimURL, cfg.Logger); err == nil { // checked by Validate
			rec.RecordInteraction(signer.AppID(), strconv.FormatInt(spec.BusinessID, 10), spec.OpenID, spec.Kind, time.Time{})
		}
	}

	r := LoadReport{
		URL:       signer.endpoint.String(),
		Kind:      spec.Kind,
		Format:    spec.Format.String(),
		Mode:      spec.Mode.String(),
		Conns:     cfg.Conns,
		Pushes:    len(pushes),
		Exhausted: run.exhausted.Load(),
	}
	r.merge(workers, run.measure)
	return r, nil
}

// generate signs n unique pushes from spec, spread over all cores.
func generate(ctx context.Context, s *Signer, spec Spec, n int) ([]loadPush, error) {
	pushes := make([]loadPush, n)
	base := rand.Int64N(1<<61) + 1<<61 // unique ids: base+i, also across runs
	run := strconv.FormatUint(rand.Uint64(), 36)
	now := time.Now()
	procs := min(runtime.GOMAXPROCS(0), n)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			for k, i := 0, p; i < n; k, i = k+1, i+procs {
				if k%1024 == 0 && ctx.Err() != nil {
					errs[p] = ctx.Err()
					return
				}
				sp := spec
				if sp.IsEvent() {
					sp.Content = "wxsim-load-" + run + "-" + strconv.Itoa(i)
				} else {
					sp.MsgID = strconv.FormatInt(base+int64(i), 10)
				}
				m, err := sp.Message()
				if err != nil {
					errs[p] = err
					return
				}
				q, body, err := s.encode(sp, m, now)
				if err != nil {
					errs[p] = err
					return
				}
				pushes[i] = loadPush{query: EncodeQuery(q), body: body}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("generate pushes: %w", err)
		}
	}
	return pushes, nil
}

// loadRun is the shared state of one [Load] run.
type loadRun struct {
	client              *http.Client
	endpoint            *url.URL
	header              http.Header // read only
	pushes              []loadPush
	start, measure, end time.Time
	next                atomic.Int64
	exhausted           atomic.Bool
	delivered           atomic.Bool // any push answered success
}

// loadWorker holds what one worker saw; only its goroutine writes it until
// the run is over.
type loadWorker struct {
	lat            []time.Duration // measured requests, in order
	warm, sent, ok int
	fails          map[string]int
	stopped        time.Time
	answer         [16]byte
}

// work sends pushes back to back until the run is over or ctx ends.
func (r *loadRun) work(ctx context.Context, w *loadWorker) {
	defer func() { w.stopped = time.Now() }()
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(r.end) {
			return
		}
		i := r.next.Add(1) - 1
		if i >= int64(len(r.pushes)) {
			r.exhausted.Store(true)
			return
		}
		fail := r.send(ctx, w, &r.pushes[i])
		lat := time.Since(t0)
		if ctx.Err() != nil {
			return // interrupted: neither success nor failure of the target
		}
		if fail == "" && !r.delivered.Load() {
			r.delivered.Store(true)
		}
		if t0.Before(r.measure) {
			w.warm++
			continue
		}
		w.sent++
		w.lat = append(w.lat, lat)
		if fail == "" {
			w.ok++
		} else {
			w.fails[fail]++
		}
	}
}

// send posts one push and returns "" on success, else the failure class.
func (r *loadRun) send(ctx context.Context, w *loadWorker, p *loadPush) string {
	u := *r.endpoint
	u.RawQuery = p.query
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           &u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.header,
		Body:          io.NopCloser(bytes.NewReader(p.body)),
		ContentLength: int64(len(p.body)),
		Host:          u.Host,
	}).WithContext(ctx)
	resp, err := r.client.Do(req)
	if err != nil {
		return errorClass(err)
	}
	n, rerr := io.ReadFull(resp.Body, w.answer[:])
	_, derr := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case rerr != nil && rerr != io.ErrUnexpectedEOF && rerr != io.EOF:
		return errorClass(rerr)
	case derr != nil:
		return errorClass(derr)
	case resp.StatusCode != http.StatusOK:
		return "status " + strconv.Itoa(resp.StatusCode)
	case n == 0 || rerr != nil && string(w.answer[:n]) == "success":
		return ""
	}
	return "status 200, answer not success"
}

// errorClass names a transport error without addresses, so that equal
// failures count together.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "other error"
}
