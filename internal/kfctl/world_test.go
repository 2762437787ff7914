package kfctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/egress"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "test-secret"
	user   = "oUser-1"
)

// world is a kfctl test world: a real JetStream server, the WeChat
// simulator, one egress with its management service, as one egress
// process runs them.
type world struct {
	t   testing.TB
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
	sim *wxsim.Sim
}

func newWorld(t testing.TB) *world {
	t.Helper()
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s)
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	cfg := config.Default().Egress
	cfg.APIBase = hs.URL
	cfg.Partitions = 4
	cfg.AckWait = 3 * time.Second
	cfg.CallTimeout = 2 * time.Second
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	cfg.RetryBudget = 3 * time.Second
	cfg.MediaFetch.Allow = []string{"127.0.0.1"} // images are served on loopback
	streams := config.Default().NATS.Streams
	streams.Storage = "memory"
	apps := []config.App{{AppID: appID, Secret: secret}}
	wx, err := wechat.New(t.Context(), wechat.Config{JS: js, Egress: cfg, Streams: streams, Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	eg, err := egress.New(egress.Config{Egress: cfg, Streams: streams, JS: js, Apps: apps,
		API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Media: wx.Media})
	if err != nil {
		t.Fatal(err)
	}
	if err := eg.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	mg, err := manage.New(manage.Config{Conn: nc, API: wx.API, Tokens: wx.Tokens, Store: wx.Media, Apps: []string{appID},
		Fetcher: wx.Fetcher})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- eg.Run(ctx) }()
	go func() { done <- mg.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Run() = %v", err)
			}
		}
	})
	for deadline := time.Now().Add(5 * time.Second); mg.Ready(ctx) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("management service not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &world{t: t, url: s.ClientURL(), nc: nc, js: js, sim: sim}
}

// kfctl runs the command line args against the world and returns its
// standard output.
func (w *world) kfctl(args ...string) (string, error) {
	w.t.Helper()
	var out, errOut bytes.Buffer
	err := Run(w.t.Context(), Config{Args: append([]string{"--nats", w.url}, args...), Stdout: &out, Stderr: &errOut})
	return out.String(), err
}

// ok runs a command that must succeed.
func (w *world) ok(args ...string) string {
	w.t.Helper()
	out, err := w.kfctl(args...)
	if err != nil {
		w.t.Fatalf("kfctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// okJSON runs a command with --json that must succeed and decodes its
// output.
func (w *world) okJSON(v any, args ...string) {
	w.t.Helper()
	out := w.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		w.t.Fatalf("kfctl %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// code runs a management command that must fail and returns its errcode;
// with --json the error body is printed and must agree.
func (w *world) code(args ...string) int {
	w.t.Helper()
	out, err := w.kfctl(append(args, "--json")...)
	var me *manage.Error
	if !errors.As(err, &me) {
		w.t.Fatalf("kfctl %s = %v; want a management error", strings.Join(args, " "), err)
	}
	var body struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal([]byte(out), &body); err != nil || body.ErrCode != me.Code || body.ErrMsg == "" {
		w.t.Errorf("kfctl %s --json printed %q for errcode %d", strings.Join(args, " "), out, me.Code)
	}
	return me.Code
}

// calls counts every API call the simulator answered.
func (w *world) calls() int {
	n := 0
	for _, codes := range w.sim.Calls().Calls {
		for _, c := range codes {
			n += c
		}
	}
	return n
}

// file writes data to a temporary file and returns its path.
func (w *world) file(name string, data []byte) string {
	w.t.Helper()
	p := filepath.Join(w.t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// result waits for the result of command id.
func (w *world) result(id string) events.ResultEvent {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 15*time.Second)
	defer cancel()
	cons, err := w.js.OrderedConsumer(ctx, events.ResultStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		w.t.Fatal(err)
	}
	for {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			w.t.Fatalf("no result for %s: %v", id, err)
		}
		var ev events.ResultEvent
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			w.t.Fatal(err)
		}
		if ev.Data.CommandID == id {
			return ev
		}
	}
}
