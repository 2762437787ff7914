package wxsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
)

// SimURL is where `wxsim serve` listens by default, and where `wxsim push`
// and `wxsim load` report the interactions they caused.
const SimURL = "http://127.0.0.1:9100"

// Defaults of [SimConfig].
const (
	// DefaultMinuteQuota is the default number of send calls per app and
	// minute. WeChat documents no per-minute figure for customer-service
	// sends; this one is large enough for any demo or test that does not
	// aim at it.
	DefaultMinuteQuota = 20_000
	// DefaultDailyQuota is the default number of send calls per app and
	// Beijing day: the daily quota WeChat shows for the customer-service
	// send API.
	DefaultDailyQuota = 500_000
	// DefaultTokenOverlap is how long a classic token stays valid after
	// the next one was fetched ("about 5 minutes", §8.1).
	DefaultTokenOverlap = 5 * time.Minute
)

// SimConfig configures a [Sim]. The zero value simulates the demo app
// with no faults on the real clock.
type SimConfig struct {
	// Apps maps each simulated AppID to its AppSecret. Default: the demo
	// app ([demo.AppID], [demo.Secret]).
	Apps map[string]string
	// Latency is added to every API answer.
	Latency time.Duration
	// FailRate is the probability that a call of any API but the tokens
	// answers errcode -1 "system error".
	FailRate float64
	// HTTP5xxRate is the probability that such a call answers HTTP 502.
	HTTP5xxRate float64
	// TokenFailRate and TokenHTTP5xxRate are the same for token fetches
	// (default 0: tokens always work).
	TokenFailRate    float64
	TokenHTTP5xxRate float64
	// Seed seeds the random numbers that decide the faults, so a test
	// sees the same faults on every run (0 is a seed like any other).
	Seed uint64
	// MinuteQuota and DailyQuota are the send calls per app per minute and
	// per Beijing day before 45011 and 45009. 0 means [DefaultMinuteQuota]
	// and [DefaultDailyQuota]; negative means no limit.
	MinuteQuota, DailyQuota int
	// TokenOverlap is how long a classic token stays valid after the next
	// one was issued (default [DefaultTokenOverlap]).
	TokenOverlap time.Duration
	// Now is the base clock (default time.Now); the simulated time is Now
	// plus everything [Sim.Advance] added.
	Now func() time.Time
	// Logger receives a Debug record per API call (default: discard).
	Logger *slog.Logger
}

func (c *SimConfig) setDefaults() {
	if len(c.Apps) == 0 {
		c.Apps = map[string]string{demo.AppID: demo.Secret}
	}
	if c.MinuteQuota == 0 {
		c.MinuteQuota = DefaultMinuteQuota
	}
	if c.DailyQuota == 0 {
		c.DailyQuota = DefaultDailyQuota
	}
	if c.TokenOverlap == 0 {
		c.TokenOverlap = DefaultTokenOverlap
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// faults returns the fault settings of c.
func (c *SimConfig) faults() Faults {
	return Faults{c.Latency, c.FailRate, c.HTTP5xxRate, c.TokenFailRate, c.TokenHTTP5xxRate}
}

// Validate reports every problem of c (after defaults) at once, each
// wrapped in [ErrInvalid].
func (c *SimConfig) Validate() error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(c.Apps)) {
		if id == "" || c.Apps[id] == "" {
			errs = append(errs, fmt.Errorf("%w: app %q: want a non-empty AppID and secret", ErrInvalid, id))
		}
	}
	if c.TokenOverlap < 0 {
		errs = append(errs, fmt.Errorf("%w: token overlap %s: want 0 or more", ErrInvalid, c.TokenOverlap))
	}
	errs = append(errs, c.faults().validate())
	return errors.Join(errs...)
}

