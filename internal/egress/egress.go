package egress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/internal/textsplit"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// Names of the KV buckets the egress uses (the media store is
// wechat.MediaStore).
const (
	// SentBucket records commands sent to WeChat (see the package doc).
	SentBucket = "WXKF_SENT"
	// MediaIDBucket caches media ids of images egress uploaded.
	MediaIDBucket = "WXKF_MEDIA_IDS"
	// PausesBucket shares per-app quota pauses between replicas: key the
	// appid, value a [pauseEntry].
	PausesBucket = "WXKF_PAUSES"
	// pausesTTL outlives the longest pause (a daily quota pauses until the
	// next Beijing midnight, at most 24h away).
	pausesTTL = 48 * time.Hour
	// mediaIDTTL keeps an uploaded media id well under its 3-day life.
	mediaIDTTL = 60 * time.Hour
)

// Config holds what an [Egress] needs.
type Config struct {
	// Egress holds partitions, timeouts and retry settings.
	Egress config.Egress
	// Streams holds replicas and storage for streams and buckets.
	Streams config.Streams
	// NATSTimeout bounds each NATS call of a command's handling (records,
	// results, dead letters), so that a lost ack in a failover holds a
	// partition for this long, not for the whole handling deadline.
	// Default 5s (nats.request_timeout).
	NATSTimeout time.Duration
	// Apps lists the mini programs the egress sends for; commands of others
	// fail as unknown apps.
	Apps []config.App
	// JS is JetStream. Required.
	JS jetstream.JetStream
	// API calls WeChat. Required; the process's shared one (see
	// internal/wechat), as are Tokens, Fetcher and Media.
	API *wxapi.Client
	// Tokens hands out the apps' access tokens. Required.
	Tokens *token.Manager
	// Fetcher downloads images named by URL. Required.
	Fetcher *mediafetch.Fetcher
	// Media is the object store wechat.MediaStore, where image commands
	// name objects. Required.
	Media jetstream.ObjectStore
	// Logger; nil discards.
	Logger *slog.Logger
	// Registry receives metrics; nil creates one.
	Registry telemetry.Registry
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Budget tracks the conversations' reply budgets; nil, or
	// Egress.ReplyBudget off, tracks nothing. Shared with the ingress
	// (package budget).
	Budget *budget.Tracker
	// BudgetNow is the clock of reply-budget windows, WeChat's (tests run
	// the simulator's); nil uses Now.
	BudgetNow func() time.Time
	// TracerProvider, when set, records a consumer span per handling of a
	// command, continuing the command's traceparent; its API calls and the
	// result continue that span. Nil records none.
	TracerProvider trace.TracerProvider
}

// Egress consumes commands and calls WeChat.
type Egress struct {
	cfg     config.Egress
	streams config.Streams
	js      jetstream.JetStream
	api     *wxapi.Client
	fetch   *mediafetch.Fetcher
	tokens  *token.Manager
	apps    map[string]bool
	// policies holds apps[].budget_policy of the apps that set one.
	policies map[string]string
	logger   *slog.Logger
	metrics  *metrics
	now      func() time.Time
	natsWait time.Duration
	pauses   pauses
	store    jetstream.ObjectStore
	done     doneSize
	tracer   trace.Tracer // nil: tracing off
	w        *writer      // stores records, results and dead letters; set while Run runs (handlers run only then)

	budget     *budget.Tracker // nil: reply budgets not tracked
	budgetMode string          // egress.reply_budget
	budgetNow  func() time.Time
	// reserveFor: how long after its take a reservation may be used (see
	// reservation); budget.SkipFor, longer in tests.
	reserveFor time.Duration
	in         *budget.Inbound // WXKF_IN, read before each budget take

	// Set up by Setup.
	consumers []jetstream.Consumer // by partition
	sent      jetstream.KeyValue
	mediaID   jetstream.KeyValue
	out       jetstream.Stream
}

