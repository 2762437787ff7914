package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// Broker is a NATS connection with JetStream, and the embedded server behind
// it when one runs in this process.
type Broker struct {
	// Conn is the NATS connection.
	Conn *nats.Conn
	// JS is JetStream over Conn.
	JS jetstream.JetStream
	// Server is the embedded server, nil with an external NATS.
	Server *server.Server

	timeout time.Duration
	logger  *slog.Logger
}

type options struct {
	logger *slog.Logger
	name   string
	// waitLog is how often a wait for an external NATS is logged.
	waitLog time.Duration
}

// WaitLogInterval is how often [Open] logs that it is still waiting for
// an external NATS server.
const WaitLogInterval = 10 * time.Second

// Option configures [Open].
type Option func(*options) error

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("broker: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithName sets the NATS connection name shown in server monitoring.
func WithName(name string) Option {
	return func(o *options) error { o.name = name; return nil }
}

// Open connects to the NATS of cfg: the external server at cfg.URL, or, when
// it is empty, a new embedded server connected in process.
func Open(ctx context.Context, cfg config.NATS, opts ...Option) (*Broker, error) {
	o := options{logger: slog.New(slog.DiscardHandler), name: "kfbridge", waitLog: WaitLogInterval}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	b := &Broker{timeout: cfg.RequestTimeout, logger: o.logger}
	natsOpts := []nats.Option{
		nats.Name(o.name),
		// Replies to the bridge (token reads, publish acks) go where no bot
		// may subscribe.
		nats.CustomInboxPrefix(BridgeInboxPrefix),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate close
				o.logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			o.logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			o.logger.Error("nats async error", "subject", subject, "err", err)
		}),
	}
	url := cfg.URL
	if url == "" {
		s, user, password, err := StartEmbedded(cfg.Embedded, o.logger)
		if err != nil {
			return nil, err
		}
		b.Server = s
		url = s.ClientURL()
		natsOpts = append(natsOpts, nats.InProcessServer(s))
		if user != "" {
			natsOpts = append(natsOpts, nats.UserInfo(user, password))
		}
		o.logger.Info("embedded nats started", "url", url, "store_dir", cfg.Embedded.StoreDir)
	} else {
		auth, err := authOptions(cfg)
		if err != nil {
			return nil, err
		}
		natsOpts = append(natsOpts, auth...)
	}
	nc, err := connect(ctx, url, natsOpts, o.logger, o.waitLog)
	if err != nil {
		b.shutdownServer()
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		b.shutdownServer()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.Conn, b.JS = nc, js
	return b, nil
}

// connect dials until it succeeds or ctx ends, so a process started before
// its NATS server waits for it. It logs the wait at once and then every
// logEvery, with the URL's credentials redacted and the last error.
func connect(ctx context.Context, url string, opts []nats.Option, logger *slog.Logger, logEvery time.Duration) (*nats.Conn, error) {
	// A URL that does not parse never connects, and nats.Connect's error
	// would show it whole, credentials included.
	if redacted := RedactURL(url); strings.Contains(redacted, unparsable) {
		return nil, fmt.Errorf("%w: %s", ErrURL, redacted)
	}
	delay := 100 * time.Millisecond
	var lastLog time.Time
	start := time.Now()
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			if !lastLog.IsZero() {
				logger.Info("connected to nats", "url", RedactURL(url), "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return nc, nil
		}
		if lastLog.IsZero() || time.Since(lastLog) >= logEvery {
			lastLog = time.Now()
			logger.Warn("waiting for nats at "+RedactURL(url), "url", RedactURL(url), "waited", lastLog.Sub(start).Round(time.Second).String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to nats at %s: %w", RedactURL(url), errors.Join(err, ctx.Err()))
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// RedactURL returns a NATS URL list (comma-separated) with any user,
// password or token replaced by "redacted", for logs and errors. A part
// that does not parse as a URL is replaced whole.
func RedactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "://") {
			p = "nats://" + p // as nats.Connect reads host:port
		}
		u, err := url.Parse(p)
		switch {
		case err != nil:
			parts[i] = unparsable
		case u.User != nil:
			u.User = url.User("redacted")
			parts[i] = u.String()
		default:
			parts[i] = p
		}
	}
	return strings.Join(parts, ",")
}

// unparsable stands for a URL that does not parse in [RedactURL].
const unparsable = "(unparsable url)"

func authOptions(cfg config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password.Value()))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token.Value()))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey %s: %w", cfg.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	t := cfg.TLS
	if t.CAFile != "" {
		opts = append(opts, nats.RootCAs(t.CAFile))
	}
	if t.CertFile != "" {
		opts = append(opts, nats.ClientCert(t.CertFile, t.KeyFile))
	}
	if t.Enabled {
		opts = append(opts, nats.Secure())
	}
	return opts, nil
}

