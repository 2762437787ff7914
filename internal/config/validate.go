package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/pkg/events"
)

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate reports every problem in c at once, each wrapped in [ErrInvalid].
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format %q: want json or text", c.Log.Format)
	}
	if c.NATS.URL == "" {
		if _, _, err := net.SplitHostPort(c.NATS.Embedded.Listen); err != nil {
			bad("nats.embedded.listen %q: %v", c.NATS.Embedded.Listen, err)
		}
		if c.NATS.Embedded.StoreDir == "" && c.NATS.Streams.Storage == "file" {
			bad("nats.embedded.store_dir is empty")
		}
		if sync := c.NATS.Embedded.Sync; sync != SyncAlways {
			if d, err := time.ParseDuration(sync); err != nil || d <= 0 {
				bad("nats.embedded.sync %q: want always or a positive duration", sync)
			}
		}
	}
	names := map[string]bool{}
	consumers := map[string]string{} // stream/name → owning user
	for i, u := range c.NATS.Embedded.Users {
		if u.User == "" || u.Password == "" {
			bad("nats.embedded.users[%d]: user and password are required", i)
		}
		if names[u.User] {
			bad("nats.embedded.users[%d]: user %q listed twice", i, u.User)
		}
		names[u.User] = true
		if u.User == InternalUser {
			bad("nats.embedded.users[%d]: user name %q is reserved for the bridge's own connection", i, u.User)
		}
		switch u.Role {
		case "", "bot", "bridge":
		default:
			bad("nats.embedded.users[%d].role %q: want bot or bridge", i, u.Role)
		}
		// A bot's name is a subject token (its inbox prefix) and a consumer name.
		if u.User != "" && u.Role != "bridge" && !tokenPattern.MatchString(u.User) {
			bad("nats.embedded.users[%d]: bot user %q: want letters, digits, _ and - only", i, u.User)
		}
		if u.Role == "bridge" {
			continue
		}
		for j, bc := range u.BotConsumers() {
			var prefix string
			switch bc.Stream {
			case ConsumerStreamIn:
				prefix = "wxkf.in."
			case ConsumerStreamResult:
				prefix = "wxkf.result."
			default:
				bad("nats.embedded.users[%d].consumers[%d].stream %q: want in or result", i, j, bc.Stream)
				continue
			}
			if !tokenPattern.MatchString(bc.Name) {
				bad("nats.embedded.users[%d].consumers[%d].name %q: want letters, digits, _ and - only", i, j, bc.Name)
			}
			if bc.Filter != "" && !subjectUnder(bc.Filter, prefix) {
				bad("nats.embedded.users[%d].consumers[%d].filter %q: want a subject under %s>", i, j, bc.Filter, prefix)
			}
			key := bc.Stream + "/" + bc.Name
			if owner, ok := consumers[key]; ok {
				bad("nats.embedded.users[%d].consumers[%d]: %s consumer %q is also %s's", i, j, bc.Stream, bc.Name, owner)
			}
			consumers[key] = u.User
		}
	}
	if len(c.NATS.Bots) > 0 && c.NATS.URL == "" {
		bad("nats.bots lists the bots of an external NATS (nats.url); the embedded server's bots are nats.embedded.users")
	}
	bots := map[string]bool{}
	for i, b := range c.NATS.Bots {
		if !tokenPattern.MatchString(b.User) {
			bad("nats.bots[%d]: user %q: want letters, digits, _ and - only", i, b.User)
		}
		if bots[b.User] {
			bad("nats.bots[%d]: user %q listed twice", i, b.User)
		}
		bots[b.User] = true
		for j, bc := range (User{User: b.User, Consumers: b.Consumers}).BotConsumers() {
			prefix := map[string]string{ConsumerStreamIn: "wxkf.in.", ConsumerStreamResult: "wxkf.result."}[bc.Stream]
			if prefix == "" {
				bad("nats.bots[%d].consumers[%d].stream %q: want in or result", i, j, bc.Stream)
				continue
			}
			if !tokenPattern.MatchString(bc.Name) {
				bad("nats.bots[%d].consumers[%d].name %q: want letters, digits, _ and - only", i, j, bc.Name)
			}
			if bc.Filter != "" && !subjectUnder(bc.Filter, prefix) {
				bad("nats.bots[%d].consumers[%d].filter %q: want a subject under %s>", i, j, bc.Filter, prefix)
			}
			key := bc.Stream + "/" + bc.Name
			if owner, ok := consumers[key]; ok {
				bad("nats.bots[%d].consumers[%d]: %s consumer %q is also %s's", i, j, bc.Stream, bc.Name, owner)
			}
			consumers[key] = b.User
		}
	}
	if c.NATS.CredsFile != "" && c.NATS.NKeyFile != "" {
		bad("nats.creds_file and nats.nkey_file are exclusive")
	}
	if (c.NATS.TLS.CertFile == "") != (c.NATS.TLS.KeyFile == "") {
		bad("nats.tls.cert_file and nats.tls.key_file go together")
	}
	s := c.NATS.Streams
	if s.Replicas < 1 || s.Replicas > 5 {
		bad("nats.streams.replicas %d: want 1 to 5", s.Replicas)
	}
	if s.MaxAge < 0 {
		bad("nats.streams.max_age %s is negative", s.MaxAge)
	}
	if s.DuplicateWindow <= 0 {
		bad("nats.streams.duplicate_window must be positive")
	} else if s.MaxAge > 0 && s.DuplicateWindow > s.MaxAge {
		bad("nats.streams.duplicate_window %s exceeds max_age %s", s.DuplicateWindow, s.MaxAge)
	}
	switch s.Storage {
	case "file", "memory":
	default:
		bad("nats.streams.storage %q: want file or memory", s.Storage)
	}
	for _, m := range []struct {
		key string
		n   int64
	}{{"in", s.MaxBytes.In}, {"out", s.MaxBytes.Out}, {"result", s.MaxBytes.Result}, {"dlq", s.MaxBytes.DeadLetter}, {"media", s.MaxBytes.Media},
		{"sent", s.MaxBytes.Sent}, {"mediaid", s.MaxBytes.MediaID}, {"pauses", s.MaxBytes.Pauses}, {"budget", s.MaxBytes.Budget}} {
		if m.n < 0 {
			bad("nats.streams.max_bytes.%s %d is negative (0 means no cap)", m.key, m.n)
		}
	}
	if c.NATS.RequestTimeout <= 0 {
		bad("nats.request_timeout must be positive")
	}
	in := c.Ingress
	if _, _, err := net.SplitHostPort(in.Listen); err != nil {
		bad("ingress.listen %q: %v", in.Listen, err)
	}
	if (in.TLS.CertFile == "") != (in.TLS.KeyFile == "") {
		bad("ingress.tls.cert_file and ingress.tls.key_file go together")
	}
	if in.MaxBodyBytes <= 0 {
		bad("ingress.max_body_bytes must be positive")
	}
	if in.TimestampWindow < 0 {
		bad("ingress.timestamp_window is negative")
	} else if minDup := MinDuplicateWindow(in.TimestampWindow); s.DuplicateWindow > 0 && s.DuplicateWindow < minDup {
		bad("nats.streams.duplicate_window %s: want at least %s (2 × ingress.timestamp_window %s + %s), else a push replayed after the duplicate window but inside the timestamp window is stored twice",
			s.DuplicateWindow, minDup, in.TimestampWindow, ReplayClockMargin)
	}
	if in.PublishTimeout <= 0 || in.PublishTimeout.Seconds() >= 5 {
		bad("ingress.publish_timeout %s: want above 0 and under WeChat's 5s", in.PublishTimeout)
	}
	if in.ShutdownTimeout <= 0 {
		bad("ingress.shutdown_timeout must be positive")
	}
	if _, port, err := net.SplitHostPort(in.AdminListen); err != nil {
		bad("ingress.admin_listen %q: %v", in.AdminListen, err)
	} else if in.AdminListen == in.Listen && port != "0" {
		bad("ingress.admin_listen %q: must differ from ingress.listen (/metrics and /readyz stay off the push listener)", in.AdminListen)
	}
	if in.MaxConns < 0 {
		bad("ingress.max_conns %d: want 0 (derived from the open-file limit) or more", in.MaxConns)
	}
	if in.ReadHeaderTimeout <= 0 || in.IdleTimeout <= 0 {
		bad("ingress.read_header_timeout and ingress.idle_timeout must be positive")
	}
	for i, p := range in.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				bad("ingress.trusted_proxies[%d] %q: want an IP address or a CIDR", i, p)
			}
		}
	}
	if !strings.HasPrefix(c.Egress.APIBase, "http://") && !strings.HasPrefix(c.Egress.APIBase, "https://") {
		bad("egress.api_base %q: want an http(s) URL", c.Egress.APIBase)
	}
	if ep := c.Telemetry.OTLP.Endpoint; ep != "" {
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			bad("telemetry.otlp.endpoint: want an http(s)://host[:port][/path] URL without credentials or query")
		}
	}
	switch c.Egress.ReplyBudget {
	case BudgetObserve, BudgetEnforce, BudgetOff:
	default:
		bad("egress.reply_budget %q: want observe, enforce or off", c.Egress.ReplyBudget)
	}
	eg := c.Egress
	if _, _, err := net.SplitHostPort(eg.Listen); err != nil {
		bad("egress.listen %q: %v", eg.Listen, err)
	}
	if eg.Partitions < 1 || eg.Partitions > 4096 {
		bad("egress.partitions %d: want 1 to 4096", eg.Partitions)
	}
	if eg.MaxPending < 1 || eg.MaxPending > 100000 {
		bad("egress.max_pending %d: want 1 to 100000", eg.MaxPending)
	}
	if eg.Concurrency < 1 {
		bad("egress.concurrency must be positive")
	}
	if eg.CallTimeout <= 0 || eg.AckWait <= 0 || eg.RetryBudget <= 0 || eg.RetryMin <= 0 || eg.RetryMax < eg.RetryMin {
		bad("egress timeouts: call_timeout, ack_wait, retry_budget, retry_min must be positive and retry_max >= retry_min")
	}
	if eg.AckWait < 3*time.Second {
		bad("egress.ack_wait %s: want at least 3s (progress acks go every third of it)", eg.AckWait)
	}
	switch eg.Token.Mode {
	case "stable", "classic":
	default:
		bad("egress.token.mode %q: want stable or classic", eg.Token.Mode)
	}
	if eg.Token.ForceDailyCap < 1 || eg.Token.ForceDailyCap > 20 {
		bad("egress.token.force_daily_cap %d: want 1 to 20 (WeChat allows 20)", eg.Token.ForceDailyCap)
	}
	if resultAge := events.ResultStream().MaxAge; eg.SentTTL < time.Hour || eg.SentTTL > resultAge {
		// A delivered send's result is its record: a record that outlived
		// its result would make a republished id fail maybe_delivered, a
		// second result contradicting the first.
		bad("egress.sent_ttl %s: want 1h to %s (WXKF_RESULT keeps results %s: a sent command's record must not outlive its result)", eg.SentTTL, resultAge, resultAge)
	}
	if eg.MaxMediaBytes <= 0 {
		bad("egress.max_media_bytes must be positive")
	}
	if eg.TextLimit < 256 || eg.TextLimit > 65536 {
		bad("egress.text_limit %d: want 256 to 65536 (WeChat takes 2048)", eg.TextLimit)
	}
	if _, _, err := mediafetch.ParseAllow(eg.MediaFetch.Allow); err != nil {
		bad("egress.media_fetch.allow: %v", err)
	}
	seen := map[string]bool{}
	for i, a := range c.Apps {
		if !tokenPattern.MatchString(a.AppID) {
			bad("apps[%d].appid %q: want [A-Za-z0-9_-]+", i, a.AppID)
		}
		if seen[a.AppID] {
			bad("apps[%d].appid %q: listed twice", i, a.AppID)
		}
		seen[a.AppID] = true
		if k := a.EncodingAESKey.Value(); k != "" && len(k) != 43 {
			bad("apps[%d].encoding_aes_key: want 43 characters, have %d", i, len(k))
		}
		if k := a.PreviousEncodingAESKey.Value(); k != "" && len(k) != 43 {
			bad("apps[%d].previous_encoding_aes_key: want 43 characters, have %d", i, len(k))
		} else if k != "" && a.EncodingAESKey == "" {
			bad("apps[%d].previous_encoding_aes_key needs an encoding_aes_key", i)
		}
		if a.PreviousToken != "" && a.Token == "" {
			bad("apps[%d].previous_token needs a token", i)
		}
		modes := map[string]bool{}
		for _, m := range a.Modes {
			switch {
			case m != "plaintext" && m != "compatible" && m != "safe":
				bad("apps[%d].modes: %q: want plaintext, compatible or safe", i, m)
			case modes[m]:
				bad("apps[%d].modes: %s listed twice", i, m)
			case m != "plaintext" && a.EncodingAESKey == "":
				bad("apps[%d].modes: %s needs an encoding_aes_key", i, m)
			}
			modes[m] = true
		}
		switch a.PassiveReply {
		case "", ReplySuccess, ReplyTransfer:
		default:
			bad("apps[%d].passive_reply %q: want %s or %s", i, a.PassiveReply, ReplySuccess, ReplyTransfer)
		}
		switch a.BudgetPolicy {
		case "", "fail", "truncate", "partial":
		default:
			bad("apps[%d].budget_policy %q: want fail, truncate or partial", i, a.BudgetPolicy)
		}
		validateHandover(i, a, bad)
	}
	return errors.Join(errs...)
}

// subjectUnder reports whether subject is a valid subject (or wildcard
// filter) that only matches subjects starting with prefix (which ends in a
// dot), so a bot's consumer cannot reach beyond its stream's subjects.
func subjectUnder(subject, prefix string) bool {
	if !strings.HasPrefix(subject, prefix) || len(subject) == len(prefix) {
		return false
	}
	tokens := strings.Split(subject, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return false
		case t == ">" && i != len(tokens)-1:
			return false
		case t != "*" && t != ">" && strings.ContainsAny(t, "*> \t\r\n"):
			return false
		}
	}
	return true
}
