package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// BucketName is the KV bucket holding tokens. Only the bridge's NATS users
// may read it.
const BucketName = "WXKF_TOKENS"

// Modes of fetching tokens.
const (
	ModeStable  = "stable"
	ModeClassic = "classic"
)

var (
	// ErrUnknownApp reports an app without a configured secret.
	ErrUnknownApp = errors.New("token: unknown app")
	// ErrLeaseTimeout reports that another replica held the refresh lease
	// and no new token appeared in time.
	ErrLeaseTimeout = errors.New("token: no new token from the replica holding the refresh lease")
)

// Config tunes a [Manager]. Zero values take the defaults.
type Config struct {
	// Mode is ModeStable (default) or ModeClassic.
	Mode string
	// ForceInterval is the least time between forced refreshes. Default 30s.
	ForceInterval time.Duration
	// ForceDailyCap caps forced refreshes per app per day. Default 10
	// (WeChat allows 20).
	ForceDailyCap int
	// LeaseTTL is how long a classic-mode refresh lease holds. Default 15s.
	LeaseTTL time.Duration
	// LookupTimeout bounds one shared lookup (KV reads, the fetch from
	// WeChat, a classic-mode wait for another replica's lease). The lookup
	// does not end with the context of the caller that started it: callers
	// sharing it stop waiting on their own contexts. Default 2×LeaseTTL plus
	// 15s.
	LookupTimeout time.Duration
	// Holder names this replica in leases. Default a random id.
	Holder string
	// Logger; nil discards.
	Logger *slog.Logger
	// OnRefresh, if set, is called after each fetch from WeChat with the
	// kind: stable, stable_forced or classic (for metrics).
	OnRefresh func(appid, kind string)
	// OnRefreshFailed, if set, is called after each fetch from WeChat that
	// failed (for metrics and alerts).
	OnRefreshFailed func(appid string)
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// record is the KV value of one app.
type record struct {
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
	FetchedAt   time.Time `json:"fetched_at"`
	Mode        string    `json:"mode"`
	ForcedAt    time.Time `json:"forced_at,omitzero"`
	ForceDay    string    `json:"force_day,omitempty"`
	ForceCount  int       `json:"force_count,omitempty"`
	// LeaseHolder and LeaseUntil: classic mode, the replica fetching now.
	LeaseHolder string    `json:"lease_holder,omitempty"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
}

// Manager hands out access tokens.
type Manager struct {
	kv      jetstream.KeyValue
	api     *wxapi.Client
	secrets map[string]string
	cfg     Config
	logger  *slog.Logger

	mu    sync.Mutex
	cache map[string]record
	// flights are the Token lookups in progress, by app; callers that
	// arrive meanwhile share the lookup's outcome, failures included.
	flights map[string]*flight
	// fetching serializes this process's fetches per app.
	fetching map[string]*sync.Mutex
}

// flight is one Token lookup that concurrent callers share.
type flight struct {
	done    chan struct{}
	waiters int // callers sharing it besides the one running it (for tests)
	tok     string
	err     error
}

// New returns a Manager over kv (the [BucketName] bucket) for the apps in
// secrets (appid → AppSecret).
func New(kv jetstream.KeyValue, api *wxapi.Client, secrets map[string]string, cfg Config) (*Manager, error) {
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeStable
	case ModeStable, ModeClassic:
	default:
		return nil, fmt.Errorf("token: mode %q: want %s or %s", cfg.Mode, ModeStable, ModeClassic)
	}
	if cfg.ForceInterval <= 0 {
		cfg.ForceInterval = 30 * time.Second
	}
	if cfg.ForceDailyCap <= 0 {
		cfg.ForceDailyCap = 10
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = 2*cfg.LeaseTTL + 15*time.Second
	}
	if cfg.Holder == "" {
		cfg.Holder = fmt.Sprintf("replica-%d", time.Now().UnixNano())
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{kv: kv, api: api, secrets: secrets, cfg: cfg, logger: logger,
		cache: map[string]record{}, flights: map[string]*flight{}, fetching: map[string]*sync.Mutex{}}
	for appid := range secrets {
		m.fetching[appid] = &sync.Mutex{}
	}
	return m, nil
}

// margin is how long before expiry a token counts as stale: WeChat's stable
// tokens rotate 5 minutes before expiry; classic ones are renewed at about
// 85% of their life.
func (m *Manager) margin(r record) time.Duration {
	life := r.ExpiresAt.Sub(r.FetchedAt)
	if m.cfg.Mode == ModeClassic {
		return life * 15 / 100
	}
	return min(5*time.Minute, life/2)
}

func (m *Manager) fresh(r record) bool {
	return r.AccessToken != "" && r.Mode == m.cfg.Mode && m.cfg.Now().Before(r.ExpiresAt.Add(-m.margin(r)))
}

// Token returns a valid access token for appid, from this process's cache,
// the shared KV record, or WeChat. Concurrent callers for one app share one
// lookup: while it runs, others wait for its token or its error (so a
// failing token endpoint sees one call per lookup, not one per waiting
// command). The lookup runs under its own bound ([Config.LookupTimeout]),
// not under any caller's context: a caller whose ctx ends — the one that
// started it included — stops waiting, and the others still get the token.
func (m *Manager) Token(ctx context.Context, appid string) (string, error) {
	if _, ok := m.secrets[appid]; !ok {
		return "", fmt.Errorf("%w: %s", ErrUnknownApp, appid)
	}
	m.mu.Lock()
	r, ok := m.cache[appid]
	if ok && m.fresh(r) {
		m.mu.Unlock()
		return r.AccessToken, nil
	}
	f := m.flights[appid]
	if f != nil {
		f.waiters++
	} else {
		f = &flight{done: make(chan struct{})}
		m.flights[appid] = f
		// Values (trace context) are kept; cancellation is not.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.LookupTimeout)
		go func() {
			defer cancel()
			tok, err := m.lookup(lctx, appid)
			m.mu.Lock()
			f.tok, f.err = tok, err
			delete(m.flights, appid)
			m.mu.Unlock()
			close(f.done)
		}()
	}
	m.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// sharing returns how many callers wait for appid's lookup in progress.
func (m *Manager) sharing(appid string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.flights[appid]; f != nil {
		return f.waiters
	}
	return 0
}

// lookup reads the KV record, or fetches from WeChat when it is stale.
func (m *Manager) lookup(ctx context.Context, appid string) (string, error) {
	lock := m.fetching[appid]
	lock.Lock()
	defer lock.Unlock()
	r, rev, err := m.load(ctx, appid)
	if err != nil {
		return "", err
	}
	if m.fresh(r) {
		m.remember(appid, r)
		return r.AccessToken, nil
	}
	return m.refresh(ctx, appid, r, rev, false)
}

// Invalidate reports that WeChat rejected failed as invalid or expired, and
// returns the token to retry with: one another replica already stored, or a
// new one. It never forces a refresh twice for the same failure.
func (m *Manager) Invalidate(ctx context.Context, appid, failed string) (string, error) {
	if _, ok := m.secrets[appid]; !ok {
		return "", fmt.Errorf("%w: %s", ErrUnknownApp, appid)
	}
	lock := m.fetching[appid]
	lock.Lock()
	defer lock.Unlock()
	r, rev, err := m.load(ctx, appid)
	if err != nil {
		return "", err
	}
	if r.AccessToken != "" && r.AccessToken != failed && m.fresh(r) {
		m.remember(appid, r) // someone refreshed already
		return r.AccessToken, nil
	}
	return m.refresh(ctx, appid, r, rev, true)
}

func (m *Manager) load(ctx context.Context, appid string) (record, uint64, error) {
	e, err := m.kv.Get(ctx, appid)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, 0, nil
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("token: read %s: %w", appid, err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		// A damaged record is replaced, never trusted.
		m.logger.Warn("token record unreadable; refetching", "appid", appid, "err", err)
		return record{}, e.Revision(), nil
	}
	return r, e.Revision(), nil
}

// store writes r with optimistic concurrency on rev (0: create).
func (m *Manager) store(ctx context.Context, appid string, r record, rev uint64) (uint64, error) {
	val, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		return m.kv.Create(ctx, appid, val)
	}
	return m.kv.Update(ctx, appid, val, rev)
}

func (m *Manager) remember(appid string, r record) {
	m.mu.Lock()
	m.cache[appid] = r
	m.mu.Unlock()
}

func (m *Manager) refresh(ctx context.Context, appid string, r record, rev uint64, afterFailure bool) (string, error) {
	if m.cfg.Mode == ModeClassic {
		return m.refreshClassic(ctx, appid, r, rev)
	}
	return m.refreshStable(ctx, appid, r, rev, afterFailure)
}

func (m *Manager) day(t time.Time) string {
	return t.In(chinaTime).Format(time.DateOnly)
}

// chinaTime is UTC+8, where WeChat's daily quotas reset.
var chinaTime = time.FixedZone("CST", 8*3600)

func (m *Manager) refreshStable(ctx context.Context, appid string, r record, rev uint64, afterFailure bool) (string, error) {
	now := m.cfg.Now()
	force := false
	if afterFailure {
		count := r.ForceCount
		if r.ForceDay != m.day(now) {
			count = 0
		}
		switch {
		case now.Sub(r.ForcedAt) < m.cfg.ForceInterval:
			m.logger.Warn("token rejected, but the last forced refresh was too recent", "appid", appid)
		case count >= m.cfg.ForceDailyCap:
			m.logger.Error("token rejected, but the daily cap of forced refreshes is reached", "appid", appid, "cap", m.cfg.ForceDailyCap)
		default:
			force = true
			r.ForcedAt, r.ForceDay, r.ForceCount = now, m.day(now), count+1
		}
	}
	t, err := m.api.StableToken(ctx, appid, m.secrets[appid], force)
	if err != nil {
		m.refreshFailed(appid)
		return "", err
	}
	kind := "stable"
	if force {
		kind = "stable_forced"
	}
	if m.cfg.OnRefresh != nil {
		m.cfg.OnRefresh(appid, kind)
	}
	r.AccessToken, r.FetchedAt, r.Mode = t.AccessToken, now, ModeStable
	r.ExpiresAt = now.Add(time.Duration(t.ExpiresIn) * time.Second)
	if _, err := m.store(ctx, appid, r, rev); err != nil {
		// Another replica wrote first. A forced token invalidated the old
		// one, so ours is newest: overwrite; otherwise theirs is as good.
		if !force {
			if cur, _, lerr := m.load(ctx, appid); lerr == nil && m.fresh(cur) {
				m.remember(appid, cur)
				return cur.AccessToken, nil
			}
		}
		val, _ := json.Marshal(r)
		if _, perr := m.kv.Put(ctx, appid, val); perr != nil {
			return "", fmt.Errorf("token: store %s: %w", appid, perr)
		}
	}
	m.logger.Info("access token refreshed", "appid", appid, "mode", ModeStable, "forced", force, "expires_in", t.ExpiresIn)
	m.remember(appid, r)
	return r.AccessToken, nil
}

// refreshFailed reports a failed fetch from WeChat.
func (m *Manager) refreshFailed(appid string) {
	if m.cfg.OnRefreshFailed != nil {
		m.cfg.OnRefreshFailed(appid)
	}
}

// refreshClassic fetches under a lease, or waits for the lease holder.
func (m *Manager) refreshClassic(ctx context.Context, appid string, r record, rev uint64) (string, error) {
	deadline := m.cfg.Now().Add(2 * m.cfg.LeaseTTL)
	failed := r.AccessToken
	for {
		now := m.cfg.Now()
		if r.LeaseHolder != "" && r.LeaseHolder != m.cfg.Holder && now.Before(r.LeaseUntil) {
			// Someone else is fetching: wait for a new token.
			if now.After(deadline) {
				return "", fmt.Errorf("%w: %s held by %s", ErrLeaseTimeout, appid, r.LeaseHolder)
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			var err error
			if r, rev, err = m.load(ctx, appid); err != nil {
				return "", err
			}
			if r.AccessToken != failed && m.fresh(r) {
				m.remember(appid, r)
				return r.AccessToken, nil
			}
			continue
		}
		// Take the lease with an update on the revision we read.
		leased := r
		leased.LeaseHolder, leased.LeaseUntil = m.cfg.Holder, now.Add(m.cfg.LeaseTTL)
		newRev, err := m.store(ctx, appid, leased, rev)
		if err != nil {
			// Lost the race: re-read and look again.
			if r, rev, err = m.load(ctx, appid); err != nil {
				return "", err
			}
			if r.AccessToken != failed && m.fresh(r) {
				m.remember(appid, r)
				return r.AccessToken, nil
			}
			continue
		}
		t, err := m.api.ClassicToken(ctx, appid, m.secrets[appid])
		if err != nil {
			m.refreshFailed(appid)
			// Release the lease so another replica may try.
			leased.LeaseHolder, leased.LeaseUntil = "", time.Time{}
			m.store(context.WithoutCancel(ctx), appid, leased, newRev)
			return "", err
		}
		if m.cfg.OnRefresh != nil {
			m.cfg.OnRefresh(appid, "classic")
		}
		now = m.cfg.Now()
		fresh := record{AccessToken: t.AccessToken, FetchedAt: now, Mode: ModeClassic,
			ExpiresAt: now.Add(time.Duration(t.ExpiresIn) * time.Second)}
		if _, err := m.store(ctx, appid, fresh, newRev); err != nil {
			return "", fmt.Errorf("token: store %s after fetching under lease: %w", appid, err)
		}
		m.logger.Info("access token refreshed", "appid", appid, "mode", ModeClassic, "expires_in", t.ExpiresIn)
		m.remember(appid, fresh)
		return fresh.AccessToken, nil
	}
}

// BucketConfig returns the KV bucket definition for tokens.
func BucketConfig(replicas int, storage jetstream.StorageType) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      BucketName,
		Description: "kfbridge: WeChat access tokens shared by egress replicas (bridge users only)",
		History:     1,
		Replicas:    replicas,
		Storage:     storage,
	}
}
