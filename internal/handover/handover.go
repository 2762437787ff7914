package handover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// Config holds what a [Handover] needs.
type Config struct {
	// Apps are the served apps; only those whose handover is used get an [App].
	Apps []config.App
	// JetStream publishes transferred events; its connection sends
	// decision requests. Required when an app hands over.
	JetStream jetstream.JetStream
	// KV is the [BucketName] bucket. Required when an app hands over.
	KV jetstream.KeyValue
	// Registry receives the decision metrics. Required.
	Registry prometheus.Registerer
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock of transferred events; nil uses time.Now.
	Now func() time.Time
}

// stateTimeout bounds each read and write of the conversation state and
// the transferred event's publish: WeChat is waiting for the answer.
const stateTimeout = 500 * time.Millisecond

// Handover holds the decision settings of every app that hands over.
type Handover struct {
	apps    map[string]*App
	asker   *asker
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	metrics *metrics
	logger  *slog.Logger
	now     func() time.Time
}

// App decides for the messages of one app.
type App struct {
	h        *Handover
	appid    string
	cfg      config.App
	deadline time.Duration
	rules    *rules
	// counters by mode and outcome, looked up once.
	counts map[[2]string]prometheus.Counter
	lat    map[string]prometheus.Observer
}

// New compiles the handover settings of cfg.Apps (validated by
// config.Validate).
func New(cfg Config) (*Handover, error) {
	if cfg.Registry == nil {
		return nil, errors.New("handover: Registry is required")
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("handover metrics: %w", err)
	}
	h := &Handover{apps: map[string]*App{}, js: cfg.JetStream, kv: cfg.KV, metrics: m, logger: cfg.Logger, now: cfg.Now}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	for _, a := range cfg.Apps {
		if !a.HandoverUsed() {
			continue
		}
		if cfg.JetStream == nil || (cfg.KV == nil && a.HandoverTracked()) {
			return nil, fmt.Errorf("handover: app %s decides handovers by rules or a bot: JetStream and KV are required", a.AppID)
		}
		app := &App{h: h, appid: a.AppID, cfg: a, deadline: a.HandoverDeadline(),
			counts: map[[2]string]prometheus.Counter{}, lat: map[string]prometheus.Observer{}}
		if app.rules, err = compileRules(a.Handover.Rules); err != nil {
			return nil, fmt.Errorf("handover: app %s: %w", a.AppID, err)
		}
		for _, mode := range []string{config.HandoverAlways, config.HandoverRules, config.HandoverBot} {
			for _, o := range []string{OutcomeTransfer, OutcomeKeep, OutcomeTimeout, OutcomeNoResponder, OutcomeError} {
				app.counts[[2]string{mode, o}] = m.decisions.WithLabelValues(a.AppID, mode, o)
			}
			app.lat[mode] = m.latency.WithLabelValues(mode)
		}
		h.apps[a.AppID] = app
	}
	if len(h.apps) > 0 {
		h.asker = newAsker(cfg.JetStream.Conn())
	}
	return h, nil
}

// App returns the decider of appid, or nil when the app never hands over:
// then nothing about handover touches its pushes.
func (h *Handover) App(appid string) *App {
	if a, ok := h.apps[appid]; ok {
		return a
	}
	return nil
}

// Close stops receiving decisions; requests in flight end as timeouts.
func (h *Handover) Close() error {
	if h.asker == nil {
		return nil
	}
	return h.asker.close()
}

// Decision is the handover decision of one stored message.
type Decision struct {
	app *App
	// in is a copy of the message's event: the ingress's stays on its
	// stack (a pointer kept here would move it to the heap on every push,
	// also of apps that never hand over).
	in    events.Inbound
	mode  string
	start time.Time
	// bot mode: the pending request
	id uint64
	ch chan *nats.Msg
	// outcome when already known (always, rules, or a failed request)
	outcome string
}

// Begin starts the decision on in before it is published. In modes rules
// and bot it sets in.HandledBy from the conversation's record, on
// messages and events alike. It returns nil for events (never handed
// over, nobody asked) and for pushes of a BusinessId whose mode is never.
// In mode bot it publishes the decision request (the event as it will be
// stored, traceparent in its header), so the bot decides while JetStream
// stores.
func (a *App) Begin(ctx context.Context, in *events.Inbound, traceparent string) *Decision {
	mode := a.cfg.HandoverMode(in.BusinessID)
	if mode == config.HandoverNever {
		return nil
	}
	event := in.Message.MsgType == events.MsgTypeEvent
	h := a.h
	if mode == config.HandoverAlways {
		if event {
			return nil
		}
		// Every message goes to the agents: today's static reply, with
		// no conversation to track.
		return &Decision{app: a, mode: mode, start: time.Now(), outcome: OutcomeTransfer}
	}
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	hb, err := handledBy(sctx, h.kv, in)
	cancel()
	if err != nil {
		h.logger.Warn("handover: conversation state unknown; handled_by left out", "appid", a.appid, "subject", in.Subject, "err", err)
	}
	in.HandledBy = hb
	if event {
		return nil
	}
	d := &Decision{app: a, mode: mode, start: time.Now(), in: *in}
	switch mode {
	case config.HandoverRules:
		d.outcome = OutcomeKeep
		if a.rules.match(in.BusinessID, in.Message.Content) {
			d.outcome = OutcomeTransfer
		}
	case config.HandoverBot:
		subject := events.DecidePrefix + in.AppID + "." + in.BusinessID + "." + in.OpenID
		d.id, d.ch, err = h.asker.ask(subject, in.AppendJSON(nil), traceparent)
		if err != nil {
			h.logger.Warn("handover: decision request not sent; kept with the bots", "appid", a.appid, "subject", subject, "err", err)
			d.outcome = OutcomeError
		}
	}
	return d
}