// New validates cfg and builds an Egress; call [Egress.Setup] before
// [Egress.Run]. A missing required field is an error that names it.
func New(cfg Config) (*Egress, error) {
	var missing []error
	for _, f := range []struct {
		name string
		set  bool
	}{{"JS", cfg.JS != nil}, {"API", cfg.API != nil}, {"Tokens", cfg.Tokens != nil},
		{"Fetcher", cfg.Fetcher != nil}, {"Media", cfg.Media != nil}} {
		if !f.set {
			missing = append(missing, fmt.Errorf("egress: %s is required", f.name))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	cfg.Egress.MaxPending = max(cfg.Egress.MaxPending, 1) // validated by package config
	if cfg.Egress.TextLimit <= 0 {
		cfg.Egress.TextLimit = config.Default().Egress.TextLimit
	}
	cfg.Egress.TextLimit = max(cfg.Egress.TextLimit, textsplit.MinLimit)
	e := &Egress{
		cfg: cfg.Egress, streams: cfg.Streams, js: cfg.JS, api: cfg.API, tokens: cfg.Tokens, fetch: cfg.Fetcher,
		store: cfg.Media, apps: map[string]bool{}, logger: cfg.Logger, now: cfg.Now,
		natsWait: cfg.NATSTimeout,
		tracer:   telemetry.Tracer(cfg.TracerProvider),
		in:       budget.NewInbound(cfg.JS),
	}
	if e.natsWait <= 0 {
		e.natsWait = 5 * time.Second
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.budgetMode, e.budgetNow = cfg.Egress.ReplyBudget, cfg.BudgetNow
	if cfg.Budget != nil {
		// Takes and give-backs are written through the run's writer, as
		// the sent records are (see Egress.writeBudget).
		e.budget = cfg.Budget.WithWriter(e.writeBudget)
	}
	if e.budgetNow == nil {
		e.budgetNow = e.now
	}
	e.reserveFor = budget.SkipFor
	reg := cfg.Registry
	if reg == nil {
		reg = telemetry.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("egress metrics: %w", err)
	}
	e.metrics = m
	if e.done, err = newDoneSize(); err != nil {
		return nil, fmt.Errorf("egress: done-record size: %w", err)
	}
	e.policies = map[string]string{}
	for _, a := range cfg.Apps {
		e.apps[a.AppID] = true
		if a.BudgetPolicy != "" {
			e.policies[a.AppID] = a.BudgetPolicy
		}
	}
	e.pauses.until = map[string]time.Time{}
	e.pauses.logger = e.logger
	return e, nil
}

// Setup creates or updates the streams, buckets and partition consumers.
// It is idempotent; every replica runs it at start.
func (e *Egress) Setup(ctx context.Context) error {
	storage := e.streams.StorageType()
	apply := func(c jetstream.StreamConfig) jetstream.StreamConfig {
		c.Replicas, c.Storage = e.streams.Replicas, storage
		broker.ApplyLimits(&c, e.streams) // bots must not fill the disk
		return c
	}
	if err := e.checkLayout(ctx); err != nil {
		return err
	}
	out, err := e.js.CreateOrUpdateStream(ctx, apply(events.OutboundStream(e.cfg.Partitions)))
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.OutboundStreamName, err)
	}
	e.out = out
	if err := e.purgeStrays(ctx); err != nil {
		return err
	}
	for _, c := range []jetstream.StreamConfig{events.ResultStream(), events.DeadLetterStream()} {
		if _, err := e.js.CreateOrUpdateStream(ctx, apply(c)); err != nil {
			return fmt.Errorf("stream %s: %w", c.Name, err)
		}
	}
	kvs := []struct {
		dst *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&e.sent, jetstream.KeyValueConfig{Bucket: SentBucket, Description: "kfbridge: commands sent to WeChat",
			History: 1, TTL: e.cfg.SentTTL, Replicas: e.streams.Replicas, Storage: storage, MaxBytes: e.streams.MaxBytes.Sent}},
		{&e.mediaID, jetstream.KeyValueConfig{Bucket: MediaIDBucket, Description: "kfbridge: media ids of uploaded images",
			History: 1, TTL: mediaIDTTL, Replicas: e.streams.Replicas, Storage: storage, MaxBytes: e.streams.MaxBytes.MediaID}},
		{&e.pauses.kv, jetstream.KeyValueConfig{Bucket: PausesBucket, Description: "kfbridge: per-app WeChat quota pauses",
			History: 1, TTL: pausesTTL, Replicas: e.streams.Replicas, Storage: storage, MaxBytes: e.streams.MaxBytes.Pauses}},
	}
	for _, kv := range kvs {
		b, err := e.js.CreateOrUpdateKeyValue(ctx, kv.cfg)
		if err != nil {
			return fmt.Errorf("kv %s: %w", kv.cfg.Bucket, err)
		}
		*kv.dst = b
	}
	// Consumers of other layouts (another partition count, or the
	// MaxAckPending-1 consumers of releases before) would overlap the new
	// ones, which a work-queue stream refuses: they go first. Their
	// unacknowledged commands stay in the stream for the new consumers.
	want := map[string]bool{}
	for p := range e.cfg.Partitions {
		want[laneName(p, e.cfg.Partitions)] = true
	}
	names := out.ConsumerNames(ctx)
	var stale []string
	for name := range names.Name() {
		if strings.HasPrefix(name, "egress-") && !want[name] {
			stale = append(stale, name)
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("list consumers of %s: %w", events.OutboundStreamName, err)
	}
	for _, name := range stale {
		if err := out.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("delete consumer %s of another layout: %w", name, err)
		}
	}
	e.consumers = make([]jetstream.Consumer, e.cfg.Partitions)
	for p := range e.cfg.Partitions {
		if e.consumers[p], err = out.CreateOrUpdateConsumer(ctx, e.consumerConfig(p)); err != nil {
			return fmt.Errorf("consumer %s: %w", laneName(p, e.cfg.Partitions), err)
		}
	}
	return nil
}

