package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) LookupFunc {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadFileEnvAndReferences(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kfbridge.yaml")
	data := `
nats:
  url: nats://example:4222
  password: ${NATS_PW}
  streams:
    duplicate_window: 2m
ingress:
  listen: 0.0.0.0:80
  timestamp_window: 0s
apps:
  - appid: wx0123456789abcdef
    secret: ${APP_SECRET}
    token: "lit: eral # not a comment"
    encoding_aes_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env(map[string]string{
		"NATS_PW":                        "p: w#d",
		"APP_SECRET":                     "s3cret",
		"KFBRIDGE_NATS_URL":              "nats://override:4222",
		"KFBRIDGE_APPS_0_TOKEN":          "tok",
		"KFBRIDGE_APPS_1_APPID":          "wxsecond",
		"KFBRIDGE_NATS_STREAMS_REPLICAS": "3",
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if cfg.NATS.URL != "nats://override:4222" {
		t.Errorf("NATS.URL = %q, want the env override", cfg.NATS.URL)
	}
	if cfg.NATS.Password.Value() != "p: w#d" {
		t.Errorf("NATS.Password = %q, want the referenced value", cfg.NATS.Password.Value())
	}
	if cfg.NATS.Streams.DuplicateWindow != 2*time.Minute || cfg.NATS.Streams.Replicas != 3 {
		t.Errorf("Streams = %+v", cfg.NATS.Streams)
	}
	if cfg.NATS.Streams.MaxAge != 7*24*time.Hour {
		t.Errorf("MaxAge = %v, want the default kept", cfg.NATS.Streams.MaxAge)
	}
	if cfg.Ingress.TimestampWindow != 0 {
		t.Errorf("TimestampWindow = %v, want an explicit 0 kept", cfg.Ingress.TimestampWindow)
	}
	if len(cfg.Apps) != 2 || cfg.Apps[0].Token.Value() != "tok" || cfg.Apps[0].Secret.Value() != "s3cret" || cfg.Apps[1].AppID != "wxsecond" {
		t.Errorf("Apps = %#v", cfg.Apps)
	}
	if s := fmt.Sprintf("%v %+v %#v", cfg.Apps[0], cfg.Apps[0], cfg.Apps[0]); strings.Contains(s, "s3cret") || strings.Contains(s, "tok}") {
		t.Errorf("formatted app leaks a secret: %s", s)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want error
	}{
		{name: "unknown key", yaml: "nats:\n  urll: x\n", want: nil},
		{name: "unset reference", yaml: "apps:\n  - appid: wx1\n    secret: ${NOPE}\n", want: ErrUnsetVariable},
		{name: "bad appid", yaml: "apps:\n  - appid: wx.1\n", want: ErrInvalid},
		{name: "short aes key", yaml: "apps:\n  - appid: wx1\n    encoding_aes_key: abc\n", want: ErrInvalid},
		{name: "duplicate app", yaml: "apps:\n  - appid: wx1\n  - appid: wx1\n", want: ErrInvalid},
		{name: "reply budget", yaml: "egress:\n  reply_budget: maybe\n", want: ErrInvalid},
		{name: "text limit too small", yaml: "egress:\n  text_limit: 255\n", want: ErrInvalid},
		{name: "text limit too large", yaml: "egress:\n  text_limit: 65537\n", want: ErrInvalid},
		{name: "media fetch allow entry", yaml: "egress:\n  media_fetch:\n    allow: [\"10.0.0.0/33\"]\n", want: ErrInvalid},
		{name: "publish timeout over 5s", yaml: "ingress:\n  publish_timeout: 6s\n", want: ErrInvalid},
		{name: "bad env int", yaml: "", env: map[string]string{"KFBRIDGE_NATS_STREAMS_REPLICAS": "x"}, want: nil},
		{name: "sync word", yaml: "nats:\n  embedded:\n    sync: sometimes\n", want: ErrInvalid},
		{name: "sync zero", yaml: "nats:\n  embedded:\n    sync: 0s\n", want: ErrInvalid},
		{name: "negative max bytes", yaml: "nats:\n  streams:\n    max_bytes:\n      out: -1\n", want: ErrInvalid},
		{name: "negative sent max bytes", yaml: "nats:\n  streams:\n    max_bytes:\n      sent: -1\n", want: ErrInvalid},
		{name: "negative mediaid max bytes", yaml: "nats:\n  streams:\n    max_bytes:\n      mediaid: -1\n", want: ErrInvalid},
		{name: "negative pauses max bytes", yaml: "nats:\n  streams:\n    max_bytes:\n      pauses: -1\n", want: ErrInvalid},
		{name: "bot name not a token", yaml: "nats:\n  embedded:\n    users: [{user: my.bot, password: p}]\n", want: ErrInvalid},
		{name: "consumer not a token", yaml: "nats:\n  embedded:\n    users: [{user: bot, password: p, consumers: [{stream: in, name: a.b}]}]\n", want: ErrInvalid},
		{name: "consumer of two bots", yaml: "nats:\n  embedded:\n    users: [{user: a, password: p, consumers: [{stream: in, name: b}]}, {user: b, password: p}]\n", want: ErrInvalid},
		{name: "consumer stream", yaml: "nats:\n  embedded:\n    users: [{user: a, password: p, consumers: [{stream: out, name: a}]}]\n", want: ErrInvalid},
		{name: "consumer filter outside", yaml: "nats:\n  embedded:\n    users: [{user: a, password: p, consumers: [{stream: in, name: a, filter: wxkf.result.>}]}]\n", want: ErrInvalid},
		{name: "consumer filter everything", yaml: "nats:\n  embedded:\n    users: [{user: a, password: p, consumers: [{stream: in, name: a, filter: \">\"}]}]\n", want: ErrInvalid},
		{name: "consumer filter bad wildcard", yaml: "nats:\n  embedded:\n    users: [{user: a, password: p, consumers: [{stream: result, name: a, filter: wxkf.result.>.x}]}]\n", want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, env(tt.env))
			if err == nil {
				t.Fatalf("Load() = nil error, want one")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	cfg := Default()
	cfg.Log.Level = "loud"
	cfg.Egress.ReplyBudget = "x"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "log.level") || !strings.Contains(err.Error(), "reply_budget") {
		t.Errorf("Validate() = %v, want both problems listed", err)
	}
}

func TestDefaultIsValid(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

// TestIngressListenerKeys: the admin listener defaults to loopback apart
// from the push listener, trusted proxies come from a file or a
// comma-separated variable, and bad values are refused.
func TestIngressListenerKeys(t *testing.T) {
	d := Default().Ingress
	if host, _, _ := strings.Cut(d.AdminListen, ":"); host != "127.0.0.1" || d.AdminListen == d.Listen {
		t.Errorf("default ingress.admin_listen %q, want loopback apart from %q", d.AdminListen, d.Listen)
	}
	if len(d.TrustedProxies) != 0 {
		t.Errorf("default ingress.trusted_proxies %v, want none", d.TrustedProxies)
	}
	cfg, err := Load("", env(map[string]string{"KFBRIDGE_INGRESS_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Ingress.TrustedProxies, " "); got != "10.0.0.0/8 192.0.2.1" {
		t.Errorf("trusted_proxies from the environment = %q", got)
	}
	for name, yaml := range map[string]string{
		"admin on the push listener": "ingress:\n  listen: 0.0.0.0:8080\n  admin_listen: 0.0.0.0:8080\n",
		"bad proxy":                  "ingress:\n  trusted_proxies: [10.0.0.0/33]\n",
		"negative max_conns":         "ingress:\n  max_conns: -1\n",
		"zero idle timeout":          "ingress:\n  idle_timeout: 0s\n",
	} {
		if _, err := Parse([]byte(yaml), env(nil)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse() = %v, want ErrInvalid", name, err)
		}
	}
}

func TestNATSDurabilityAndLimits(t *testing.T) {
	cfg, err := Parse([]byte("nats:\n  embedded:\n    sync: 30s\n    users: [{user: a, password: p}, {user: b, password: p, consumers: [{stream: in, name: b, filter: wxkf.in.wx0123456789abcdef.>}, {stream: result, name: b}]}]\n  streams:\n    max_bytes: {out: 1024}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if always, every := cfg.NATS.Embedded.SyncPolicy(); always || every != 30*time.Second {
		t.Errorf("SyncPolicy() = %v, %v, want false, 30s", always, every)
	}
	if always, _ := Default().NATS.Embedded.SyncPolicy(); !always {
		t.Error("default sync is not always")
	}
	if got := cfg.NATS.Streams.MaxBytes; got.Out != 1024 || got.Result != 1<<30 || got.Sent != 1<<30 || got.MediaID != 64<<20 || got.Pauses != 1<<20 {
		t.Errorf("MaxBytes = %+v, want out 1024 and the other defaults kept", got)
	}
	want := []BotConsumer{{Stream: "in", Name: "a"}, {Stream: "result", Name: "a"}}
	if got := cfg.NATS.Embedded.Users[0].BotConsumers(); !slices.Equal(got, want) {
		t.Errorf("default BotConsumers() = %v, want %v", got, want)
	}
	if got := cfg.NATS.Embedded.Users[1].BotConsumers(); len(got) != 2 || got[0].Filter != "wxkf.in.wx0123456789abcdef.>" {
		t.Errorf("BotConsumers() = %v, want the listed two", got)
	}
}

// TestNATSBots checks nats.bots, the bots of an external NATS: their
// consumers default as an embedded user's, and what Validate refuses.
func TestNATSBots(t *testing.T) {
	cfg, err := Parse([]byte("nats:\n  url: nats://n:4222\n  bots: [{user: a}, {user: b, consumers: [{stream: in, name: b2}]}]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	users := cfg.NATS.BotUsers()
	want := []BotConsumer{{Stream: "in", Name: "a"}, {Stream: "result", Name: "a"}}
	if len(users) != 2 || users[0].Role != "bot" || !slices.Equal(users[0].BotConsumers(), want) || users[1].BotConsumers()[0].Name != "b2" {
		t.Errorf("BotUsers() = %+v", users)
	}
	if c, err := Load("", env(map[string]string{"KFBRIDGE_NATS_URL": "nats://n:4222", "KFBRIDGE_NATS_BOTS_0_USER": "envbot"})); err != nil || len(c.NATS.Bots) != 1 || c.NATS.Bots[0].User != "envbot" {
		t.Errorf("KFBRIDGE_NATS_BOTS_0_USER: %+v, %v", c.NATS.Bots, err)
	}
	for name, yaml := range map[string]string{
		"embedded server":    "nats:\n  bots: [{user: a}]\n",
		"bad user":           "nats:\n  url: nats://n:4222\n  bots: [{user: 'a.b'}]\n",
		"twice":              "nats:\n  url: nats://n:4222\n  bots: [{user: a}, {user: a}]\n",
		"bad stream":         "nats:\n  url: nats://n:4222\n  bots: [{user: a, consumers: [{stream: out, name: a}]}]\n",
		"filter outside":     "nats:\n  url: nats://n:4222\n  bots: [{user: a, consumers: [{stream: in, name: a, filter: wxkf.out.>}]}]\n",
		"another's consumer": "nats:\n  url: nats://n:4222\n  bots: [{user: a}, {user: b, consumers: [{stream: in, name: a}]}]\n",
	} {
		if _, err := Parse([]byte(yaml), env(nil)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse() = %v, want ErrInvalid", name, err)
		}
	}
}
