package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDefaultWindowsAgree is the replay invariant of the defaults: the
// duplicate window covers every moment a push's timestamp is accepted, so
// a byte-identical replay is dropped by its Nats-Msg-Id until the timestamp
// check refuses it.
func TestDefaultWindowsAgree(t *testing.T) {
	cfg := Default()
	ts, dup := cfg.Ingress.TimestampWindow, cfg.NATS.Streams.DuplicateWindow
	if ts <= 0 {
		t.Fatalf("default ingress.timestamp_window = %v, want a bound on replays", ts)
	}
	if dup < 2*ts+ReplayClockMargin || dup != MinDuplicateWindow(ts) {
		t.Errorf("default duplicate_window %v, timestamp_window %v: want the duplicate window to be 2 × %v + %v", dup, ts, ts, ReplayClockMargin)
	}
}

func TestValidateReplayWindows(t *testing.T) {
	tests := []struct {
		name    string
		ts, dup time.Duration
		ok      bool
	}{
		{name: "old defaults", ts: 5 * time.Minute, dup: time.Minute},
		{name: "just short", ts: 5 * time.Minute, dup: 11*time.Minute - time.Second},
		{name: "defaults", ts: 5 * time.Minute, dup: 11 * time.Minute, ok: true},
		{name: "longer", ts: time.Minute, dup: time.Hour, ok: true},
		{name: "no timestamp check", ts: 0, dup: time.Minute, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Ingress.TimestampWindow, cfg.NATS.Streams.DuplicateWindow = tt.ts, tt.dup
			err := cfg.Validate()
			if tt.ok != (err == nil) || err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "duplicate_window")) {
				t.Errorf("Validate(timestamp_window %v, duplicate_window %v) = %v, want ok %v", tt.ts, tt.dup, err, tt.ok)
			}
		})
	}
}

// TestValidateSentTTL: a sent command's record must not outlive its
// delivered result in WXKF_RESULT (7 days), which is what a republished id
// is answered with.
func TestValidateSentTTL(t *testing.T) {
	for _, tt := range []struct {
		ttl time.Duration
		ok  bool
	}{
		{ttl: 59 * time.Minute},
		{ttl: time.Hour, ok: true},
		{ttl: 24 * time.Hour, ok: true},
		{ttl: 7 * 24 * time.Hour, ok: true},
		{ttl: 7*24*time.Hour + time.Second},
		{ttl: 30 * 24 * time.Hour},
	} {
		cfg := Default()
		cfg.Egress.SentTTL = tt.ttl
		err := cfg.Validate()
		if tt.ok != (err == nil) || err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "egress.sent_ttl")) {
			t.Errorf("Validate(sent_ttl %v) = %v, want ok %v", tt.ttl, err, tt.ok)
		}
	}
}

func TestValidateAppTrust(t *testing.T) {
	key := strings.Repeat("A", 43)
	tests := []struct {
		name string
		app  App
		ok   bool
	}{
		{name: "modes with key", app: App{AppID: "wx1", Token: "t", EncodingAESKey: Secret(key), Modes: []string{"safe", "compatible", "plaintext"}}, ok: true},
		{name: "plaintext without key", app: App{AppID: "wx1", Token: "t", Modes: []string{"plaintext"}}, ok: true},
		{name: "safe without key", app: App{AppID: "wx1", Token: "t", Modes: []string{"safe"}}},
		{name: "unknown mode", app: App{AppID: "wx1", Token: "t", EncodingAESKey: Secret(key), Modes: []string{"aes"}}},
		{name: "mode twice", app: App{AppID: "wx1", Token: "t", EncodingAESKey: Secret(key), Modes: []string{"safe", "safe"}}},
		{name: "previous secrets", app: App{AppID: "wx1", Token: "t", EncodingAESKey: Secret(key), PreviousToken: "o", PreviousEncodingAESKey: Secret(key)}, ok: true},
		{name: "short previous key", app: App{AppID: "wx1", Token: "t", EncodingAESKey: Secret(key), PreviousEncodingAESKey: "short"}},
		{name: "previous key without key", app: App{AppID: "wx1", Token: "t", PreviousEncodingAESKey: Secret(key)}},
		{name: "previous token without token", app: App{AppID: "wx1", PreviousToken: "o"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Apps = []App{tt.app}
			err := cfg.Validate()
			if tt.ok != (err == nil) {
				t.Errorf("Validate(%s) = %v, want ok %v", tt.name, err, tt.ok)
			}
			if err != nil && (strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "short")) {
				t.Errorf("Validate error %q contains a key", err)
			}
		})
	}
}

func TestAcceptedModes(t *testing.T) {
	tests := []struct {
		app  App
		want string
	}{
		{App{EncodingAESKey: "k"}, "safe"},
		{App{}, "plaintext"},
		{App{EncodingAESKey: "k", Modes: []string{"plaintext", "safe"}}, "plaintext,safe"},
	}
	for _, tt := range tests {
		if got := strings.Join(tt.app.AcceptedModes(), ","); got != tt.want {
			t.Errorf("AcceptedModes(%+v) = %s, want %s", tt.app, got, tt.want)
		}
	}
}

func TestEnvModesAndPrevious(t *testing.T) {
	cfg, err := Load("", env(map[string]string{
		"KFBRIDGE_APPS_0_APPID":                     "wx1",
		"KFBRIDGE_APPS_0_TOKEN":                     "t",
		"KFBRIDGE_APPS_0_ENCODING_AES_KEY":          strings.Repeat("A", 43),
		"KFBRIDGE_APPS_0_MODES":                     "safe, compatible",
		"KFBRIDGE_APPS_0_PREVIOUS_TOKEN":            "old",
		"KFBRIDGE_APPS_0_PREVIOUS_ENCODING_AES_KEY": strings.Repeat("B", 43),
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	a := cfg.Apps[0]
	if strings.Join(a.Modes, ",") != "safe,compatible" || a.PreviousToken.Value() != "old" || a.PreviousEncodingAESKey.Value() != strings.Repeat("B", 43) {
		t.Errorf("app = %+v", a)
	}
}

// A configured user named like the bridge's own connection would replace
// it in the embedded server (and the bridge would be refused), whatever
// its role.
func TestValidateReservedUser(t *testing.T) {
	for _, role := range []string{"", "bot", "bridge"} {
		cfg := Default()
		cfg.NATS.Embedded.Users = []User{{User: InternalUser, Password: "p", Role: role}}
		err := cfg.Validate()
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("Validate(user %q, role %q) = %v, want a reserved-name error", InternalUser, role, err)
		}
	}
}