// EnsureStreams creates or updates the streams kfbridge uses, with the
// configured settings. It is idempotent: every replica runs it at start.
func (b *Broker) EnsureStreams(ctx context.Context, s config.Streams) error {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	cfg := events.InboundStream()
	ApplyStreamSettings(&cfg, s)
	if _, err := b.JS.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
	}
	return nil
}

// EnsureBotConsumers creates or updates the durable pull consumers of the
// role bot users ([config.User.BotConsumers]): bots cannot create
// consumers themselves, since a create request may name a deliver subject
// the server would deliver to inside the bridge account. A consumer
// delivers pushes or results stored from its creation on (DeliverNew), is
// acknowledged explicitly within 30 s and filtered as configured. It is
// idempotent (every start runs it); a consumer whose stream does not exist
// yet (WXKF_RESULT before the egress first ran) is skipped with a warning.
// An existing durable of the same name that the server refuses to update
// (one a bot of an earlier version created) is kept when it is a pull
// consumer with explicit acks and the configured filter (its position
// survives), and deleted and created anew otherwise; both with a warning.
func (b *Broker) EnsureBotConsumers(ctx context.Context, users []config.User) error {
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	for _, u := range users {
		if u.Role == "bridge" {
			continue
		}
		for _, c := range u.BotConsumers() {
			stream := ConsumerStream(c.Stream)
			cfg := BotConsumerConfig(c)
			if _, err := b.JS.CreateOrUpdateConsumer(ctx, stream, cfg); err != nil {
				if errors.Is(err, jetstream.ErrStreamNotFound) {
					b.logger.Warn("bot consumer not created: its stream does not exist yet; restart once the egress has run", "user", u.User, "stream", stream, "consumer", c.Name)
					continue
				}
				if ferr := b.adoptBotConsumer(ctx, u.User, stream, cfg, err); ferr != nil {
					return fmt.Errorf("consumer %s on %s for bot %s: %w", c.Name, stream, u.User, ferr)
				}
			}
		}
	}
	return nil
}

// adoptBotConsumer handles an existing durable the server refused to
// update to cfg (updateErr), typically one a bot created itself before
// the bridge made them (deliver policy, deliver subject and ack policy
// cannot be updated). A pull consumer with explicit acks and cfg's filter
// works as the bot's consumer and keeps its position: it is kept, with a
// warning naming what differs. Any other (a push consumer, another ack
// policy or filter) is deleted and created anew, with a warning: its
// position is lost and the new one delivers from now on.
func (b *Broker) adoptBotConsumer(ctx context.Context, user, stream string, cfg jetstream.ConsumerConfig, updateErr error) error {
	var info *jetstream.ConsumerInfo
	cons, err := b.JS.Consumer(ctx, stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrNotPullConsumer) {
		var push jetstream.PushConsumer
		if push, err = b.JS.PushConsumer(ctx, stream, cfg.Durable); err == nil {
			info = push.CachedInfo()
		}
	} else if err == nil {
		info = cons.CachedInfo()
	}
	if err != nil {
		return errors.Join(updateErr, err)
	}
	old := info.Config
	var differs []string
	if old.DeliverPolicy != cfg.DeliverPolicy {
		differs = append(differs, "deliver_policy "+old.DeliverPolicy.String())
	}
	if old.AckWait != cfg.AckWait {
		differs = append(differs, "ack_wait "+old.AckWait.String())
	}
	sameFilter := len(old.FilterSubjects) == 0 && unfiltered(stream, old.FilterSubject) == unfiltered(stream, cfg.FilterSubject)
	compatible := old.DeliverSubject == "" && old.AckPolicy == jetstream.AckExplicitPolicy && sameFilter
	if compatible {
		b.logger.Warn("bot consumer kept as it is: an existing pull consumer with explicit acks and the configured filter, whose settings the server refuses to update",
			"user", user, "stream", stream, "consumer", cfg.Durable, "differs", differs, "err", updateErr)
		return nil
	}
	if old.DeliverSubject != "" {
		differs = append(differs, "push consumer (deliver_subject set)")
	}
	if old.AckPolicy != jetstream.AckExplicitPolicy {
		differs = append(differs, "ack_policy "+old.AckPolicy.String())
	}
	if !sameFilter {
		differs = append(differs, fmt.Sprintf("filter %q %q", old.FilterSubject, old.FilterSubjects))
	}
	b.logger.Warn("bot consumer recreated: the existing one cannot serve the bot (its position is lost; the new one delivers from now on)",
		"user", user, "stream", stream, "consumer", cfg.Durable, "differs", differs)
	if err := b.JS.DeleteConsumer(ctx, stream, cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete the incompatible consumer: %w", err)
	}
	if _, err := b.JS.CreateConsumer(ctx, stream, cfg); err != nil {
		return fmt.Errorf("recreate: %w", err)
	}
	return nil
}

