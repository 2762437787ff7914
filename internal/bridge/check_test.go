package bridge

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/demo"
)

const badKey = "kfbridgeDemoEncodingAESKey0123456789abcde!g" // 43 characters, one not [A-Za-z0-9]

// busyAddr returns a loopback address held by a listener until the test ends.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// checkApps is the apps section of a valid configuration.
var checkApps = fmt.Sprintf("apps:\n  - {appid: %s, secret: %s, token: %s, encoding_aes_key: %s}\n", demo.AppID, demo.Secret, demo.Token, demo.EncodingAESKey)

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kfbridge.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkConfig is a valid configuration for the check tests: one app, every
// listener on a free port, the embedded NATS at natsListen storing in a
// temporary directory, the ingress at ingressListen, and app as the apps
// section (default checkApps).
func checkConfig(t *testing.T, natsListen, ingressListen, app string) string {
	t.Helper()
	if app == "" {
		app = checkApps
	}
	return writeConfig(t, fmt.Sprintf(`nats:
  embedded: {listen: %q, store_dir: %q}
ingress: {listen: %q, admin_listen: "127.0.0.1:0"}
egress: {listen: "127.0.0.1:0"}
%s`, natsListen, filepath.Join(t.TempDir(), "nats"), ingressListen, app))
}

// TestCheckCommand runs `<binary> check --config FILE` as the binaries'
// Main does: a good configuration exits 0 with a summary; each problem
// exits 2 with one line on stderr that names it, before anything starts,
// and no line shows a secret.
func TestCheckCommand(t *testing.T) {
	both := Options{Ingress: true, Egress: true}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		env     []string
		opts    Options
		want    []string // one stderr line each, in order; none: exit 0
		notWant string
	}{
		{name: "ok", path: func(t *testing.T) string { return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "") }, opts: both},
		{name: "ok with env and defaults", opts: Options{Egress: true},
			path: func(t *testing.T) string {
				return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "apps:\n  - {appid: wx1, secret: \"${WX1_SECRET:-s}\"}\n")
			},
			env: []string{"KFBRIDGE_EGRESS_REPLY_BUDGET=enforce", "KFBRIDGE_REQUIRE_DOCKER=1", "HOME=/x"}},
		{name: "bad key character", opts: both,
			path: func(t *testing.T) string {
				return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", fmt.Sprintf("apps:\n  - {appid: wx1, secret: s, token: t, encoding_aes_key: %q}\n", badKey))
			},
			want: []string{"apps[0] (wx1).encoding_aes_key: wxcodec: invalid EncodingAESKey: character at offset 41 is not [A-Za-z0-9]"}, notWant: badKey[:20]},
		{name: "no apps", opts: both,
			path: func(t *testing.T) string { return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "apps: []\n") },
			want: []string{"apps: none configured"}},
		{name: "ingress without token", opts: Options{Ingress: true},
			path: func(t *testing.T) string {
				return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "apps:\n  - {appid: wx1, secret: s}\n")
			},
			want: []string{"apps[0] (wx1): token is empty"}},
		{name: "egress without token is fine, without secret not", opts: Options{Egress: true},
			path: func(t *testing.T) string {
				return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "apps:\n  - {appid: wx1}\n")
			},
			want: []string{"apps[0] (wx1): secret is empty"}},
		{name: "misspelt variable", opts: both, env: []string{"KFBRIDGE_INGRESS_LISTN=0.0.0.0:80", "KFBRIDGE_APPS_0_SECRT=hunter2"},
			path: func(t *testing.T) string { return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "") },
			want: []string{"KFBRIDGE_INGRESS_LISTN; did you mean KFBRIDGE_INGRESS_LISTEN?",
				"KFBRIDGE_APPS_0_SECRT; did you mean KFBRIDGE_APPS_0_SECRET?"}, notWant: "hunter2"},
		{name: "list index that skips one", opts: both, env: []string{"KFBRIDGE_APPS_2_TOKEN=t"},
			path: func(t *testing.T) string { return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "") },
			want: []string{"KFBRIDGE_APPS_2_TOKEN; its list index skips one"}},
		{name: "ingress port in use", opts: both,
			path: func(t *testing.T) string { return checkConfig(t, "127.0.0.1:-1", busyAddr(t), "") },
			want: []string{"ingress.listen 127.0.0.1:", "bind: address already in use"}},
		{name: "embedded nats port in use", opts: both,
			path: func(t *testing.T) string { return checkConfig(t, busyAddr(t), "127.0.0.1:0", "") },
			want: []string{"nats.embedded.listen 127.0.0.1:", "bind: address already in use"}},
		{name: "two listeners on one address", opts: both,
			path: func(t *testing.T) string {
				a := freeAddr(t)
				return checkConfig(t, a, a, "")
			},
			want: []string{"nats.embedded.listen 127.0.0.1:", "the same address as ingress.listen"}},
		{name: "several problems, one line each", opts: both, env: []string{"KFBRIDGE_LOG_LEVLE=debug"},
			path: func(t *testing.T) string {
				return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "apps:\n  - {appid: wx1, token: t}\n  - {appid: wx2, secret: s}\n")
			},
			// The variable is refused before the rest is looked at.
			want: []string{"KFBRIDGE_LOG_LEVLE; did you mean KFBRIDGE_LOG_LEVEL?"}},
		{name: "several preflight problems, one line each", opts: both,
			path: func(t *testing.T) string {
				return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "apps:\n  - {appid: wx1, token: t}\n  - {appid: wx2, secret: s}\n")
			},
			want: []string{"apps[0] (wx1): secret is empty", "apps[1] (wx2): token is empty"}},
		{name: "nats url and files", opts: both,
			path: func(t *testing.T) string {
				return writeConfig(t, `nats:
  url: "nats://kf:hunter2@127.0.0.1:4222, http://127.0.0.1:80, nats://kf:hunter2@127.0.0.1:x"
  creds_file: /nonexistent/kf.creds
ingress: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}}
`+checkApps)
			},
			want: []string{`nats.url: server 2 of the list: scheme "http": want nats, tls, ws or wss`, "nats.url: server 3 of the list: not a URL",
				"nats.creds_file: open /nonexistent/kf.creds: no such file or directory", "ingress.tls: open /nonexistent/c.pem: no such file or directory"},
			notWant: "hunter2"},
		{name: "unset reference", opts: both,
			path: func(t *testing.T) string {
				return checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "apps:\n  - {appid: wx1, secret: \"${WX1_SECRET}\", token: t}\n")
			},
			want: []string{"unset environment variable: WX1_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			fs := flag.NewFlagSet("kfbridge", flag.ContinueOnError)
			code := mainCode("kfbridge", fs, []string{"check", "--config", tt.path(t)}, tt.env, &stdout, &stderr, tt.opts, nil)
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(tt.want) == 0 {
				if code != 0 || stderr.Len() > 0 || !strings.Contains(stdout.String(), "kfbridge: configuration OK") {
					t.Fatalf("check = %d, stdout %q, stderr %q; want 0 and OK", code, stdout.String(), stderr.String())
				}
				return
			}
			if code != 2 {
				t.Errorf("check = %d, want 2", code)
			}
			// One line per problem, each naming its problem.
			wantLines := len(tt.want)
			if strings.HasPrefix(tt.want[len(tt.want)-1], "bind:") || strings.HasPrefix(tt.want[len(tt.want)-1], "the same") {
				wantLines = 1 // two parts of one line
			}
			if len(lines) != wantLines {
				t.Errorf("stderr has %d lines, want %d:\n%s", len(lines), wantLines, stderr.String())
			}
			for i, w := range tt.want {
				line := lines[min(i, len(lines)-1)]
				if !strings.HasPrefix(line, "kfbridge: ") || !strings.Contains(line, w) {
					t.Errorf("stderr line %q: want it to contain %q", line, w)
				}
			}
			if tt.notWant != "" && strings.Contains(stderr.String(), tt.notWant) {
				t.Errorf("stderr shows a secret:\n%s", stderr.String())
			}
		})
	}
}