// Sim is a fake WeChat API server: access tokens, customer-service send and
// typing, temporary media. Its answers arise from its state — the tokens it
// issued, the users who interacted, the media it holds, the quotas used on
// a simulated clock — as WeChat's would (see the package documentation for
// the behaviour and where wechat-protocol.md states it). [Sim.Handler]
// serves it over HTTP. A Sim is safe for concurrent use.
type Sim struct {
	logger *slog.Logger
	// overlap and quotas never change after NewSim.
	overlap             time.Duration
	minuteQ, dailyQ     int
	appIDs              []string // sorted
	mu                  sync.Mutex
	clock               clock
	faults              Faults
	rng                 *rand.Rand
	apps                map[string]*appState
	tokens              map[string]*token
	calls               map[string]map[int]int
	answering           map[*APICall]struct{}
	abandoned           []APICall
	classicIssued       int
	stableIssued        int
	forcedRefreshes     int
	interactionsCounted int
}

// NewSim returns a [Sim] configured by cfg. Errors wrap [ErrInvalid].
func NewSim(cfg SimConfig) (*Sim, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{
		logger:  cfg.Logger,
		overlap: cfg.TokenOverlap,
		minuteQ: cfg.MinuteQuota,
		dailyQ:  cfg.DailyQuota,
		appIDs:  slices.Sorted(maps.Keys(cfg.Apps)),
		clock:   clock{base: cfg.Now},
		faults:  cfg.faults(),
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		apps:    make(map[string]*appState, len(cfg.Apps)),
		tokens:  map[string]*token{},
		calls:   map[string]map[int]int{},

		answering: map[*APICall]struct{}{},
	}
	for id, secret := range cfg.Apps {
		s.apps[id] = newAppState(id, secret)
	}
	return s, nil
}

// AppIDs returns the simulated AppIDs, sorted.
func (s *Sim) AppIDs() []string { return slices.Clone(s.appIDs) }

// Now returns the simulated time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.now()
}

// Advance moves the simulated time forward by d: tokens and media expire,
// send windows close and quotas reset as if d had passed. A d ≤ 0 does
// nothing.
func (s *Sim) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock.advance(d)
}

// Faults returns the current fault settings.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the fault settings. Errors wrap [ErrInvalid].
func (s *Sim) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	return nil
}

// RecordInteraction records that a push of kind from user openid in the
// conversation (appid, bid) reached the bridge at time at (the zero time:
// the simulated now). bid "" means "0", the main account. kind follows the
// push subjects and wxpush.Spec.Kind:
//   - a MsgType ("text", "image", "miniprogrampage", any other non-event
//     kind): a user message; it opens the 48-hour, 5-message send window.
//   - "user_enter_tempsession" (or "event:user_enter_tempsession"): opens
//     the 1-minute, 2-message window, unless a longer open window with
//     messages left already covers that minute (see the package
//     documentation).
//   - "event" or "event:<Event>": another event; it opens no window.
//
// Every interaction makes openid a known user of the app (no 40003), and
// messages and enter-session events count as the "interaction within 30 s"
// that typing needs. Interactions for an AppID the Sim does not simulate
// are ignored.
func (s *Sim) RecordInteraction(appid, bid, openid, kind string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok {
		s.logger.Debug("interaction for an unknown app ignored", "appid", appid)
		return
	}
	if at.IsZero() {
		at = s.clock.now()
	}
	a.interact(normBID(bid), openid, kind, at)
	s.interactionsCounted++
}

// AddUserMedia stores data as the temporary medium mediaID of app appid,
// as WeChat does for an image a user sends (the MediaId of an image push),
// so that media/get can fetch it and sends can use it for 3 days of
// simulated time. contentType "" is sniffed from data. Media for an AppID
// the Sim does not simulate are ignored.
func (s *Sim) AddUserMedia(appid, mediaID string, data []byte, contentType string) {
	if contentType == "" {
		contentType = sniffImage(data)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok || mediaID == "" {
		return
	}
	a.media[mediaID] = &media{id: mediaID, contentType: contentType, data: slices.Clone(data), created: s.clock.now()}
}

// Delivered returns every message accepted by a send call of app appid, in
// the order they were accepted.
func (s *Sim) Delivered(appid string) []Delivered {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok {
		return nil
	}
	return slices.Clone(a.delivered)
}

// Typing returns every accepted typing call of app appid, in order.
func (s *Sim) Typing(appid string) []TypingCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok {
		return nil
	}
	return slices.Clone(a.typing)
}

