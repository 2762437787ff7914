package kfbridgetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/bridge/bridgetest"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/playground"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Bridge is a running in-process bridge with a simulated WeChat. Its
// methods are safe for concurrent use, except Close.
type Bridge struct {
	opts     options
	pg       *playground.Playground
	run      *bridgetest.Running
	signer   *wxpush.Signer
	pusher   *wxpush.Pusher
	nc       *nats.Conn // the harness's own connection, for Results
	js       jetstream.JetStream
	natsURL  string
	results  resultCache // what Results read so far
	storeDir string      // the embedded server's data
}

// harnessUser is the bridge-role NATS user of the harness's own
// connection when [WithBotUser] turns authentication on.
const harnessUser = "kfbridgetest"

// New starts a bridge: an embedded NATS server with JetStream storing in
// a temporary directory (removed by [Bridge.Close]), the ingress, the
// egress and the management service as `kfbridge` runs them, each on a
// free loopback port, for the demo mini program ([Bridge.AppID]), calling
// a simulated WeChat API. ctx bounds the start only (30 s at most); the
// bridge runs until [Bridge.Close]. In a test, [Start] does this and
// closes the bridge when the test ends.
func New(ctx context.Context, opts ...Option) (*Bridge, error) {
	return newBridge(ctx, "", opts)
}

// newBridge is [New] with the embedded server storing in storeDir, which
// the caller owns, or, when it is "", in a temporary directory.
func newBridge(ctx context.Context, storeDir string, opts []Option) (*Bridge, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
	cfg.NATS.Embedded.Sync = "2m" // test data need not survive a power loss
	cfg.Ingress.Listen = "127.0.0.1:0"
	cfg.Ingress.AdminListen = "127.0.0.1:0"
	cfg.Egress.Partitions = 4
	if o.replyBudget != "" {
		cfg.Egress.ReplyBudget = o.replyBudget
	}
	cfg.Apps = []config.App{{AppID: demo.AppID, Secret: demo.Secret, Token: demo.Token, EncodingAESKey: demo.EncodingAESKey,
		Modes: []string{o.mode.String()}}}
	var harnessAuth []nats.Option
	if o.botUser != "" {
		pw, err := randomPassword()
		if err != nil {
			return nil, err
		}
		cfg.NATS.Embedded.Users = []config.User{
			{User: o.botUser, Password: config.Secret(o.botPassword)},
			{User: harnessUser, Password: config.Secret(pw), Role: "bridge"},
		}
		harnessAuth = append(harnessAuth, nats.UserInfo(harnessUser, pw))
	}
	pg, err := playground.New(&cfg, playground.Options{SimListen: "127.0.0.1:0", NoEchoBot: true,
		Logger: o.logger.With("component", "wxsim"), StoreDir: storeDir})
	if err != nil {
		return nil, fmt.Errorf("kfbridgetest: %w", err)
	}
	b := &Bridge{opts: o, pg: pg, storeDir: cfg.NATS.Embedded.StoreDir}
	b.run, err = bridgetest.Run(ctx, &cfg, bridge.Options{Ingress: true, Egress: true, Extra: pg.Run,
		Logger: o.logger, Name: "kfbridgetest"})
	if err != nil {
		pg.Close()
		return nil, fmt.Errorf("kfbridgetest: %w", err)
	}
	if err := b.connect(harnessAuth); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// connect makes the harness's own NATS connection and the pusher.
func (b *Bridge) connect(auth []nats.Option) error {
	ends := b.run.Endpoints
	b.natsURL = ends.NATS
	var err error
	if b.nc, err = nats.Connect(ends.NATS, append(auth, nats.Name("kfbridgetest"))...); err != nil {
		return fmt.Errorf("kfbridgetest: connect %s: %w", ends.NATS, err)
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		return fmt.Errorf("kfbridgetest: %w", err)
	}
	if b.signer, err = wxpush.NewSigner("http://"+ends.Ingress, wxpush.App{}); err != nil {
		return fmt.Errorf("kfbridgetest: %w", err)
	}
	// One attempt: a push the bridge does not take is a failure at once,
	// not WeChat's three tries 5 s apart.
	b.pusher, err = wxpush.NewPusher(b.signer, wxpush.WithRecorder(b.pg.Sim()), wxpush.WithAttempts(1))
	if err != nil {
		return fmt.Errorf("kfbridgetest: %w", err)
	}
	return nil
}

// Start starts a bridge as [New] does for the test t, its NATS server
// storing in t.TempDir(), and closes it when the test ends; a failure to
// start or to close fails the test.
func Start(t testing.TB, opts ...Option) *Bridge {
	t.Helper()
	b, err := newBridge(t.Context(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("kfbridgetest: close: %v", err)
		}
	})
	return b
}