// TestCheckArguments: check before or after the flags; anything else is a
// usage error.
func TestCheckArguments(t *testing.T) {
	path := checkConfig(t, "127.0.0.1:-1", "127.0.0.1:0", "")
	for _, args := range [][]string{{"--config", path, "check"}, {"check", "-config=" + path}} {
		var stdout, stderr bytes.Buffer
		if code := mainCode("kfbridge", flag.NewFlagSet("kfbridge", flag.ContinueOnError), args, nil, &stdout, &stderr, Options{Ingress: true}, nil); code != 0 {
			t.Errorf("%q = %d (%s), want 0", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := mainCode("kfbridge", flag.NewFlagSet("kfbridge", flag.ContinueOnError), []string{"chek", "--config", path}, nil, &stdout, &stderr, Options{Ingress: true}, nil); code != 2 || !strings.Contains(stderr.String(), `unexpected argument "chek"`) {
		t.Errorf("chek = %d, %q; want 2 and the argument named", code, stderr.String())
	}
}

// TestRunRefusesBeforeNATS: Run finds a bad configuration and an address in
// use before anything starts: the embedded server never created its store
// (before, an ingress port in use failed after NATS started, and the NATS
// port in use failed after 10 s with no reason).
func TestRunRefusesBeforeNATS(t *testing.T) {
	tests := []struct {
		name string
		tune func(cfg *config.Config)
		want string
	}{
		{name: "no apps", tune: func(cfg *config.Config) { cfg.Apps = nil }, want: "apps: none configured"},
		{name: "bad key", tune: func(cfg *config.Config) { cfg.Apps[0].EncodingAESKey = badKey }, want: "encoding_aes_key"},
		{name: "ingress port in use", tune: func(cfg *config.Config) { cfg.Ingress.Listen = busyAddr(t) }, want: "ingress.listen"},
		{name: "admin port in use", tune: func(cfg *config.Config) { cfg.Ingress.AdminListen = busyAddr(t) }, want: "ingress.admin_listen"},
		{name: "nats port in use", tune: func(cfg *config.Config) { cfg.NATS.Embedded.Listen = busyAddr(t) }, want: "nats.embedded.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
			cfg.NATS.Embedded.StoreDir = filepath.Join(t.TempDir(), "nats")
			cfg.Ingress.Listen, cfg.Ingress.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
			cfg.Apps = []config.App{{AppID: demo.AppID, Secret: demo.Secret, Token: demo.Token, EncodingAESKey: demo.EncodingAESKey}}
			tt.tune(&cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a bridge that starts runs until then
			defer cancel()
			err := Run(ctx, &cfg, Options{Ingress: true, Egress: true})
			if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run() = %v, want %v naming %s", err, ErrPreflight, tt.want)
			}
			if _, serr := os.Stat(cfg.NATS.Embedded.StoreDir); serr == nil {
				t.Errorf("Run() = %v after the embedded NATS server started", err)
			}
		})
	}
}

// signalHandler is a slog handler that sends every record's message on c.
type signalHandler struct{ c chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.c <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestNoListenerWhileWaitingForNATS: while Run waits for an external NATS,
// it says so and its push port is not bound (a load balancer's TCP check
// must not find it up); the wait ends with ctx.
func TestNoListenerWhileWaitingForNATS(t *testing.T) {
	cfg := config.Default()
	cfg.NATS.URL = "nats://" + freeAddr(t)
	cfg.Ingress.Listen, cfg.Ingress.AdminListen = freeAddr(t), "127.0.0.1:0"
	cfg.Apps = []config.App{{AppID: demo.AppID, Secret: demo.Secret, Token: demo.Token, EncodingAESKey: demo.EncodingAESKey}}
	logs := make(chan string, 64)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, &cfg, Options{Ingress: true, Egress: true, Logger: slog.New(signalHandler{logs})})
	}()
	for msg := ""; !strings.HasPrefix(msg, "waiting for nats at "); {
		select {
		case msg = <-logs:
		case err := <-done:
			t.Fatalf("Run() = %v, want it to wait for NATS", err)
		}
	}
	if c, err := net.Dial("tcp", cfg.Ingress.Listen); err == nil {
		c.Close()
		t.Errorf("ingress.listen %s accepts connections while NATS is not there", cfg.Ingress.Listen)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() after cancel = %v, want %v", err, context.Canceled)
	}
}

// TestVersionFlag: --version prints the binary's name and build and exits 0
// before reading any configuration (a missing file does not matter).
func TestVersionFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := mainCode("kfbridge-egress", flag.NewFlagSet("egress", flag.ContinueOnError), []string{"--version", "--config", "/nonexistent.yaml"}, nil, &stdout, &stderr, Options{Egress: true}, nil)
	if code != 0 || !strings.HasPrefix(stdout.String(), "kfbridge-egress devel (revision ") || !strings.Contains(stdout.String(), runtime.Version()) {
		t.Errorf("--version = %d, %q (%s)", code, stdout.String(), stderr.String())
	}
}

// TestRunOnFixedNATSPort: a bridge whose embedded server listens on a fixed
// port (the default, 4222, is one) starts: the address is tried before the
// server starts, not again once the server holds it (it failed with
// "nats.embedded.listen …: address already in use" against itself).
func TestRunOnFixedNATSPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = addr
	cfg.NATS.Embedded.StoreDir = filepath.Join(t.TempDir(), "nats")
	cfg.NATS.Embedded.Sync = "2m"
	cfg.Ingress.Listen, cfg.Ingress.AdminListen, cfg.Egress.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Apps = []config.App{{AppID: demo.AppID, Secret: demo.Secret, Token: demo.Token, EncodingAESKey: demo.EncodingAESKey}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan Endpoints, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, &cfg, Options{Ingress: true, Egress: true, OnReady: func(e Endpoints) { ready <- e }})
	}()
	select {
	case e := <-ready:
		if e.NATS != "nats://"+addr {
			t.Errorf("NATS at %s, want nats://%s", e.NATS, addr)
		}
	case err := <-done:
		t.Fatalf("Run() = %v before it was ready", err)
	case <-time.After(60 * time.Second):
		t.Fatal("not ready in 60 s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() after cancel = %v", err)
	}
}
