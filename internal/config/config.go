package config

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// Config is the whole configuration of a kfbridge process. Its zero value is
// not usable; start from [Default] or [Load].
type Config struct {
	// Log sets up structured logging.
	Log Log `yaml:"log"`
	// NATS says how to reach NATS, or how to run the embedded server.
	NATS NATS `yaml:"nats"`
	// Ingress configures the HTTP endpoint WeChat pushes to.
	Ingress Ingress `yaml:"ingress"`
	// Egress configures the calls to WeChat's APIs.
	Egress Egress `yaml:"egress"`
	// Apps lists the mini programs this process serves.
	Apps []App `yaml:"apps"`
	// Telemetry configures the optional export of trace spans.
	Telemetry Telemetry `yaml:"telemetry"`
}

// Telemetry configures OpenTelemetry span export.
type Telemetry struct {
	// OTLP exports spans over OTLP/HTTP (protobuf).
	OTLP OTLP `yaml:"otlp"`
}

// OTLP configures the OTLP/HTTP span exporter.
type OTLP struct {
	// Endpoint is the collector's base URL (http(s)://host:4318); spans go
	// to <endpoint>/v1/traces. Empty (the default) exports nothing and
	// records no spans.
	Endpoint string `yaml:"endpoint"`
	// ServiceName is the service.name resource attribute. Default the
	// binary's name (kfbridge, kfbridge-ingress, kfbridge-egress).
	ServiceName string `yaml:"service_name"`
}

// Log configures log/slog output.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or text. Default json.
	Format string `yaml:"format"`
}