// Close stops the bridge as SIGTERM stops `kfbridge` (in-flight pushes
// and commands finish first) and removes the temporary directory of [New]
// (the test removes the one of [Start]). It returns the error the bridge
// stopped with.
func (b *Bridge) Close() error {
	if b.nc != nil {
		b.nc.Close()
	}
	err := b.run.Stop()
	b.pg.Close()
	if err != nil {
		return fmt.Errorf("kfbridgetest: %w", err)
	}
	return nil
}

// NATSURL returns the URL a bot connects to, as it would connect to a
// production bridge's NATS.
func (b *Bridge) NATSURL() string { return b.natsURL }

// NATSOptions returns the connect options of the bot's credentials:
// none, or the user and password of [WithBotUser].
func (b *Bridge) NATSOptions() []nats.Option {
	if b.opts.botUser == "" {
		return nil
	}
	return []nats.Option{nats.UserInfo(b.opts.botUser, b.opts.botPassword)}
}

// AppID returns the AppID of the bridge's mini program, the appid of
// every event and command.
func (b *Bridge) AppID() string { return demo.AppID }

// OriginalID returns the mini program's original id (gh_…), the
// ToUserName of the pushes.
func (b *Bridge) OriginalID() string { return demo.OriginalID }

// PushText pushes a text message from the user openid, as WeChat pushes
// it to the bridge (signed, in the format of [WithPushFormat]), and
// returns once the bridge has accepted it: its event is stored on WXKF_IN.
// The user's message opens the send window of the conversation, so the
// bot may answer.
func (b *Bridge) PushText(ctx context.Context, openid, content string) error {
	return b.PushMessage(ctx, wxcodec.Message{ToUserName: demo.OriginalID, FromUserName: openid,
		MsgType: "text", MsgID: wxpush.NewMsgID(), Content: content})
}

// PushMessage pushes m as WeChat pushes it, like [Bridge.PushText]: any
// message or event, for example an image (its MediaId then holds a
// placeholder image the management service can get), a card or
// user_enter_tempsession. A zero CreateTime becomes now; BusinessId, when
// set, names a sub-merchant conversation.
func (b *Bridge) PushMessage(ctx context.Context, m wxcodec.Message) error {
	req, err := b.signer.SignMessage(m, b.opts.format, b.opts.mode, time.Now())
	if err != nil {
		return fmt.Errorf("kfbridgetest: %w", err)
	}
	if _, err := b.pusher.Push(ctx, req); err != nil {
		return fmt.Errorf("kfbridgetest: %w", err)
	}
	return nil
}

// bound returns ctx bounded by the wait timeout when it has no deadline.
func (o *options) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.waitTimeout)
}

// poll calls cond until it holds, or returns an error naming what when
// ctx (bounded by the wait timeout) ends first.
func (b *Bridge) poll(ctx context.Context, what string, cond func() (bool, error)) error {
	ctx, cancel := b.opts.bound(ctx)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kfbridgetest: waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// randomPassword returns a password for the harness's own NATS user.
func randomPassword() (string, error) {
	var p [16]byte
	if _, err := rand.Read(p[:]); err != nil {
		return "", fmt.Errorf("kfbridgetest: password: %w", err)
	}
	return hex.EncodeToString(p[:]), nil
}
