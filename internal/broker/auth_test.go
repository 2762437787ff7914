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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestBotsCannotReadTokens runs the embedded server with a bot account: the
// bot consumes pushes and results and publishes commands, but cannot read
// the token bucket, publish pushes, or connect without its password.
func TestBotsCannotReadTokens(t *testing.T) {
	b, _ := openEmbedded(t, []config.User{{User: "bot", Password: "bot-secret"}, {User: "ops", Password: "ops-secret", Role: "bridge"}}, nil)
	ctx := t.Context()
	for _, sc := range []jetstream.StreamConfig{events.ResultStream(), events.OutboundStream(4)} {
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	tokens, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "WXKF_TOKENS"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Put(ctx, "wxapp", []byte(`{"access_token":"SECRET"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "wxkf.in.wxapp.0.oU.text", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	url := b.Server.ClientURL()

	if _, err := nats.Connect(url); err == nil {
		t.Fatal("anonymous connection accepted")
	}
	if _, err := nats.Connect(url, nats.UserInfo("bot", "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	bot, violations := connectBot(t, url, "bot", "bot-secret")
	js, _ := jetstream.New(bot)

	// Allowed: consume pushes and results with its durable consumer, publish a command.
	cons, err := js.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{Durable: "bot", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("bot consumer on WXKF_IN: %v", err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("bot reads a push: %v", err)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatalf("bot acks: %v", err)
	}
	if _, err := js.Publish(ctx, "wxkf.out.wxapp.0.oU.send", []byte(`{}`), jetstream.WithMsgID("c1")); err != nil {
		t.Fatalf("bot publishes a command: %v", err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, events.ResultStreamName, jetstream.ConsumerConfig{Durable: "bot"}); err != nil {
		t.Fatalf("bot reads results: %v", err)
	}

	// Refused: the token bucket, by KV API, direct get or subscription.
	sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if kv, err := js.KeyValue(sctx, "WXKF_TOKENS"); err == nil {
		if e, err := kv.Get(sctx, "wxapp"); err == nil {
			t.Fatalf("bot read a token: %s", e.Value())
		}
	}
	if _, err := bot.SubscribeSync("$KV.WXKF_TOKENS.>"); err != nil {
		t.Fatal(err)
	}
	violations.waitViolation(t, "Subscription", "$KV.WXKF_TOKENS.>")
	if _, err := bot.Request("$JS.API.STREAM.MSG.GET.KV_WXKF_TOKENS", []byte(`{"last_by_subj":"$KV.WXKF_TOKENS.wxapp"}`), 500*time.Millisecond); err == nil {
		t.Fatal("bot fetched the token stream's message")
	}
	// Refused: forging pushes.
	if err := bot.Publish("wxkf.in.wxapp.0.oU.text", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	violations.waitViolation(t, "Publish", "wxkf.in.wxapp.0.oU.text")

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
}

// TestBridgeRepliesNeverReachBots is issue 9.1: a bot subscribed to every
// subject it may subscribe to never receives an access token while the
// bridge's token manager fetches one from WeChat into a cold cache and
// another (a restarted replica) reads it back, and the server refuses the
// subscriptions that would catch the bridge's replies.
func TestBridgeRepliesNeverReachBots(t *testing.T) {
	const appID, secret = "wx0123456789abcdef", "app-secret"
	b, _ := openEmbedded(t, []config.User{{User: "bot", Password: "bot-secret"}, {User: "other", Password: "other-secret"}}, nil)
	ctx := t.Context()
	if _, err := b.JS.CreateOrUpdateStream(ctx, events.ResultStream()); err != nil {
		t.Fatal(err)
	}
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

	bot, violations := connectBot(t, b.Server.ClientURL(), "bot", "bot-secret")
	var (
		mu   sync.Mutex
		seen []*nats.Msg
	)
	record := func(m *nats.Msg) {
		mu.Lock()
		seen = append(seen, m)
		mu.Unlock()
	}
	allowed := []string{events.InboundSubjects, events.ResultSubjects, BotInboxPrefix("bot") + ".>"}
	refused := []string{">", "_INBOX.>", BridgeInboxPrefix + ".>", BotInboxPrefix("other") + ".>", "$KV.>", "$JS.>"}
	for _, subj := range append(allowed, refused...) {
		if _, err := bot.Subscribe(subj, record); err != nil {
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
	waitFor(t, "the marker", func() bool {
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

	for _, subj := range refused {
		violations.waitViolation(t, "Subscription", subj)
	}
	for _, subj := range allowed {
		if violations.has(`"` + subj + `"`) {
			t.Errorf("subscription to %s refused", subj)
		}
	}
	// The bot's own requests are answered on its own inbox.
	bjs, _ := jetstream.New(bot)
	if _, err := bjs.Stream(ctx, events.InboundStreamName); err != nil {
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

// TestBotConsumersAreScoped is issue 9.3: a bot runs its own named
// consumers and nobody else's, and the management and token surfaces of
// JetStream stay closed.
func TestBotConsumersAreScoped(t *testing.T) {
	b, _ := openEmbedded(t, []config.User{
		{User: "alice", Password: "a-secret"},
		{User: "bob", Password: "b-secret", Consumers: []string{"bob", "bob-results"}},
	}, nil)
	ctx := t.Context()
	if _, err := b.JS.CreateOrUpdateStream(ctx, events.ResultStream()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.CreateOrUpdateKeyValue(ctx, token.BucketConfig(1, jetstream.FileStorage)); err != nil {
		t.Fatal(err)
	}
	url := b.Server.ClientURL()
	bob, _ := connectBot(t, url, "bob", "b-secret")
	bobJS, _ := jetstream.New(bob)
	for _, c := range []struct{ stream, name string }{{events.InboundStreamName, "bob"}, {events.ResultStreamName, "bob-results"}} {
		if _, err := bobJS.CreateOrUpdateConsumer(ctx, c.stream, jetstream.ConsumerConfig{Durable: c.name, AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
			t.Fatalf("bob creates %s on %s: %v", c.name, c.stream, err)
		}
	}
	alice, violations := connectBot(t, url, "alice", "a-secret")
	aliceJS, _ := jetstream.New(alice)
	if _, err := aliceJS.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{
		Durable: "alice", FilterSubject: "wxkf.in.wx0123456789abcdef.>", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("alice creates her filtered consumer: %v", err)
	}

	// Each of these is refused by the server before JetStream sees it.
	refused := []struct{ subject, body string }{
		{"$JS.API.CONSUMER.INFO.WXKF_IN.bob", ""},
		{"$JS.API.CONSUMER.DELETE.WXKF_IN.bob", ""},
		{"$JS.API.CONSUMER.DELETE.WXKF_RESULT.bob-results", ""},
		{"$JS.API.CONSUMER.MSG.NEXT.WXKF_IN.bob", `{"batch":1}`},
		{"$JS.API.CONSUMER.CREATE.WXKF_IN.bob", `{"stream_name":"WXKF_IN","config":{"durable_name":"bob","ack_policy":"none"}}`},
		{"$JS.API.CONSUMER.CREATE.WXKF_IN.mallory", `{"stream_name":"WXKF_IN","config":{"durable_name":"mallory"}}`},
		{"$JS.API.CONSUMER.DURABLE.CREATE.WXKF_IN.mallory", `{"stream_name":"WXKF_IN","config":{"durable_name":"mallory"}}`},
		{"$JS.API.CONSUMER.CREATE.WXKF_IN", `{"stream_name":"WXKF_IN","config":{"deliver_subject":"wxkf.in.x.0.y.text"}}`},
		{"$JS.API.CONSUMER.LIST.WXKF_IN", ""},
		{"$JS.ACK.WXKF_IN.bob.1.1.1.1.1", ""},
		{"$JS.API.STREAM.DELETE.WXKF_IN", ""},
		{"$JS.API.STREAM.PURGE.WXKF_IN", ""},
		{"$JS.API.STREAM.UPDATE.WXKF_IN", `{"name":"WXKF_IN","subjects":[">"]}`},
		{"$JS.API.STREAM.CREATE.EVIL", `{"name":"EVIL","subjects":["_KFBRIDGE_INBOX.>"]}`},
		{"$JS.API.STREAM.MSG.DELETE.WXKF_IN", `{"seq":1}`},
		{"$JS.API.STREAM.INFO.KV_WXKF_TOKENS", ""},
		{"$JS.API.DIRECT.GET.KV_WXKF_TOKENS.$KV.WXKF_TOKENS.wx0123456789abcdef", ""},
		{"$JS.API.CONSUMER.CREATE.KV_WXKF_TOKENS.alice", `{"stream_name":"KV_WXKF_TOKENS","config":{"name":"alice"}}`},
		{"$JS.API.STREAM.INFO.WXKF_OUT", ""},
		{"$JS.API.STREAM.DELETE.OBJ_WXKF_MEDIA", ""},
		{"$JS.API.STREAM.PURGE.OBJ_WXKF_MEDIA", ""},
		{"$KV.WXKF_TOKENS.wx0123456789abcdef", `{"access_token":"forged"}`},
	}
	for _, r := range refused {
		if err := alice.PublishRequest(r.subject, alice.NewInbox(), []byte(r.body)); err != nil {
			t.Fatal(err)
		}
		violations.waitViolation(t, "Publish", r.subject)
	}
	// Bob's consumers are intact, with his configuration.
	for _, c := range []struct{ stream, name string }{{events.InboundStreamName, "bob"}, {events.ResultStreamName, "bob-results"}} {
		info, err := b.JS.Consumer(ctx, c.stream, c.name)
		if err != nil {
			t.Fatalf("bob's consumer %s: %v", c.name, err)
		}
		if info.CachedInfo().Config.AckPolicy != jetstream.AckExplicitPolicy {
			t.Errorf("bob's consumer %s changed: %+v", c.name, info.CachedInfo().Config)
		}
	}
	if _, err := b.JS.Consumer(ctx, events.InboundStreamName, "mallory"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer mallory: err = %v, want not found", err)
	}
	// And the ordered consumer, whose name nats.go picks at random, is
	// refused on the push and result streams (bots use their durable ones).
	octx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if oc, err := aliceJS.OrderedConsumer(octx, events.ResultStreamName, jetstream.OrderedConsumerConfig{}); err == nil {
		if _, err := oc.Next(jetstream.FetchMaxWait(200 * time.Millisecond)); err == nil {
			t.Error("ordered consumer on WXKF_RESULT worked")
		}
	}
}

// TestBotMediaAccess is issue 9.3: a bot puts images into and gets objects
// from WXKF_MEDIA with nats.go's object store API, but cannot delete or
// purge the bucket.
func TestBotMediaAccess(t *testing.T) {
	b, _ := openEmbedded(t, []config.User{{User: "bot", Password: "bot-secret"}}, nil)
	ctx := t.Context()
	bridgeStore, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: mediaBucket})
	if err != nil {
		t.Fatal(err)
	}
	fromWeChat := bytes.Repeat([]byte("user image "), 30_000) // several chunks
	if _, err := bridgeStore.PutBytes(ctx, "wxmedia/wxapp/MEDIA_1.png", fromWeChat); err != nil {
		t.Fatal(err)
	}
	bot, violations := connectBot(t, b.Server.ClientURL(), "bot", "bot-secret")
	js, _ := jetstream.New(bot)
	store, err := js.ObjectStore(ctx, mediaBucket)
	if err != nil {
		t.Fatalf("bot opens %s: %v", mediaBucket, err)
	}
	// An image for an image command, put by the bot, read by the bridge.
	img := bytes.Repeat([]byte("bot image "), 20_000)
	if _, err := store.PutBytes(ctx, "bot/cat.png", img); err != nil {
		t.Fatalf("bot puts an object: %v", err)
	}
	if got, err := bridgeStore.GetBytes(ctx, "bot/cat.png"); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("bridge reads the bot's object: %d bytes, %v", len(got), err)
	}
	// A media.get result, put by the bridge, read by the bot.
	if got, err := store.GetBytes(ctx, "wxmedia/wxapp/MEDIA_1.png"); err != nil || !bytes.Equal(got, fromWeChat) {
		t.Fatalf("bot reads a media.get object: %d bytes, %v", len(got), err)
	}
	if _, err := store.GetInfo(ctx, "bot/cat.png"); err != nil {
		t.Fatalf("bot reads an object's info: %v", err)
	}
	// The bucket itself stays out of reach: no deleting, no purging (the
	// refused requests get no answer, hence the short deadline).
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := js.DeleteObjectStore(dctx, mediaBucket); err == nil {
		t.Error("bot deleted the media bucket")
	}
	violations.waitViolation(t, "Publish", "$JS.API.STREAM.DELETE.OBJ_"+mediaBucket)
	if err := bot.Publish("$JS.API.STREAM.PURGE.OBJ_"+mediaBucket, nil); err != nil {
		t.Fatal(err)
	}
	violations.waitViolation(t, "Publish", "$JS.API.STREAM.PURGE.OBJ_"+mediaBucket)
	if got, err := bridgeStore.GetBytes(ctx, "wxmedia/wxapp/MEDIA_1.png"); err != nil || !bytes.Equal(got, fromWeChat) {
		t.Fatalf("media bucket damaged: %d bytes, %v", len(got), err)
	}
}