// NATS configures the connection to NATS, or the embedded server.
type NATS struct {
	// URL of an external NATS server or cluster (comma-separated URLs
	// allowed). Empty runs an embedded NATS server with JetStream in process.
	URL string `yaml:"url"`
	// User and Password authenticate with user/password.
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// Token authenticates with a token.
	Token Secret `yaml:"token"`
	// NKeyFile is an nkey seed file.
	NKeyFile string `yaml:"nkey_file"`
	// CredsFile is a JWT user credentials file.
	CredsFile string `yaml:"creds_file"`
	// TLS configures TLS to the server.
	TLS ClientTLS `yaml:"tls"`
	// Embedded configures the in-process server used when URL is empty.
	Embedded Embedded `yaml:"embedded"`
	// Bots lists the bots of an external NATS (URL set) whose durable pull
	// consumers the bridge creates at start, as it does for the embedded
	// server's bot users: there too a bot's account may not create
	// consumers. Their accounts and passwords are the NATS operator's
	// (deploy/nats/accounts.conf, README "External NATS").
	Bots []Bot `yaml:"bots"`
	// Streams sets the JetStream stream settings kfbridge creates.
	Streams Streams `yaml:"streams"`
	// RequestTimeout bounds NATS calls (stream management, publish acks when
	// not bounded otherwise). Default 5s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// ClientTLS configures TLS towards NATS.
type ClientTLS struct {
	// CAFile verifies the server; empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile present a client certificate.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Enabled forces TLS even without files (tls:// URLs also do).
	Enabled bool `yaml:"enabled"`
}

// Embedded configures the in-process NATS server.
type Embedded struct {
	// Listen is where bots in any language connect. Default 127.0.0.1:4222.
	// An empty host:port with port -1 picks a free port.
	Listen string `yaml:"listen"`
	// StoreDir holds JetStream data. Default ./data/nats.
	StoreDir string `yaml:"store_dir"`
	// Users, when set, make the embedded server require authentication.
	// Role bridge users share the bridge's NATS account (KFBRIDGE, full
	// access, for tools such as kfctl). Each role bot user gets an account
	// of its own (BOT_<user>) that can only publish commands (wxkf.out.>),
	// request the management API (wxkf.api.>), subscribe to pushes and
	// results (wxkf.in.>, wxkf.result.>) and pull from and ack the durable
	// consumers listed in its consumers, which the bridge creates — never
	// the token bucket, the object store or another bot's consumers. The
	// bridge's own in-process connection needs no entry.
	Users []User `yaml:"users"`
	// Sync is when the embedded server flushes JetStream writes to disk:
	// always (before every publish is acknowledged, so an answered push
	// survives an OS crash or power loss) or an interval such as 2m
	// (nats-server's own default; an OS crash loses up to that much of
	// answered pushes). Default always.
	Sync string `yaml:"sync"`
}

// SyncAlways is the [Embedded.Sync] value that flushes every write.
const SyncAlways = "always"

// SyncPolicy returns what [Embedded.Sync] asks for: always, or the flush
// interval. It assumes a validated value.
func (e Embedded) SyncPolicy() (always bool, interval time.Duration) {
	if e.Sync == SyncAlways || e.Sync == "" {
		return true, 0
	}
	d, _ := time.ParseDuration(e.Sync)
	return false, d
}

// InternalUser is the user of the bridge's own in-process connection to
// the embedded server; no configured user may take its name.
const InternalUser = "kfbridge-internal"

// User is an account of the embedded NATS server.
type User struct {
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// Role is bot (default) or bridge.
	Role string `yaml:"role"`
	// Consumers are the durable pull consumers the bridge creates for a
	// bot at start and lets only that bot use. Default: one named <user>
	// on each of WXKF_IN and WXKF_RESULT, unfiltered.
	Consumers []BotConsumer `yaml:"consumers"`
}

// Bot is a bot of an external NATS: its user name, which names its
// default consumers, and the consumers the bridge creates for it.
type Bot struct {
	User string `yaml:"user"`
	// Consumers: as [User.Consumers]; default one named <user> on each of
	// WXKF_IN and WXKF_RESULT, unfiltered.
	Consumers []BotConsumer `yaml:"consumers"`
}

// BotUsers returns [NATS.Bots] as role bot users (without passwords), the
// form the consumers are made from ([User.BotConsumers]).
func (n NATS) BotUsers() []User {
	users := make([]User, 0, len(n.Bots))
	for _, b := range n.Bots {
		users = append(users, User{User: b.User, Role: "bot", Consumers: b.Consumers})
	}
	return users
}

// BotConsumer is a durable pull consumer of one bot.
type BotConsumer struct {
	// Stream is in (WXKF_IN, the pushes) or result (WXKF_RESULT).
	Stream string `yaml:"stream"`
	// Name is the durable name: letters, digits, _ and -. The same name may
	// be used on both streams; on one stream it belongs to one bot.
	Name string `yaml:"name"`
	// Filter is an optional filter subject inside the stream's subjects
	// (wxkf.in.> or wxkf.result.>), e.g. wxkf.in.wx0123456789abcdef.>.
	Filter string `yaml:"filter"`
}

// Stream names of [BotConsumer.Stream].
const (
	ConsumerStreamIn     = "in"
	ConsumerStreamResult = "result"
)

// BotConsumers returns the consumers of a bot: [User.Consumers], or one
// named after the user on each stream when none are listed.
func (u User) BotConsumers() []BotConsumer {
	if len(u.Consumers) == 0 {
		return []BotConsumer{{Stream: ConsumerStreamIn, Name: u.User}, {Stream: ConsumerStreamResult, Name: u.User}}
	}
	return u.Consumers
}

// Streams holds the settings of the streams kfbridge creates.
type Streams struct {
	// Replicas of each stream (1 for a single server, 3 in a cluster). Default 1.
	Replicas int `yaml:"replicas"`
	// MaxAge drops messages older than this. Default 168h (7 days).
	MaxAge time.Duration `yaml:"max_age"`
	// DuplicateWindow is how long a Nats-Msg-Id is remembered to drop
	// WeChat's retries and replays of a push. Default 11m: it must be at
	// least [MinDuplicateWindow] of ingress.timestamp_window, so that a push
	// replayed at any time its timestamp is accepted is stored once. Every
	// id in the window costs server memory.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// Storage is file or memory. Default file.
	Storage string `yaml:"storage"`
	// MaxBytes caps the size of each stream, so that bots flooding
	// commands (and the results, dead letters and media they cause) cannot
	// fill the disk the pushes are stored on.
	MaxBytes StreamBytes `yaml:"max_bytes"`
}

// StorageType is Storage as JetStream names it: memory, or file for
// anything else (Validate accepts only the two).
func (s Streams) StorageType() jetstream.StorageType {
	if s.Storage == "memory" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// StreamBytes is a size cap in bytes per stream; 0 means no cap.
type StreamBytes struct {
	// In caps WXKF_IN, the pushes. Default 0: pushes are bounded by
	// max_age and WeChat's rate, and a cap would refuse pushes (503).
	In int64 `yaml:"in"`
	// Out caps WXKF_OUT, the commands waiting to be sent. A full stream
	// refuses new commands (the bot's publish fails) rather than dropping
	// queued ones. Default 256 MiB.
	Out int64 `yaml:"out"`
	// Result caps WXKF_RESULT; the oldest results go first. Default 1 GiB.
	Result int64 `yaml:"result"`
	// DeadLetter caps WXKF_DLQ; the oldest dead letters go first.
	// Default 256 MiB.
	DeadLetter int64 `yaml:"dlq"`
	// Media caps the object store WXKF_MEDIA; a full store refuses new
	// objects. Default 1 GiB.
	Media int64 `yaml:"media"`
	// Sent caps the KV bucket WXKF_SENT, the egress's record of every send
	// command (1.5–2 KB each, kept egress.sent_ttl). A full bucket
	// refuses records of new commands: they are not sent but retried with
	// backoff and fail (transient) when their retry budget ends, until
	// records expire; commands already recorded finish. Default 1 GiB.
	Sent int64 `yaml:"sent"`
	// MediaID caps the KV bucket WXKF_MEDIA_IDS, the cache of uploaded
	// media ids; a full cache refuses new entries (images are uploaded
	// again). Default 64 MiB.
	MediaID int64 `yaml:"mediaid"`
	// Pauses caps the KV bucket WXKF_PAUSES, the per-app quota pauses the
	// egress replicas share (one small entry per paused app); a full
	// bucket refuses new pauses (each replica then keeps its own).
	// Default 1 MiB.
	Pauses int64 `yaml:"pauses"`
	// Budget caps the KV bucket WXKF_BUDGET, the reply budgets of the
	// conversations (about 300 bytes each, kept 49 h after their last
	// change). A full bucket refuses budgets of new conversations: their
	// pushes are stored without data.reply_budget (and counted in
	// kfbridge_ingress_budget_errors_total), and the egress cannot spend
	// them. Default 256 MiB.
	Budget int64 `yaml:"budget"`
}

// Ingress configures the HTTP endpoint that receives WeChat's pushes.
type Ingress struct {
	// Listen address. Default 127.0.0.1:8080. Pushes arrive at /wx/<appid>;
	// this public listener serves nothing else but /healthz.
	Listen string `yaml:"listen"`
	// AdminListen serves /healthz, /readyz and /metrics, apart from the push
	// listener. Default 127.0.0.1:8082 (loopback: expose it only to
	// monitoring).
	AdminListen string `yaml:"admin_listen"`
	// MaxConns caps the open connections of the push listener. At the cap a
	// new connection closes the connection idle the longest (keep-alive, or
	// no complete request yet); verified pushes being stored are never
	// closed. Default 0: half the process's open-file limit, at most 10000.
	MaxConns int `yaml:"max_conns"`
	// ReadHeaderTimeout bounds the wait for a request's headers (and the TLS
	// handshake) on a new or kept-alive connection. Default 3s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long after a
	// response. Default 30s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// TrustedProxies lists the reverse proxies (IP addresses or CIDRs) whose
	// X-Forwarded-For and X-Real-IP headers name the client in logs. Default
	// none: logs show the peer's address and ignore those headers.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TLS serves HTTPS when both files are set (WeChat calls https on 443
	// or http on 80 only).
	TLS ServerTLS `yaml:"tls"`
	// MaxBodyBytes rejects larger bodies with 413. Default 1 MiB. The
	// ingress refuses to start when it exceeds the NATS server's max_payload.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TimestampWindow rejects pushes whose timestamp is further than this
	// from now (replay protection, with nats.streams.duplicate_window).
	// Default 5m; 0 disables the check, and with it the bound on replays.
	TimestampWindow time.Duration `yaml:"timestamp_window"`
	// PublishTimeout bounds the wait for JetStream's ack before answering
	// 503, well under WeChat's 5 s. Default 3s.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// ShutdownTimeout bounds the graceful drain on SIGTERM. Default 20s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// ServerTLS names a certificate and its key.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Egress configures the calls to WeChat's APIs.
type Egress struct {
	// APIBase is WeChat's API base URL (the simulator's in demos and tests).
	// Default https://api.weixin.qq.com.
	APIBase string `yaml:"api_base"`
	// ReplyBudget is observe, enforce or off ([BudgetObserve],
	// [BudgetEnforce], [BudgetOff]). Default observe. With observe and
	// enforce every replica tracks each conversation's reply budget in the
	// KV bucket WXKF_BUDGET (the ingress grants it from the pushes, the
	// egress spends it); enforce also refuses over-budget commands before
	// calling WeChat. off tracks nothing.
	ReplyBudget string `yaml:"reply_budget"`
	// Listen serves /healthz, /readyz and /metrics of a standalone egress
	// (cmd/egress). Default 127.0.0.1:8081; in cmd/kfbridge the ingress's
	// admin listener (ingress.admin_listen) serves them.
	Listen string `yaml:"listen"`
	// Partitions spreads conversations over this many partitions of the
	// command stream by a hash of the conversation; each partition has one
	// durable consumer, served by one replica at a time, so it is also the
	// most replicas that share the work. Default 1: the one consumer reads
	// the stream unfiltered, the cheapest for the server when commands
	// queue up; one replica works, the others stand by. Raise it to spread
	// the work over replicas. Change it only with an empty command stream
	// (the egress refuses to start otherwise).
	Partitions int `yaml:"partitions"`
	// MaxPending bounds the commands one partition's consumer hands out
	// before they are acknowledged: the commands a replica holds per
	// partition, running, queued behind their conversation's earlier
	// commands or waiting for a retry. Default 4096.
	MaxPending int `yaml:"max_pending"`
	// Concurrency bounds the commands handled at once by this process.
	// Default 64.
	Concurrency int `yaml:"concurrency"`
	// CallTimeout bounds one call of WeChat's API. Default 8s.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// AckWait is how long a command may go unacknowledged before another
	// replica gets it; handlers extend it with progress acks every third of
	// it, so it is also the time a dead replica's command waits. Default 10s.
	AckWait time.Duration `yaml:"ack_wait"`
	// RetryBudget bounds the total time a command is retried after transient
	// failures before it fails to the dead-letter stream. Default 5m.
	RetryBudget time.Duration `yaml:"retry_budget"`
	// RetryMin and RetryMax bound the backoff between retries. Default 1s, 30s.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// Token configures access tokens.
	Token TokenConfig `yaml:"token"`
	// SentTTL keeps the record of sent commands, consulted on redelivery.
	// Default 24h (the command stream keeps commands as long); 1h to 168h:
	// a delivered send's record is its result in WXKF_RESULT, kept 7 days,
	// and must not outlive it.
	SentTTL time.Duration `yaml:"sent_ttl"`
	// MaxMediaBytes bounds an image egress downloads and uploads. Default 2 MiB.
	MaxMediaBytes int64 `yaml:"max_media_bytes"`
	// MediaFetch limits where images named by URL (image commands, card
	// thumbnails, media.upload) may be downloaded from.
	MediaFetch MediaFetch `yaml:"media_fetch"`
	// TextLimit is the longest text, in UTF-8 bytes, sent in one call of
	// WeChat's send API: a longer text command is split into parts of at
	// most this many bytes, sent in order as one command (package
	// textsplit). Default 2048 (WeChat answers 45002 above it); 256 to
	// 65536.
	TextLimit int `yaml:"text_limit"`
}

// MediaFetch limits the destinations of image downloads by URL.
type MediaFetch struct {
	// Allow lists destinations that may be fetched although they are not
	// public addresses: CIDR prefixes ("10.0.0.0/8"), addresses
	// ("127.0.0.1") or host names ("images.internal"). Default empty:
	// loopback, private, link-local and other special-purpose addresses
	// are refused, checked on the address dialled (after DNS, on every
	// redirect).
	Allow []string `yaml:"allow"`
}

// TokenConfig configures access tokens.
type TokenConfig struct {
	// Mode is stable (default: /cgi-bin/stable_token, replicas fetch
	// independently) or classic (/cgi-bin/token, one replica refreshes under
	// a lease).
	Mode string `yaml:"mode"`
	// ForceDailyCap caps forced stable-token refreshes per app per day.
	// Default 10 (WeChat allows 20).
	ForceDailyCap int `yaml:"force_daily_cap"`
}

// App is one mini program.
type App struct {
	// AppID is the mini program's AppID; it names its subjects.
	AppID string `yaml:"appid"`
	// Secret is the AppSecret, used by egress for access tokens.
	Secret Secret `yaml:"secret"`
	// Token is the push Token configured in the mini program console.
	Token Secret `yaml:"token"`
	// EncodingAESKey is the 43-character key for compatible and safe mode;
	// empty accepts plaintext pushes only.
	EncodingAESKey Secret `yaml:"encoding_aes_key"`
	// Modes lists the encryption modes the ingress accepts from this app:
	// plaintext, compatible, safe. Default: the mode the key implies, safe
	// with an EncodingAESKey and plaintext without. compatible and safe need
	// the key. Listing plaintext with a key is an explicit downgrade: a
	// plaintext push's signature does not cover its body and is in every
	// push URL, so whoever sees one URL can forge any push until its
	// timestamp expires.
	Modes []string `yaml:"modes"`
	// PreviousToken and PreviousEncodingAESKey are the push Token and key
	// before a rotation. The ingress tries them when the current ones fail,
	// answers with the ones that worked and counts such pushes; remove them
	// once WeChat uses the new ones. A previous key needs a current key.
	PreviousToken          Secret `yaml:"previous_token"`
	PreviousEncodingAESKey Secret `yaml:"previous_encoding_aes_key"`
	// PassiveReply is what the ingress answers to a user message once it is
	// stored: success (default) or transfer_customer_service, which hands the
	// message to WeChat's human customer-service tool.
	PassiveReply string `yaml:"passive_reply"`
	// BudgetPolicy is what egress.reply_budget enforce does with a text
	// sent in parts whose parts the reply budget cannot all hold, unless
	// the command names its own (text.budget_policy): fail (default: send
	// nothing, reason budget), truncate (send the parts it holds, the last
	// one ending with an ellipsis) or partial (send the parts it holds).
	BudgetPolicy string `yaml:"budget_policy"`
	// Handover decides per user message whether it goes to human agents
	// (see [Handover]); passive_reply: transfer_customer_service is mode
	// always.
	Handover Handover `yaml:"handover"`
}

// AcceptedModes returns the encryption modes the app accepts: Modes, or
// the mode its key implies when Modes is empty.
func (a App) AcceptedModes() []string {
	switch {
	case len(a.Modes) > 0:
		return a.Modes
	case a.EncodingAESKey != "":
		return []string{"safe"}
	default:
		return []string{"plaintext"}
	}
}

// ReplayClockMargin is the clock difference between ingress replicas (and
// NATS servers) that [MinDuplicateWindow] allows for.
const ReplayClockMargin = time.Minute

// MinDuplicateWindow returns the shortest nats.streams.duplicate_window
// that stores a replayed push once for as long as an ingress.timestamp_window
// of window accepts it: a push may first arrive when its timestamp is
// window ahead of the ingress's clock and be replayed until it is window
// behind, so 2 × window, plus [ReplayClockMargin]. Zero for window 0 (no
// timestamp check: replays are not bounded).
func MinDuplicateWindow(window time.Duration) time.Duration {
	if window <= 0 {
		return 0
	}
	return 2*window + ReplayClockMargin
}

// Passive replies an [App] may configure.
const (
	ReplySuccess  = "success"
	ReplyTransfer = "transfer_customer_service"
)

// Modes of egress.reply_budget ([Egress.ReplyBudget]).
const (
	BudgetObserve = "observe"
	BudgetEnforce = "enforce"
	BudgetOff     = "off"
)

// Secret is a configuration string that never shows in logs or %v output.
// Use [Secret.Value] to read it.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue redacts the secret in log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString redacts the secret in %#v output.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Default returns the documented defaults.
func Default() Config {
	return Config{
		Log: Log{Level: "info", Format: "json"},
		NATS: NATS{
			Embedded: Embedded{Listen: "127.0.0.1:4222", StoreDir: "./data/nats", Sync: SyncAlways},
			Streams: Streams{
				Replicas:        1,
				MaxAge:          7 * 24 * time.Hour,
				DuplicateWindow: 11 * time.Minute, // MinDuplicateWindow(5m)
				Storage:         "file",
				MaxBytes:        StreamBytes{Out: 256 << 20, Result: 1 << 30, DeadLetter: 256 << 20, Media: 1 << 30, Sent: 1 << 30, MediaID: 64 << 20, Pauses: 1 << 20, Budget: 256 << 20},
			},
			RequestTimeout: 5 * time.Second,
		},
		Ingress: Ingress{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    1 << 20,
			TimestampWindow: 5 * time.Minute,
			PublishTimeout:  3 * time.Second,
			ShutdownTimeout: 20 * time.Second,

			AdminListen:       "127.0.0.1:8082",
			ReadHeaderTimeout: 3 * time.Second,
			IdleTimeout:       30 * time.Second,
		},
		Egress: Egress{
			APIBase:       "https://api.weixin.qq.com",
			ReplyBudget:   "observe",
			Listen:        "127.0.0.1:8081",
			Partitions:    events.DefaultPartitions,
			MaxPending:    4096,
			Concurrency:   64,
			CallTimeout:   8 * time.Second,
			AckWait:       10 * time.Second,
			RetryBudget:   5 * time.Minute,
			RetryMin:      time.Second,
			RetryMax:      30 * time.Second,
			Token:         TokenConfig{Mode: "stable", ForceDailyCap: 10},
			SentTTL:       24 * time.Hour,
			MaxMediaBytes: 2 << 20,
			TextLimit:     2048,
		},
	}
}

// App returns the app with the given AppID.
func (c *Config) App(appid string) (App, bool) {
	for _, a := range c.Apps {
		if a.AppID == appid {
			return a, true
		}
	}
	return App{}, false
}
