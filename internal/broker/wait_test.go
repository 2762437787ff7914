package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/config"
)

// recordHandler is a slog handler that keeps the records and signals each
// one on a channel.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
	c       chan slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
	select {
	case h.c <- r:
	default:
	}
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestOpenLogsItsWait: with an external NATS that is down, Open says so at
// once ("waiting for nats at <url>", credentials redacted) and again every
// interval, keeps waiting, and returns when ctx is cancelled.
func TestOpenLogsItsWait(t *testing.T) {
	h := &recordHandler{c: make(chan slog.Record, 16)}
	cfg := config.Default().NATS
	cfg.URL = "nats://kfuser:hunter2secret@" + freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := Open(ctx, cfg, WithLogger(slog.New(h)), withWaitLog(time.Millisecond))
		done <- err
	}()
	waiting := 0
	for waiting < 2 {
		select {
		case r := <-h.c:
			if strings.HasPrefix(r.Message, "waiting for nats at ") {
				waiting++
			}
		case err := <-done:
			t.Fatalf("Open() = %v before ctx ended, want it to wait", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("no waiting log line in 30s (saw %d)", waiting)
		}
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open() after cancel = %v, want %v", err, context.Canceled)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("Open() error shows the password: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		if strings.Contains(line, "hunter2secret") || strings.Contains(line, "kfuser") {
			t.Errorf("log shows the credentials: %s", line)
		}
		if strings.HasPrefix(r.Message, "waiting for nats at ") && !strings.Contains(r.Message, "nats://redacted@127.0.0.1:") {
			t.Errorf("log line %q: want the redacted URL", r.Message)
		}
	}
}

// TestOpenWaitLogInterval: with the default interval, one line at
// once and no second one before 10 s have passed (the attempts go on).
func TestOpenWaitLogInterval(t *testing.T) {
	h := &recordHandler{c: make(chan slog.Record, 16)}
	cfg := config.Default().NATS
	cfg.URL = freeAddr(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, cfg, WithLogger(slog.New(h)))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open() = %v, want %v", err, context.DeadlineExceeded)
	}
	n := 0
	for _, r := range h.records {
		if strings.HasPrefix(r.Message, "waiting for nats at nats://127.0.0.1:") {
			n++
		}
	}
	if n != 1 && time.Since(start) < WaitLogInterval {
		t.Errorf("%d waiting lines in %s, want 1 (one every %s)", n, time.Since(start), WaitLogInterval)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://u:p@h:4222", "nats://redacted@h:4222"},
		{"nats://tok@h:4222,tls://u:p@h2:4222", "nats://redacted@h:4222,tls://redacted@h2:4222"},
		{"nats://h:4222", "nats://h:4222"},
		{"h:4222", "nats://h:4222"},
		{"nats://u:p@h:bad port", "(unparsable url)"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestOpenRefusesBadURL: a nats.url that does not parse fails at once
// (it would never connect), without showing its credentials.
func TestOpenRefusesBadURL(t *testing.T) {
	h := &recordHandler{c: make(chan slog.Record, 16)}
	cfg := config.Default().NATS
	cfg.URL = "nats://127.0.0.1:4222,nats://kf:hunter2@127.0.0.1:x"
	_, err := Open(t.Context(), cfg, WithLogger(slog.New(h)))
	if !errors.Is(err, ErrURL) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "nats://127.0.0.1:4222,(unparsable url)") {
		t.Errorf("Open(%s) = %v, want %v with the bad part hidden", "<url with a bad port>", err, ErrURL)
	}
	if len(h.records) > 0 {
		t.Errorf("Open logged %d records, want none", len(h.records))
	}
}