// IssuedTokens returns every access token the Sim has issued, of every app,
// expired and revoked ones included, sorted (for tests that check a token
// never shows up where it must not).
func (s *Sim) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.tokens))
}

// Calls returns counts of the API calls answered so far.
func (s *Sim) Calls() CallStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := CallStats{
		Calls:           make(map[string]map[int]int, len(s.calls)),
		ClassicTokens:   s.classicIssued,
		StableTokens:    s.stableIssued,
		ForcedRefreshes: s.forcedRefreshes,
		Interactions:    s.interactionsCounted,
	}
	for ep, codes := range s.calls {
		c.Calls[ep] = maps.Clone(codes)
	}
	for a := range s.answering {
		c.Answering = append(c.Answering, *a)
	}
	slices.SortFunc(c.Answering, func(a, b APICall) int { return a.Start.Compare(b.Start) })
	c.Abandoned = slices.Clone(s.abandoned)
	return c
}

// count records one answer of endpoint with errcode code. The caller
// holds the lock.
func (s *Sim) count(endpoint string, code int) {
	m := s.calls[endpoint]
	if m == nil {
		m = map[int]int{}
		s.calls[endpoint] = m
	}
	m[code]++
}

// Delivered is one message a send call accepted.
type Delivered struct {
	// AppID, BusinessID ("0" for the main account) and OpenID identify the
	// conversation.
	AppID      string `json:"appid"`
	BusinessID string `json:"bid"`
	OpenID     string `json:"openid"`
	// MsgType is the body's msgtype.
	MsgType string `json:"msgtype"`
	// Body is the request body exactly as received.
	Body json.RawMessage `json:"body"`
	// Time is the simulated time of acceptance.
	Time time.Time `json:"time"`
	// Token is the access token the call used.
	Token string `json:"token"`
	// Path is the API path called.
	Path string `json:"path"`
	// Remote is the caller's address (host:port): which replica sent it.
	Remote string `json:"remote"`
}

// TypingCall is one accepted typing call.
type TypingCall struct {
	AppID      string    `json:"appid"`
	BusinessID string    `json:"bid"`
	OpenID     string    `json:"openid"`
	Command    string    `json:"command"` // Typing or CancelTyping
	Time       time.Time `json:"time"`
	Token      string    `json:"token"`
	Path       string    `json:"path"`
	Remote     string    `json:"remote"`
}

// CallStats counts what a [Sim] answered.
type CallStats struct {
	// Calls counts API answers by endpoint path (for example
	// "/cgi-bin/stable_token"; "unknown" for paths WeChat does not have)
	// and errcode: 0 for success, -1 for "system error", [CodeHTTP502] for
	// an injected HTTP 502.
	Calls map[string]map[int]int `json:"calls"`
	// ClassicTokens and StableTokens count the tokens issued (stable: the
	// first, every rotation and every forced refresh).
	ClassicTokens int `json:"classic_tokens"`
	StableTokens  int `json:"stable_tokens"`
	// ForcedRefreshes counts force_refresh calls that issued a new token.
	ForcedRefreshes int `json:"forced_refreshes"`
	// Interactions counts the interactions recorded for simulated apps.
	Interactions int `json:"interactions"`
	// Answering lists the calls that took effect and whose answer is held
	// back by the latency now, oldest first.
	Answering []APICall `json:"answering"`
	// Abandoned lists the calls whose caller hung up while their answer
	// was held back: they took effect, but the caller never learned it.
	Abandoned []APICall `json:"abandoned"`
}

// APICall is one API call, for [CallStats].
type APICall struct {
	// Path is the endpoint path ("unknown" for paths WeChat does not have).
	Path string `json:"path"`
	// Remote is the caller's address (host:port).
	Remote string `json:"remote"`
	// Start is when the call took effect, by the wall clock (not the
	// simulated one): it says how long the caller has been waiting.
	Start time.Time `json:"start"`
}

// Count returns how many calls of endpoint were answered with code.
func (c CallStats) Count(endpoint string, code int) int { return c.Calls[endpoint][code] }

// Total returns how many calls of endpoint were answered.
func (c CallStats) Total(endpoint string) int {
	n := 0
	for _, v := range c.Calls[endpoint] {
		n += v
	}
	return n
}