// Abandon ends a decision whose message was not stored: nothing is
// counted or recorded.
func (d *Decision) Abandon() {
	if d != nil && d.ch != nil {
		d.app.h.asker.forget(d.id)
	}
}

// Finish waits, in mode bot, for the answer until the app's deadline
// (counted from Begin) and reports whether the message is handed over.
// Call it only once the message is stored. On a handover it records the
// conversation and publishes the transferred event before returning;
// their failure is logged and does not change the answer.
func (d *Decision) Finish(ctx context.Context) bool {
	if d == nil {
		return false
	}
	a, h := d.app, d.app.h
	if d.outcome == "" {
		d.outcome = d.wait(ctx)
	}
	a.lat[d.mode].Observe(time.Since(d.start).Seconds())
	a.counts[[2]string{d.mode, d.outcome}].Inc()
	if d.outcome != OutcomeTransfer {
		return false
	}
	if d.mode == config.HandoverAlways {
		return true
	}
	// WeChat waits for the answer: record and announce the handover at
	// once, each bounded by stateTimeout.
	at := h.now()
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.publishTransferred(ctx, &d.in, d.mode, at) }()
	if err := record(ctx, h.kv, &d.in, at); err != nil {
		h.logger.Warn("handover: not recorded; later messages say handled_by bot", "appid", a.appid, "subject", d.in.Subject, "err", err)
	}
	if err := <-done; err != nil {
		h.logger.Warn("handover: transferred event not published", "appid", a.appid, "subject", d.in.Subject, "err", err)
	}
	return true
}

// wait waits for the bot's answer until the deadline. An answer already
// there counts even when the store took longer than the deadline: WeChat
// is answered no later for it.
func (d *Decision) wait(ctx context.Context) string {
	select {
	case m := <-d.ch:
		return d.read(m)
	default:
	}
	t := time.NewTimer(d.app.deadline - time.Since(d.start))
	defer t.Stop()
	select {
	case m := <-d.ch:
		return d.read(m)
	case <-t.C:
		d.app.h.asker.forget(d.id)
		return OutcomeTimeout
	case <-ctx.Done():
		d.app.h.asker.forget(d.id)
		return OutcomeTimeout
	}
}

// read returns the outcome of the answer m: the server's no-responders
// status, or a bot's [events.DecideAnswer].
func (d *Decision) read(m *nats.Msg) string {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return OutcomeNoResponder
	}
	ans, err := events.ParseDecideAnswer(m.Data)
	if err != nil {
		d.app.h.logger.Warn("handover: unreadable decision; kept with the bots", "appid", d.app.appid, "subject", d.in.Subject, "err", err)
		return OutcomeError
	}
	if ans.Transfer {
		return OutcomeTransfer
	}
	return OutcomeKeep
}

// publishTransferred stores the weixin.kf.conversation.transferred event
// of in. Its id is derived from in's, so a WeChat retry of the same push
// is deduplicated.
func (h *Handover) publishTransferred(ctx context.Context, in *events.Inbound, mode string, at time.Time) error {
	subject, err := events.InboundSubject(in.AppID, in.BusinessID, in.OpenID, events.KindConversationTransferred)
	if err != nil {
		return err
	}
	at = at.UTC()
	ev := events.TransferredEvent{
		SpecVersion: events.SpecVersion, ID: in.ID + "-transferred", Source: in.Source(),
		Type: events.TypeConversationTransferred, Subject: in.OpenID, Time: at,
		DataContentType: events.DataContentType, AppID: in.AppID, BusinessID: in.BusinessID,
		Data: events.TransferredData{
			AppID: in.AppID, BusinessID: in.BusinessID, OpenID: in.Message.FromUserName,
			MessageID: in.ID, MsgID: in.Message.MsgID, DecidedBy: mode,
			TransferredAt: at, Until: at.Add(events.HandoverWindow),
		},
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(events.HeaderMsgID, in.AppID+":"+ev.ID)
	msg.Header.Set(events.HeaderContentType, events.ContentType)
	if _, err := h.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}
