package egress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "test-secret"
)

// env is an egress test world: a real embedded JetStream server, the WeChat
// simulator, and any number of egress replicas.
type env struct {
	t   testing.TB
	nc  *nats.Conn
	js  jetstream.JetStream
	sim *wxsim.Sim
	api string // the simulator's base URL
	cfg config.Egress
	// reg and logger, when set, go to the next replica.
	reg    *prometheus.Registry
	logger *slog.Logger
	// streams, when set, tunes the next replica's stream settings.
	streams func(*config.Streams)
	// apps, when set, replaces the one app appID the replicas send for.
	apps []config.App
	// budget, when set, is the reply-budget tracker of the next replica
	// (on its own connection), on the simulator's clock.
	budget func(js jetstream.JetStream) *budget.Tracker
	// reserveFor, when set, is how long the next replica may use a
	// reply-budget reservation (see reservation).
	reserveFor time.Duration
}

func newEnv(t testing.TB, simCfg wxsim.SimConfig, tune func(*config.Egress)) *env {
	t.Helper()
	n := testworld.StartNATS(t)
	if simCfg.Apps == nil {
		simCfg.Apps = map[string]string{appID: secret}
	}
	sim, err := wxsim.NewSim(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	api := testworld.ServeAPI(t, sim.Handler())
	cfg := testworld.Egress(api.URL, 8)
	if tune != nil {
		tune(&cfg)
	}
	return &env{t: t, nc: n.NC, js: n.JS, sim: sim, api: api.URL, cfg: cfg}
}

// newEgress builds one egress process on js with the env's settings and
// sets up its streams and consumers: the one place these tests construct
// an egress.
func (e *env) newEgress(js jetstream.JetStream) *Egress {
	e.t.Helper()
	streams := config.Default().NATS.Streams
	if e.streams != nil {
		e.streams(&streams)
	}
	apps := []config.App{{AppID: appID, Secret: secret}}
	if e.apps != nil {
		apps = e.apps
	}
	reg := e.reg
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	// Each replica builds its own WeChat parts, as a process does.
	wx, err := wechat.New(e.t.Context(), wechat.Config{JS: js, Egress: e.cfg, Streams: streams, Apps: apps, Logger: e.logger, Registry: reg})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := Config{Egress: e.cfg, Streams: streams, JS: js, Apps: apps, Registry: reg, Logger: e.logger,
		API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Media: wx.Media}
	if e.budget != nil {
		cfg.Budget, cfg.BudgetNow = e.budget(js), e.sim.Now
	}
	eg, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.reserveFor > 0 {
		eg.reserveFor = e.reserveFor
	}
	if err := eg.Setup(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	return eg
}

// replica starts one egress process (sharing NATS and the simulator) and
// returns a function that stops it gracefully.
func (e *env) replica(nc *nats.Conn) (stop func()) {
	e.t.Helper()
	js := e.js
	if nc != nil {
		var err error
		if js, err = jetstream.New(nc); err != nil {
			e.t.Fatal(err)
		}
	}
	return testworld.Run(e.t, "egress", e.newEgress(js).Run)
}

// interact opens the send window as a user message would.
func (e *env) interact(bid, openid string) {
	e.sim.RecordInteraction(appID, bid, openid, "text", e.sim.Now())
}

// command publishes a structured command event.
func (e *env) command(bid, openid, verb, id string, data any) {
	e.t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "/test", "type": "weixin.kf.command." + verb, "data": json.RawMessage(raw)})
	e.publish(bid, openid, verb, id, body, events.ContentType)
}

func (e *env) publish(bid, openid, verb, id string, body []byte, contentType string) {
	e.t.Helper()
	e.publishFor(appID, bid, openid, verb, id, body, contentType)
}

// publishFor publishes a command of app appid.
func (e *env) publishFor(appid, bid, openid, verb, id string, body []byte, contentType string) {
	e.t.Helper()
	msg := nats.NewMsg(fmt.Sprintf("wxkf.out.%s.%s.%s.%s", appid, bid, openid, verb))
	msg.Data = body
	if id != "" {
		msg.Header.Set(nats.MsgIdHdr, id)
	}
	if contentType != "" {
		msg.Header.Set("Content-Type", contentType)
	}
	// A machine loaded enough to miss JetStream's 5 s ack is not the
	// egress's failure: publish again, for up to 30 s (a command with an id
	// is stored once: Nats-Msg-Id).
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err = e.js.PublishMsg(e.t.Context(), msg); err == nil || id == "" || !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		e.t.Fatalf("publish command %s: %v", id, err)
	}
}

// results waits until n results are stored and returns them by command id.
func (e *env) results(n int) map[string]events.ResultEvent {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	cons, err := e.js.OrderedConsumer(ctx, events.ResultStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]events.ResultEvent{}
	for len(out) < n {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			e.t.Fatalf("%d of %d results: %v", len(out), n, err)
		}
		var ev events.ResultEvent
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			e.t.Fatal(err)
		}
		if _, dup := out[ev.Data.CommandID]; dup {
			e.t.Errorf("two results for command %s", ev.Data.CommandID)
		}
		out[ev.Data.CommandID] = ev
	}
	return out
}

func (e *env) streamMsgs(name string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

func text(s string) map[string]any {
	return map[string]any{"msgtype": "text", "text": map[string]any{"content": s}}
}

func (e *env) apiClient() *wxapi.Client {
	c, err := wxapi.New(e.api)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// allResults waits until n result messages are stored and returns them in
// stream order (several may share a command id: reused ids).
func (e *env) allResults(n int) []events.ResultEvent {
	e.t.Helper()
	var out []events.ResultEvent
	for _, m := range e.streamContents(events.ResultStreamName, n) {
		var ev events.ResultEvent
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// streamContents waits until stream holds at least n messages and returns
// them all.
func (e *env) streamContents(stream string, n int) []jetstream.Msg {
	e.t.Helper()
	natstest.WaitFor(e.t, fmt.Sprintf("%d messages in %s", n, stream), func() bool { return e.streamMsgs(stream) >= uint64(n) })
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	cons, err := e.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		e.t.Fatal(err)
	}
	total := int(e.streamMsgs(stream))
	var out []jetstream.Msg
	for len(out) < total {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			e.t.Fatalf("%d of %d messages of %s: %v", len(out), total, stream, err)
		}
		out = append(out, msg)
	}
	return out
}
