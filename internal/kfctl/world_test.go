package kfctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/bridge/bridgetest"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "test-secret"
	user   = "oUser-1"
)

// world is a kfctl test world: a whole egress process as bridge.Run starts
// it (embedded NATS, egress, management service), calling the WeChat
// simulator.
type world struct {
	t   testing.TB
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
	sim *wxsim.Sim
}

// newWorld starts a world whose streams are in memory; tune, when set,
// adjusts the bridge's configuration first.
func newWorld(t testing.TB, tune ...func(*config.Config)) *world {
	t.Helper()
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	api := testworld.ServeAPI(t, sim.Handler())
	cfg := bridgetest.Config(t, api.URL, config.App{AppID: appID, Secret: secret})
	cfg.NATS.Streams.Storage = "memory"
	for _, f := range tune {
		f(&cfg)
	}
	ends := bridgetest.Start(t, &cfg, bridge.Options{Egress: true})
	nc, js := natstest.ConnectURL(t, ends.NATS)
	return &world{t: t, url: ends.NATS, nc: nc, js: js, sim: sim}
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
