package broker

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestBotAccount runs the embedded server with a bot account: with a
// client's default settings the bot consumes pushes and results with the
// consumers the bridge made for it, publishes commands and gets their
// publish acks, and subscribes to pushes — but cannot read the token
// bucket or connect without its password; a bridge-role user can.
func TestBotAccount(t *testing.T) {
	users := []config.User{{User: "bot", Password: "bot-secret"}, {User: "ops", Password: "ops-secret", Role: "bridge"}}
	b, _ := openEmbedded(t, users, nil)
	bridgeWorld(t, b, users)
	ctx := t.Context()
	tokens, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "WXKF_TOKENS"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "wxkf.in.wxapp.0.oU.text", []byte(`{"push":1}`)); err != nil {
		t.Fatal(err)
	}
	url := b.Server.ClientURL()
	if _, err := nats.Connect(url); err == nil {
		t.Fatal("anonymous connection accepted")
	}
	if _, err := nats.Connect(url, nats.UserInfo("bot", "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	bot := connectBot(t, url, "bot", "bot-secret")
	js, _ := jetstream.New(bot)

	// Its consumer on the pushes: read, double-ack.
	if data := readPush(t, js, "bot"); string(data) != `{"push":1}` {
		t.Fatalf("push = %s", data)
	}
	// A command, with JetStream's publish ack mapped back to the bot.
	ack, err := js.Publish(ctx, "wxkf.out.wxapp.0.oU.send", []byte(`{}`), jetstream.WithMsgID("c1"))
	if err != nil {
		t.Fatalf("bot publishes a command: %v", err)
	}
	if ack.Stream != events.OutboundStreamName || ack.Sequence != 1 {
		t.Errorf("publish ack = %+v", ack)
	}
	// Its consumer on the results.
	if _, err := b.JS.Publish(ctx, "wxkf.result.wxapp.0.oU.delivered", []byte(`{"result":"c1"}`)); err != nil {
		t.Fatal(err)
	}
	results, err := js.Consumer(ctx, events.ResultStreamName, "bot")
	if err != nil {
		t.Fatalf("bot's consumer on WXKF_RESULT: %v", err)
	}
	if m, err := results.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil || string(m.Data()) != `{"result":"c1"}` {
		t.Fatalf("bot reads a result: %v", err)
	}

	// The token bucket is out of reach: no KV API, no direct get (no
	// responders: nothing in the bot's account answers)…
	if _, err := tokens.Put(ctx, "wxapp", []byte(`{"access_token":"SECRET"}`)); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if kv, err := js.KeyValue(sctx, "WXKF_TOKENS"); err == nil {
		if e, err := kv.Get(sctx, "wxapp"); err == nil {
			t.Fatalf("bot read a token: %s", e.Value())
		}
	}
	if _, err := bot.Request("$JS.API.DIRECT.GET.KV_WXKF_TOKENS.$KV.WXKF_TOKENS.wxapp", nil, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("direct get of the token: %v, want no responders", err)
	}
	// Nor do WXKF_IN's direct gets, which it allows with one replica for
	// the reply budget's reads (DirectReads): a bot reads pushes through
	// its consumer only, as its filter allows.
	if in, err := b.JS.Stream(ctx, events.InboundStreamName); err != nil || !in.CachedInfo().Config.AllowDirect {
		t.Fatalf("WXKF_IN with one replica allows no direct gets (err %v)", err)
	}
	const pushGet = "$JS.API.DIRECT.GET.WXKF_IN.wxkf.in.wxapp.0.oU.text"
	if _, err := bot.Request(pushGet, nil, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("direct get of a push: %v, want no responders", err)
	}
	// …and no copy of the bucket's messages on any subject.
	var (
		mu   sync.Mutex
		core []*nats.Msg
	)
	for _, subj := range []string{events.InboundSubjects, "$KV.>", ">"} {
		if _, err := bot.Subscribe(subj, func(m *nats.Msg) { mu.Lock(); core = append(core, m); mu.Unlock() }); err != nil {
			t.Fatal(err)
		}
	}
	if err := bot.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Put(ctx, "wxapp", []byte(`{"access_token":"SECRET"}`)); err != nil {
		t.Fatal(err)
	}
	// A push published after the token reaches the bot's core
	// subscription, after anything the put could have leaked to it.
	if err := b.Conn.Publish("wxkf.in.wxapp.0.oMarker.text", []byte("marker")); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, "the marker push", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range core {
			if string(m.Data) == "marker" {
				return true
			}
		}
		return false
	})
	mu.Lock()
	for _, m := range core {
		if bytes.Contains(m.Data, []byte("SECRET")) {
			t.Errorf("bot received the token on %s", m.Subject)
		}
	}
	mu.Unlock()

	// A bridge-role user (operators' tools) may read everything.
	ops, err := nats.Connect(url, nats.UserInfo("ops", "ops-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	ojs, _ := jetstream.New(ops)
	kv, err := ojs.KeyValue(ctx, "WXKF_TOKENS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "wxapp"); err != nil {
		t.Errorf("bridge user cannot read tokens: %v", err)
	}
	if m, err := ops.Request(pushGet, nil, 5*time.Second); err != nil || string(m.Data) != `{"push":1}` {
		t.Errorf("bridge user's direct get of a push: %v", err)
	}
}

// TestBridgeRepliesNeverReachBots is issue 9.1: a bot subscribed to every
// subject of its account never receives an access token while the bridge's
// token manager fetches one from WeChat into a cold cache and another (a
// restarted replica) reads it back.
func TestBridgeRepliesNeverReachBots(t *testing.T) {
	const appID, secret = "wx0123456789abcdef", "app-secret"
	users := []config.User{{User: "bot", Password: "bot-secret"}, {User: "other", Password: "other-secret"}}
	b, _ := openEmbedded(t, users, nil)
	bridgeWorld(t, b, users)
	ctx := t.Context()
	bucket, err := b.JS.CreateOrUpdateKeyValue(ctx, token.BucketConfig(1, jetstream.FileStorage))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	api, err := wxapi.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}

	bot := connectBot(t, b.Server.ClientURL(), "bot", "bot-secret")
	var (
		mu   sync.Mutex
		seen []*nats.Msg
	)
	for _, subj := range []string{">", "_INBOX.>", BridgeInboxPrefix + ".>", "$KV.>", "$JS.>"} {
		if _, err := bot.Subscribe(subj, func(m *nats.Msg) { mu.Lock(); seen = append(seen, m); mu.Unlock() }); err != nil {
			t.Fatalf("subscribe %s: %v", subj, err)
		}
	}
	if err := bot.Flush(); err != nil { // the server has seen every subscription
		t.Fatal(err)
	}

	// A cold cache fetches from WeChat and stores; a second manager (a
	// restarted replica) reads the stored token back through NATS.
	var got []string
	for range 2 {
		m, err := token.New(bucket, api, map[string]string{appID: secret}, token.Config{})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := m.Token(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tok)
	}
	if got[0] == "" || got[0] != got[1] {
		t.Fatalf("tokens = %q, want one token read back", got)
	}
	if n := sim.Calls().Total("/cgi-bin/stable_token"); n != 1 {
		t.Fatalf("stable_token calls = %d, want 1 (the second read comes from the bucket)", n)
	}
	// A marker published after the reads reaches the bot after anything the
	// reads could have leaked to it.
	if err := b.Conn.Publish("wxkf.result.wx0123456789abcdef.0.oMarker.delivered", []byte("marker")); err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, "the marker", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && string(seen[len(seen)-1].Data) == "marker"
	})
	mu.Lock()
	for _, m := range seen {
		if bytes.Contains(m.Data, []byte(got[0])) || strings.Contains(headerText(m.Header), got[0]) {
			t.Errorf("bot received the access token on %s", m.Subject)
		}
	}
	mu.Unlock()
	// The bot's own requests are answered, with the default inbox prefix.
	bjs, _ := jetstream.New(bot)
	if _, err := bjs.Consumer(ctx, events.InboundStreamName, "bot"); err != nil {
		t.Fatalf("bot's request on its inbox: %v", err)
	}
}