// purgeStrays removes what a WXKF_OUT of releases before stored under
// wxkf.out.… unpartitioned — a bot's publish with other than four tokens,
// which the stream no longer takes and no consumer reads — rather than
// leave it to count against the stream's cap and show as a waiting
// command until MaxAge. Commands are stored under wxkf.outp.…: none goes.
// A start finding none makes one read (a purge would be a write, in a
// cluster a replicated one, on every start).
func (e *Egress) purgeStrays(ctx context.Context) error {
	_, err := e.out.GetLastMsgForSubject(ctx, events.OutboundSubjects)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: look for stray subjects: %w", events.OutboundStreamName, err)
	}
	if err := e.out.Purge(ctx, jetstream.WithPurgeSubject(events.OutboundSubjects)); err != nil {
		return fmt.Errorf("purge stray subjects of %s: %w", events.OutboundStreamName, err)
	}
	e.logger.Warn("removed messages stored on subjects that are not commands", "stream", events.OutboundStreamName, "subjects", events.OutboundSubjects)
	return nil
}

// partitionFilter is the filter of partition p's consumer: none with one
// partition, whose consumer takes the whole stream. The filter would cost
// the server a walk over the subject index of a message block for most
// deliveries while the stream holds a backlog (nats-server's file store
// matches a wildcard filter against the block's subjects to find the next
// message, and scans the block instead only when it holds few messages per
// subject), a walk over every conversation with a command in the block
// when the partition is all of them: about a tenth of the process's CPU
// in BenchmarkEgressVsNaive.
func (e *Egress) partitionFilter(p int) string {
	if e.cfg.Partitions == 1 {
		return ""
	}
	return events.PartitionFilter(p)
}

// checkLayout refuses a partition count other than the one the stored
// commands were partitioned for: the new consumers would never see them.
func (e *Egress) checkLayout(ctx context.Context) error {
	st, err := e.js.Stream(ctx, events.OutboundStreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.OutboundStreamName, err)
	}
	info := st.CachedInfo()
	have, want := info.Config.SubjectTransform, events.OutboundStream(e.cfg.Partitions).SubjectTransform
	if have == nil || want == nil || have.Destination == want.Destination || info.State.Msgs == 0 {
		return nil
	}
	return fmt.Errorf("stream %s holds %d commands partitioned as %q, and egress.partitions is %d: "+
		"run the egress with the partition count they were stored with until the stream is empty, then change it",
		events.OutboundStreamName, info.State.Msgs, have.Destination, e.cfg.Partitions)
}

