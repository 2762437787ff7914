package wxsim

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// eventWriter collects what RunTail writes (one Write per event) and
// calls stop once it has seen n events.
type eventWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	events int
	n      int
	stop   func()
}

func (w *eventWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events++
	if w.events == w.n {
		w.stop()
	}
	return w.buf.Write(p)
}

func (w *eventWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startInbound runs a JetStream server with the inbound stream.
func startInbound(tb testing.TB) (*server.Server, jetstream.JetStream) {
	tb.Helper()
	s := natstest.RunServer(tb)
	_, js := natstest.Connect(tb, s)
	if _, err := js.CreateStream(tb.Context(), events.InboundStream()); err != nil {
		tb.Fatalf("create stream: %v", err)
	}
	return s, js
}

// publishPush publishes the event of a push built from spec, as the
// ingress does, and returns its subject.
func publishPush(tb testing.TB, js jetstream.JetStream, spec Spec) string {
	tb.Helper()
	spec.OpenID, spec.To, spec.CreateTime = demo.OpenID, demo.OriginalID, time.Now().Unix()
	m, err := spec.Message()
	if err != nil {
		tb.Fatal(err)
	}
	in, err := events.NewInbound(demo.AppID, &m)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := js.PublishMsg(tb.Context(), in.Msg("")); err != nil {
		tb.Fatal(err)
	}
	return in.Subject
}

func TestTail(t *testing.T) {
	tests := []struct {
		name string
		raw  bool
	}{
		{"indented", false},
		{"raw", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, js := startInbound(t)
			subjects := []string{
				publishPush(t, js, Spec{Kind: KindText, MsgID: "6054768590064713728", Content: "first"}),
				publishPush(t, js, Spec{Kind: KindUserEnterTempSession, BusinessID: 9}),
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			w := &eventWriter{n: 2, stop: cancel}
			err := RunTail(ctx, TailConfig{NATSURL: s.ClientURL(), All: true, Raw: tt.raw}, w)
			if err != nil {
				t.Fatalf("RunTail() error: %v", err)
			}
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Fatalf("RunTail() saw %d events before the timeout, want 2:\n%s", w.events, w)
			}
			out := w.String()
			if tt.raw {
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != 2 {
					t.Fatalf("RunTail(raw) printed %d lines, want 2:\n%s", len(lines), out)
				}
				for i, line := range lines {
					ev, err := events.ParseInbound([]byte(line))
					if err != nil {
						t.Fatalf("line %d: ParseInbound(%q): %v", i, line, err)
					}
					if !strings.HasSuffix(subjects[i], "."+ev.Data.OpenID+"."+kindToken(ev)) {
						t.Errorf("line %d is %s, want the event of %s", i, ev.Type, subjects[i])
					}
				}
				return
			}
			for _, want := range []string{
				subjects[0] + "  seq=1  msg_id=" + demo.AppID + ":6054768590064713728\n{\n  \"specversion\": \"1.0\"",
				`"msg_id": "6054768590064713728"`,
				`"content": "first"`,
				subjects[1] + "  seq=2  msg_id=" + demo.AppID + ":",
				`"businessid": "9"`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("RunTail() output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "# invalid event") {
				t.Errorf("RunTail() flagged a valid event:\n%s", out)
			}
		})
	}
}

// kindToken returns the last subject token of ev.
func kindToken(ev events.InboundEvent) string {
	if ev.Data.Event != nil {
		return ev.Data.Event.Name
	}
	return ev.Data.MsgType
}

func TestTailNewOnly(t *testing.T) {
	s, js := startInbound(t)
	publishPush(t, js, Spec{Kind: KindText, MsgID: "1", Content: "old"})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w := &eventWriter{n: 1, stop: cancel}
	errc := make(chan error, 1)
	go func() {
		errc <- RunTail(ctx, TailConfig{NATSURL: s.ClientURL(), Subject: "wxkf.in.*.*.*.text", Raw: true}, w)
	}()

	// Publish once the tail's consumer exists.
	stream, err := js.Stream(t.Context(), events.InboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := stream.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("tail consumer never appeared")
		case <-time.After(10 * time.Millisecond):
		}
	}
	publishPush(t, js, Spec{Kind: KindImage, MsgID: "2"}) // filtered out
	publishPush(t, js, Spec{Kind: KindText, MsgID: "3"})  // printed
	publishPush(t, js, Spec{Kind: KindText, MsgID: "3"})  // duplicate: dropped by JetStream
	if err := <-errc; err != nil {
		t.Fatalf("RunTail() error: %v", err)
	}
	out := w.String()
	if strings.Contains(out, `"old"`) || !strings.Contains(out, `"id":"3"`) || strings.Count(out, "\n") != 1 {
		t.Errorf("RunTail(new only) printed:\n%s\nwant only the event with id 3", out)
	}
}

func TestTailErrors(t *testing.T) {
	s := natstest.RunServer(t) // no stream
	tests := []struct {
		name string
		cfg  TailConfig
		want error
	}{
		{"no stream", TailConfig{NATSURL: s.ClientURL()}, jetstream.ErrStreamNotFound},
		{"subject outside the stream", TailConfig{NATSURL: s.ClientURL(), Subject: "wxkf.out.>"}, ErrInvalid},
		{"subject with a space", TailConfig{NATSURL: s.ClientURL(), Subject: "wxkf.in. >"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := RunTail(ctx, tt.cfg, &bytes.Buffer{}); !errors.Is(err, tt.want) {
				t.Errorf("RunTail() error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestTailFormat checks how a body that is not a kfbridge event is shown.
func TestTailFormat(t *testing.T) {
	s, js := startInbound(t)
	if _, err := js.Publish(t.Context(), "wxkf.in.a.0.b.text", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w := &eventWriter{n: 1, stop: cancel}
	if err := RunTail(ctx, TailConfig{NATSURL: s.ClientURL(), All: true}, w); err != nil {
		t.Fatalf("RunTail() error: %v", err)
	}
	out := w.String()
	if !strings.HasPrefix(out, "wxkf.in.a.0.b.text  seq=1\n# invalid event: ") || !strings.HasSuffix(out, "\nnot json\n") {
		t.Errorf("RunTail() printed %q", out)
	}
}
