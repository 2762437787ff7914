package token_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "s3cret"
)

type world struct {
	kv  jetstream.KeyValue
	api *wxapi.Client
	sim *wxsim.Sim
	now time.Time
	mu  sync.Mutex
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w, _ := newHeldWorld(t, wxsim.SimConfig{}, false)
	return w
}

// newHeldWorld is a world whose simulator runs with simCfg (Apps and Now
// are set here); with hold, the API holds every call until the returned
// gate lets it through.
func newHeldWorld(t *testing.T, simCfg wxsim.SimConfig, hold bool) (*world, *gate) {
	t.Helper()
	nats := testworld.StartNATS(t)
	kv, err := nats.JS.CreateOrUpdateKeyValue(t.Context(), token.BucketConfig(1, jetstream.MemoryStorage))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{kv: kv, now: time.Now()}
	simCfg.Apps, simCfg.Now = map[string]string{appID: secret}, w.clock
	if w.sim, err = wxsim.NewSim(simCfg); err != nil {
		t.Fatal(err)
	}
	g := &gate{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	h := w.sim.Handler()
	if hold {
		h = g.hold(h)
	}
	w.api = testworld.ServeAPI(t, h).Client
	t.Cleanup(g.open) // before the server's close, which waits for held calls
	return w, g
}

// gate holds API calls: arrived receives a value as each call comes in;
// a value on release lets one call through, open lets all through.
type gate struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gate) hold(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		<-g.release
		h.ServeHTTP(w, r)
	})
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *world) manager(t *testing.T, cfg token.Config) *token.Manager {
	t.Helper()
	cfg.Now = w.clock
	m, err := token.New(w.kv, w.api, map[string]string{appID: secret}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStableForcedRefreshRules(t *testing.T) {
	w := newWorld(t)
	m := w.manager(t, token.Config{ForceDailyCap: 2})
	ctx := t.Context()
	tok, err := m.Token(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := m.Token(ctx, appID)
	if again != tok || w.sim.Calls().StableTokens != 1 {
		t.Fatalf("cached token not reused: %d stable_token calls", w.sim.Calls().StableTokens)
	}
	// WeChat rejected tok, and KV still holds it: force.
	fresh, err := m.Invalidate(ctx, appID, tok)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == tok || w.sim.Calls().ForcedRefreshes != 1 {
		t.Fatalf("Invalidate: token changed %v, %d forces, want a forced new token", fresh != tok, w.sim.Calls().ForcedRefreshes)
	}
	// A second replica reporting the same old token gets the new one, no force.
	other := w.manager(t, token.Config{ForceDailyCap: 2})
	if got, _ := other.Invalidate(ctx, appID, tok); got != fresh || w.sim.Calls().ForcedRefreshes != 1 {
		t.Errorf("stale report: got new token %v, %d forces, want the stored one and no force", got == fresh, w.sim.Calls().ForcedRefreshes)
	}
	// The new token fails too within 30 s: no force (WeChat would ignore it).
	w.advance(10 * time.Second)
	if _, err := m.Invalidate(ctx, appID, fresh); err != nil {
		t.Fatal(err)
	}
	if n := w.sim.Calls().ForcedRefreshes; n != 1 {
		t.Errorf("%d forces within 30 s, want 1", n)
	}
	// After 30 s a second force is allowed, a third is over the daily cap.
	w.advance(31 * time.Second)
	cur, _ := m.Token(ctx, appID)
	second, _ := m.Invalidate(ctx, appID, cur)
	w.advance(31 * time.Second)
	m.Invalidate(ctx, appID, second)
	if n := w.sim.Calls().ForcedRefreshes; n != 2 {
		t.Errorf("%d forces, want 2 (cap)", n)
	}
}

func TestClassicOneRefresher(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	tokens := make([]string, 6)
	for i := range tokens {
		m := w.manager(t, token.Config{Mode: token.ModeClassic, Holder: string(rune('a' + i))})
		wg.Go(func() {
			tok, err := m.Token(ctx, appID)
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok
		})
	}
	wg.Wait()
	for _, tok := range tokens[1:] {
		if tok != tokens[0] {
			t.Fatalf("replicas hold different classic tokens")
		}
	}
	if n := w.sim.Calls().ClassicTokens; n != 1 {
		t.Errorf("%d /cgi-bin/token calls from 6 replicas, want 1", n)
	}
	// Near expiry one replica renews, once, and the rest follow.
	w.advance(7200*time.Second*86/100 + time.Second)
	m := w.manager(t, token.Config{Mode: token.ModeClassic, Holder: "z"})
	renewed, err := m.Token(ctx, appID)
	if err != nil || renewed == tokens[0] {
		t.Fatalf("renewal: %v (same token %v)", err, renewed == tokens[0])
	}
	if n := w.sim.Calls().ClassicTokens; n != 2 {
		t.Errorf("%d /cgi-bin/token calls, want 2", n)
	}
}

func TestUnknownApp(t *testing.T) {
	w := newWorld(t)
	m := w.manager(t, token.Config{})
	if _, err := m.Token(t.Context(), "wxnobody"); err == nil {
		t.Error("Token of an unknown app succeeded")
	}
}

// TestConcurrentLookupsShareOneFetch: commands that need a token while one
// is being fetched share that fetch, also when it fails: a failing token
// endpoint sees one call, not one per waiting command.
func TestConcurrentLookupsShareOneFetch(t *testing.T) {
	// The token endpoint fails, and holds each call until released.
	w, g := newHeldWorld(t, wxsim.SimConfig{TokenHTTP5xxRate: 1}, true)
	m := w.manager(t, token.Config{})
	const n = 8
	errs := make(chan error, n)
	lookup := func() { _, err := m.Token(t.Context(), appID); errs <- err }
	go lookup()
	<-g.arrived // the first lookup is fetching
	for range n - 1 {
		go lookup()
	}
	natstest.WaitFor(t, "the other lookups to join the fetch", func() bool { return token.Sharing(m, appID) == n-1 })
	g.open()
	for range n {
		if err := <-errs; wxapi.ClassOf(err) != wxapi.ClassTransient {
			t.Errorf("Token = %v, want the shared transient failure", err)
		}
	}
	if got := w.sim.Calls().Total("/cgi-bin/stable_token"); got != 1 {
		t.Errorf("%d stable_token calls for %d concurrent lookups, want 1", got, n)
	}
}

// TestSharedLookupOutlivesItsStarter: the command that started a shared
// lookup gives up (its deadline is short); a command with a long deadline
// waiting for the same lookup still gets the token, not the first one's
// DeadlineExceeded.
func TestSharedLookupOutlivesItsStarter(t *testing.T) {
	w, g := newHeldWorld(t, wxsim.SimConfig{}, true)
	m := w.manager(t, token.Config{})
	actx, cancelA := context.WithCancel(t.Context())
	aErr := make(chan error, 1)
	go func() { _, err := m.Token(actx, appID); aErr <- err }()
	<-g.arrived // A's lookup is fetching
	type res struct {
		tok string
		err error
	}
	bRes := make(chan res, 1)
	go func() { tok, err := m.Token(t.Context(), appID); bRes <- res{tok, err} }()
	natstest.WaitFor(t, "B to join the fetch", func() bool { return token.Sharing(m, appID) == 1 })
	cancelA() // A's deadline passes while the fetch is slow
	if err := <-aErr; !errors.Is(err, context.Canceled) {
		t.Errorf("A: Token = %v, want its own context's error", err)
	}
	g.release <- struct{}{}
	r := <-bRes
	if r.err != nil || r.tok == "" {
		t.Fatalf("B: Token = %q, %v, want the token", r.tok, r.err)
	}
	if got := w.sim.Calls().Total("/cgi-bin/stable_token"); got != 1 {
		t.Errorf("%d stable_token calls, want 1", got)
	}
}