func headerText(h nats.Header) string {
	var sb strings.Builder
	for k, vs := range h {
		sb.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return sb.String()
}

// TestBotConsumersAreScoped is issue 9.3: the bridge creates each bot's
// configured consumers; a bot uses its own and nobody else's, creates and
// deletes none, and the rest of JetStream (other streams, KV buckets, the
// object store, stream management) does not exist for it.
func TestBotConsumersAreScoped(t *testing.T) {
	users := []config.User{
		{User: "alice", Password: "a-secret"},
		{User: "bob", Password: "b-secret", Consumers: []config.BotConsumer{
			{Stream: "in", Name: "bob", Filter: "wxkf.in.wx0123456789abcdef.>"},
			{Stream: "result", Name: "bob-results"},
		}},
	}
	b, _ := openEmbedded(t, users, nil)
	bridgeWorld(t, b, users)
	ctx := t.Context()
	if _, err := b.JS.CreateOrUpdateKeyValue(ctx, token.BucketConfig(1, jetstream.FileStorage)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "WXKF_MEDIA"}); err != nil {
		t.Fatal(err)
	}
	// Idempotent: every start runs it.
	if err := b.EnsureBotConsumers(ctx, users); err != nil {
		t.Fatalf("second EnsureBotConsumers: %v", err)
	}
	for _, c := range []struct{ stream, name, filter string }{
		{events.InboundStreamName, "alice", ""}, {events.ResultStreamName, "alice", ""},
		{events.InboundStreamName, "bob", "wxkf.in.wx0123456789abcdef.>"}, {events.ResultStreamName, "bob-results", ""},
	} {
		cons, err := b.JS.Consumer(ctx, c.stream, c.name)
		if err != nil {
			t.Fatalf("consumer %s on %s: %v", c.name, c.stream, err)
		}
		if cfg := cons.CachedInfo().Config; cfg.FilterSubject != c.filter || cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.DeliverPolicy != jetstream.DeliverNewPolicy {
			t.Errorf("consumer %s on %s: %+v", c.name, c.stream, cfg)
		}
	}
	if _, err := b.JS.Consumer(ctx, events.ResultStreamName, "bob"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("bob's unlisted result consumer: %v, want not found", err)
	}
	if _, err := b.JS.Publish(ctx, "wxkf.in.wx0123456789abcdef.0.oU.text", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	url := b.Server.ClientURL()
	bob := connectBot(t, url, "bob", "b-secret")
	bobJS, _ := jetstream.New(bob)
	bobIn, err := bobJS.Consumer(ctx, events.InboundStreamName, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bobIn.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil { // pending, not acked
		t.Fatalf("bob reads a push: %v", err)
	}
	alice := connectBot(t, url, "alice", "a-secret")
	aliceJS, _ := jetstream.New(alice)

	// Each of these has no responder in alice's account.
	refused := []struct{ subject, body string }{
		{"$JS.API.CONSUMER.INFO.WXKF_IN.bob", ""},
		{"$JS.API.CONSUMER.INFO.WXKF_RESULT.bob-results", ""},
		{"$JS.API.CONSUMER.DELETE.WXKF_IN.bob", ""},
		{"$JS.API.CONSUMER.DELETE.WXKF_IN.alice", ""},
		{"$JS.API.CONSUMER.MSG.NEXT.WXKF_IN.bob", `{"batch":1}`},
		{"$JS.ACK.WXKF_IN.bob.1.1.1.0.0", ""},
		{"$JS.API.CONSUMER.CREATE.WXKF_IN.alice", `{"stream_name":"WXKF_IN","config":{"durable_name":"alice","ack_policy":"none"}}`},
		{"$JS.API.CONSUMER.CREATE.WXKF_IN.mallory", `{"stream_name":"WXKF_IN","config":{"durable_name":"mallory"}}`},
		{"$JS.API.CONSUMER.DURABLE.CREATE.WXKF_IN.mallory", `{"stream_name":"WXKF_IN","config":{"durable_name":"mallory"}}`},
		{"$JS.API.CONSUMER.CREATE.WXKF_IN", `{"stream_name":"WXKF_IN","config":{"deliver_subject":"wxkf.in.x.0.y.text"}}`},
		{"$JS.API.CONSUMER.LIST.WXKF_IN", ""},
		{"$JS.API.STREAM.INFO.WXKF_IN", ""},
		{"$JS.API.STREAM.MSG.GET.WXKF_IN", `{"seq":1}`},
		{"$JS.API.STREAM.DELETE.WXKF_IN", ""},
		{"$JS.API.STREAM.PURGE.WXKF_IN", ""},
		{"$JS.API.STREAM.UPDATE.WXKF_IN", `{"name":"WXKF_IN","subjects":[">"]}`},
		{"$JS.API.STREAM.CREATE.EVIL", `{"name":"EVIL","subjects":["_KFBRIDGE_INBOX.>"]}`},
		{"$JS.API.STREAM.MSG.DELETE.WXKF_IN", `{"seq":1}`},
		{"$JS.API.STREAM.INFO.KV_WXKF_TOKENS", ""},
		{"$JS.API.DIRECT.GET.KV_WXKF_TOKENS.$KV.WXKF_TOKENS.wx0123456789abcdef", ""},
		{"$JS.API.STREAM.INFO.WXKF_OUT", ""},
		{"$JS.API.STREAM.INFO.OBJ_WXKF_MEDIA", ""},
		{"$JS.API.STREAM.DELETE.OBJ_WXKF_MEDIA", ""},
		{"$KV.WXKF_TOKENS.wx0123456789abcdef", `{"access_token":"forged"}`},
		{"$O.WXKF_MEDIA.C.forged", "chunk"},
	}
	for _, r := range refused {
		if _, err := alice.Request(r.subject, []byte(r.body), 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("alice's %s: %v, want no responders", r.subject, err)
		}
	}
	// Bob's consumers are intact, his pending push still pending.
	info, err := bobIn.Info(ctx)
	if err != nil {
		t.Fatalf("bob's consumer: %v", err)
	}
	if info.NumAckPending != 1 || info.Config.AckPolicy != jetstream.AckExplicitPolicy {
		t.Errorf("bob's consumer changed: %d pending, %+v", info.NumAckPending, info.Config)
	}
	if _, err := b.JS.Consumer(ctx, events.InboundStreamName, "mallory"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer mallory: err = %v, want not found", err)
	}
	// nats.go's helpers fail the same way: no creating, no ordered
	// consumers, no KV, no object store.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := aliceJS.CreateOrUpdateConsumer(short, events.InboundStreamName, jetstream.ConsumerConfig{Durable: "alice"}); err == nil {
		t.Error("alice created or updated a consumer")
	}
	if oc, err := aliceJS.OrderedConsumer(short, events.ResultStreamName, jetstream.OrderedConsumerConfig{}); err == nil {
		if _, err := oc.Next(jetstream.FetchMaxWait(2 * time.Second)); err == nil {
			t.Error("ordered consumer on WXKF_RESULT worked")
		}
	}
	if _, err := aliceJS.KeyValue(short, token.BucketName); err == nil {
		t.Error("alice opened the token bucket")
	}
	if _, err := aliceJS.ObjectStore(short, "WXKF_MEDIA"); err == nil {
		t.Error("alice opened the media object store")
	}
	if _, state := natstest.StreamState(t, b.JS, "OBJ_WXKF_MEDIA"); state.Msgs != 0 {
		t.Errorf("media store: %d messages, want none", state.Msgs)
	}
}

// TestEnsureBotConsumersWithoutResults: a process whose WXKF_RESULT does
// not exist yet creates the bots' consumers on WXKF_IN and skips the
// others until a later start.
func TestEnsureBotConsumersWithoutResults(t *testing.T) {
	users := []config.User{{User: "bot", Password: "bot-secret"}}
	b, _ := openEmbedded(t, users, nil)
	ctx := t.Context()
	if err := b.EnsureBotConsumers(ctx, users); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Consumer(ctx, events.InboundStreamName, "bot"); err != nil {
		t.Errorf("consumer on WXKF_IN: %v", err)
	}
	bridgeWorld(t, b, users)
	if _, err := b.JS.Consumer(ctx, events.ResultStreamName, "bot"); err != nil {
		t.Errorf("consumer on WXKF_RESULT after a second start: %v", err)
	}
}

// TestEmbeddedKeepsEarlierData: versions before the bridge account kept
// JetStream in nats-server's global account; their streams are still
// there after the upgrade.
func TestEmbeddedKeepsEarlierData(t *testing.T) {
	dir := t.TempDir()
	old := natstest.RunServerWith(t, func(o *server.Options) { o.StoreDir = dir })
	nc, js := natstest.Connect(t, old)
	if _, err := js.CreateStream(t.Context(), events.InboundStream()); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "wxkf.in.wxapp.0.oU.text", []byte(`{"old":1}`)); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	old.Shutdown()
	old.WaitForShutdown()

	b, _ := openEmbedded(t, []config.User{{User: "bot", Password: "bot-secret"}}, func(c *config.NATS) { c.Embedded.StoreDir = dir })
	if _, state := natstest.StreamState(t, b.JS, events.InboundStreamName); state.Msgs != 1 {
		t.Fatalf("WXKF_IN after the upgrade: %d messages, want the old push", state.Msgs)
	}
}