func (e *Egress) consumerConfig(p int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        laneName(p, e.cfg.Partitions),
		Description:    "kfbridge egress: the conversations of one partition, served by one replica at a time",
		FilterSubject:  e.partitionFilter(p),
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        e.cfg.AckWait,
		MaxAckPending:  e.cfg.MaxPending,
		MaxDeliver:     -1, // bounded by the retry budget instead
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		Replicas:       e.streams.Replicas,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{priorityGroup},
		// A replica that stops pulling (it died) loses the pin after one
		// AckWait, when the commands it held are due for redelivery too.
		PinnedTTL: e.cfg.AckWait,
	}
}

// Run serves the consumers until ctx ends, then stops pulling, lets the
// commands being handled finish (their calls, results and acks), hands
// back the others (queued or waiting for a retry) to the next replica,
// and returns nil.
func (e *Egress) Run(ctx context.Context) error {
	if e.out == nil {
		return errors.New("egress: Run before Setup")
	}
	// The pauses known so far are loaded before the first command; the
	// watch ends with stopAll, also when a consumer fails to start.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watched, err := e.pauses.watch(watchCtx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean shutdown
		}
		return err
	}
	var lanes []*lane
	var ccs []jetstream.ConsumeContext
	pool := newWorkers(e.cfg.Concurrency)
	defer pool.close() // after stopAll: the lanes' workers are done
	// Writes in flight: a result for each command held (publishThen), and
	// one write for each worker waiting for its own.
	w, err := newWriter(e.js.Conn(), e.natsWait, e.cfg.Partitions*e.cfg.MaxPending+e.cfg.Concurrency)
	if err != nil {
		return err
	}
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); w.run(stopWriter) }()
	e.w = w
	defer func() { e.w = nil; close(stopWriter); <-writerDone }() // after stopAll
	stopAll := func() {
		for _, cc := range ccs {
			cc.Drain()
		}
		for _, cc := range ccs {
			<-cc.Closed()
		}
		var wg sync.WaitGroup
		for _, l := range lanes {
			wg.Go(func() { l.close(context.Background()) })
		}
		wg.Wait()
		stopWatch()
		<-watched
	}
	// The pinned replica must pull more often than the pin lasts (one
	// AckWait), or it loses the pin while it holds commands. The server pins
	// the replica whose waiting pull is oldest: each lane's pulls expire
	// after a time of its own, between 40 and 50 % of AckWait, so that the
	// replicas' pulls drift apart per partition and pins spread.
	expiry := func() time.Duration {
		return max(e.cfg.AckWait*2/5+rand.N(e.cfg.AckWait/10+1), time.Second)
	}
	for p, cons := range e.consumers {
		name := laneName(p, e.cfg.Partitions)
		l := newLane(e, name, cons, pool)
		cc, err := cons.Consume(l.add,
			jetstream.PullPriorityGroup(priorityGroup),
			jetstream.PullMaxMessages(min(e.cfg.MaxPending, 256)),
			jetstream.PullExpiry(expiry()),
			jetstream.ConsumeErrHandler(l.consumeErr))
		if err != nil {
			stopAll()
			return fmt.Errorf("consume %s: %w", name, err)
		}
		lanes = append(lanes, l)
		ccs = append(ccs, cc)
	}
	e.logger.Info("egress running", "partitions", e.cfg.Partitions, "apps", len(e.apps), "api_base", e.api.Base())
	// Progress acks for the commands held long enough to need one: each
	// gets one before it was held for two thirds of AckWait. They go on
	// while the lanes close, for the commands still in handling.
	period := e.cfg.AckWait / 3
	stopProgress, progressDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(progressDone)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				for _, l := range lanes {
					l.progress(period)
				}
			case <-stopProgress:
				return
			}
		}
	}()
	<-ctx.Done()
	defer func() { close(stopProgress); <-progressDone }()
	stopAll()
	e.logger.Info("egress stopped")
	return nil
}

// Ready reports whether the command stream answers.
func (e *Egress) Ready(ctx context.Context) error {
	if e.out == nil {
		return errors.New("egress: not set up")
	}
	if _, err := e.out.Info(ctx); err != nil {
		return fmt.Errorf("stream %s: %w", events.OutboundStreamName, err)
	}
	return nil
}