// unfiltered maps a filter that selects all of a kfbridge stream's
// subjects to "", the same selection.
func unfiltered(stream, filter string) string {
	if stream == events.InboundStreamName && filter == events.InboundSubjects ||
		stream == events.ResultStreamName && filter == events.ResultSubjects {
		return ""
	}
	return filter
}

// BotConsumerConfig is the configuration [Broker.EnsureBotConsumers] gives
// a bot's consumer.
func BotConsumerConfig(c config.BotConsumer) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Name,
		Description:   "kfbridge: a bot's consumer, from nats.embedded.users",
		FilterSubject: c.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckWait:       30 * time.Second,
	}
}

// ApplyStreamSettings sets the configured replicas, age, duplicate window,
// storage and size cap on a stream definition, and direct gets on the push
// stream WXKF_IN when it has one replica (see [DirectReads]).
func ApplyStreamSettings(cfg *jetstream.StreamConfig, s config.Streams) {
	cfg.Replicas = s.Replicas
	cfg.MaxAge = s.MaxAge
	cfg.Duplicates = s.DuplicateWindow
	cfg.Storage = s.StorageType()
	ApplyLimits(cfg, s)
	if cfg.Name == events.InboundStreamName {
		cfg.AllowDirect = DirectReads(cfg.Replicas)
	}
}

// DirectReads reports whether WXKF_IN, with this many replicas, allows
// direct gets, the reads the reply budget makes of a conversation's latest
// push (package budget): with one replica, the server that stores the
// stream answers them from its store, without the JetStream API's queue
// and JSON (about half the time of a get, measured in-process). With more,
// a direct get may be answered by a follower a moment behind its leader,
// which may not hold yet a push a bot has already answered; there the
// budget's gets stay the leader's (nats.go's stream handle picks the kind
// the stream's definition allows). Bots never reach the direct-get
// subjects: their accounts import only their consumers' API.
func DirectReads(replicas int) bool { return replicas <= 1 }

// ApplyLimits sets the configured size cap ([config.StreamBytes]) on the
// definition of one of kfbridge's streams; other streams are left alone.
// The command stream WXKF_OUT, which bots fill, refuses new commands when
// full (DiscardNew: the bot's publish fails); WXKF_IN does too, so a full
// push stream answers WeChat 503 rather than dropping stored pushes; the
// result and dead-letter streams drop their oldest messages.
func ApplyLimits(cfg *jetstream.StreamConfig, s config.Streams) {
	switch cfg.Name {
	case events.InboundStreamName:
		cfg.MaxBytes = maxBytes(s.MaxBytes.In)
		if s.MaxBytes.In > 0 {
			cfg.Discard = jetstream.DiscardNew
		}
	case events.OutboundStreamName:
		cfg.MaxBytes, cfg.Discard = maxBytes(s.MaxBytes.Out), jetstream.DiscardNew
	case events.ResultStreamName:
		cfg.MaxBytes, cfg.Discard = maxBytes(s.MaxBytes.Result), jetstream.DiscardOld
	case events.DeadLetterStreamName:
		cfg.MaxBytes, cfg.Discard = maxBytes(s.MaxBytes.DeadLetter), jetstream.DiscardOld
	}
}

// maxBytes maps the configuration's "0: no cap" to JetStream's -1.
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// Ready reports whether NATS is connected and the stream answers.
func (b *Broker) Ready(ctx context.Context, stream string) error {
	if !b.Conn.IsConnected() {
		return fmt.Errorf("nats: %s", b.Conn.Status())
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if _, err := b.JS.Stream(ctx, stream); err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	return nil
}

// Close drains the connection, waiting up to ctx for pending work, and then
// shuts down the embedded server.
func (b *Broker) Close(ctx context.Context) error {
	var err error
	if b.Conn != nil && !b.Conn.IsClosed() {
		closed := make(chan struct{})
		b.Conn.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if derr := b.Conn.Drain(); derr != nil {
			b.Conn.Close()
		} else {
			select {
			case <-closed:
			case <-ctx.Done():
				b.Conn.Close()
				err = fmt.Errorf("drain nats: %w", ctx.Err())
			}
		}
	}
	b.shutdownServer()
	return err
}

func (b *Broker) shutdownServer() {
	if b.Server != nil {
		b.Server.Shutdown()
		b.Server.WaitForShutdown()
	}
}

func (b *Broker) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.timeout)
}