// pauses holds per-app quota pauses: a local map read on every command,
// shared with the other replicas through the KV bucket [PausesBucket]
// (set writes it, watch keeps the map current with the others' writes).
type pauses struct {
	mu     sync.Mutex
	until  map[string]time.Time
	kv     jetstream.KeyValue // set up by Setup
	logger *slog.Logger
}

// pauseEntry is a pause's value in [PausesBucket].
type pauseEntry struct {
	Until   time.Time `json:"until"` // RFC 3339
	ErrCode int       `json:"errcode"`
}

func (p *pauses) get(appid string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.until[appid]
}

// local extends appid's pause in this process to until; it reports whether
// it did.
func (p *pauses) local(appid string, until time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.until[appid]) {
		p.until[appid] = until
		return true
	}
	return false
}

// set pauses appid until then, here at once and for every replica through
// the bucket, extending a pause but never shortening one. A failed write
// is logged, not returned: this process keeps its pause.
func (p *pauses) set(ctx context.Context, appid string, until time.Time, code int) {
	p.local(appid, until)
	if p.kv == nil {
		return
	}
	if err := p.share(ctx, appid, pauseEntry{Until: until.UTC(), ErrCode: code}); err != nil {
		p.logger.Warn("quota pause not shared with other replicas", "appid", appid, "until", until, "err", err)
	}
}

// share writes pe to the bucket unless a longer pause is there: a
// compare-and-set loop on the entry's revision.
func (p *pauses) share(ctx context.Context, appid string, pe pauseEntry) error {
	val, err := json.Marshal(pe)
	if err != nil {
		return fmt.Errorf("encode pause: %w", err)
	}
	for range 5 {
		entry, err := p.kv.Get(ctx, appid)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = p.kv.Create(ctx, appid, val)
		case err != nil:
			return fmt.Errorf("get pause of %s: %w", appid, err)
		default:
			var old pauseEntry
			if json.Unmarshal(entry.Value(), &old) == nil && !pe.Until.After(old.Until) {
				return nil // a pause as long or longer is shared already
			}
			_, err = p.kv.Update(ctx, appid, val, entry.Revision())
		}
		if err == nil {
			return nil
		}
		// ErrKeyExists matches a lost compare-and-set on an update too
		// (code 10071); a replicated bucket's is ErrKeyRevisionMismatch.
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("write pause of %s: %w", appid, err)
		}
		// Another replica wrote in between: read again.
	}
	return fmt.Errorf("write pause of %s: too many concurrent writers", appid)
}

// watch loads every replica's pauses into the local map, then keeps it
// current until ctx ends; the returned channel closes when it has stopped.
func (p *pauses) watch(ctx context.Context) (<-chan struct{}, error) {
	done := make(chan struct{})
	if p.kv == nil {
		close(done)
		return done, nil
	}
	w, err := p.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", PausesBucket, err)
	}
	// next applies one update; it reports false when the watch is over and
	// loaded true at the marker that the initial values are in.
	next := func() (ok, loaded bool) {
		select {
		case <-ctx.Done():
			return false, false
		case entry, ok := <-w.Updates():
			if !ok {
				return false, false
			}
			if entry == nil {
				return true, true
			}
			var pe pauseEntry
			if err := json.Unmarshal(entry.Value(), &pe); err != nil {
				p.logger.Warn("bad quota pause in "+PausesBucket, "appid", entry.Key(), "err", err)
				return true, false
			}
			if p.local(entry.Key(), pe.Until) {
				p.logger.Info("quota pause from another replica", "appid", entry.Key(), "errcode", pe.ErrCode, "until", pe.Until)
			}
			return true, false
		}
	}
	for {
		ok, loaded := next()
		if !ok {
			_ = w.Stop()
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("watch %s: closed while loading", PausesBucket)
		}
		if loaded {
			break
		}
	}
	go func() {
		defer close(done)
		defer func() { _ = w.Stop() }()
		for {
			if ok, _ := next(); !ok {
				return
			}
		}
	}()
	return done, nil
}

// natsCtx bounds one NATS call of a command's handling.
func (e *Egress) natsCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.natsWait)
}
