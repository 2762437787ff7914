package broker

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestBotCannotInjectThroughReplySubjects: NATS checks neither a request's
// reply subject nor a consumer's deliver subject against the requester's
// permissions, so inside one account a bot could make the server publish
// an answer on any subject: a JetStream API response stored as a push in
// WXKF_IN, a forged "sent" record or access token in the KV buckets, a
// reply on the bridge's own inboxes. In an account of its own, every
// reply the bridge account sends a bot goes through the server's mapping
// back to the bot; nothing lands in the bridge account.
func TestBotCannotInjectThroughReplySubjects(t *testing.T) {
	b, _ := openEmbedded(t, []config.User{{User: "bot", Password: "bot-secret"}}, func(c *config.NATS) { c.Embedded.Sync = "2m" })
	ctx := t.Context()
	for _, sc := range []jetstream.StreamConfig{events.ResultStream(), events.OutboundStream(4)} {
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	var buckets []jetstream.KeyValue
	for _, name := range []string{"WXKF_SENT", "WXKF_TOKENS"} {
		kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name})
		if err != nil {
			t.Fatal(err)
		}
		buckets = append(buckets, kv)
	}
	// The bot's consumers, as the operator's configuration names them.
	for _, stream := range []string{events.InboundStreamName, events.ResultStreamName} {
		if _, err := b.JS.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable: "bot", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy}); err != nil {
			t.Fatal(err)
		}
	}
	// The bridge listens on its inboxes, as its pending requests do.
	var (
		mu      sync.Mutex
		inboxed []string
	)
	// And another consumer's acks (a bot's own are answered on $JS.ACK…).
	for _, subj := range []string{BridgeInboxPrefix + ".injected.>", "$JS.ACK." + events.InboundStreamName + ".victim.>"} {
		sub, err := b.Conn.Subscribe(subj, func(m *nats.Msg) {
			mu.Lock()
			inboxed = append(inboxed, m.Subject+": "+string(m.Data))
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
	}
	if err := b.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	// One push in WXKF_IN, one result, so that pulls answer with messages.
	if _, err := b.JS.Publish(ctx, "wxkf.in.wxapp.0.oU.text", []byte(`{"push":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "wxkf.result.wxapp.0.oU.delivered", []byte(`{"result":1}`)); err != nil {
		t.Fatal(err)
	}

	bot := connectBot(t, b.Server.ClientURL(), "bot", "bot-secret")
	// A bot answering the pushes it sees as they happen (its stream import)
	// on their reply subject, the publisher's ack inbox, with a forged ack.
	answered := make(chan struct{}, 1)
	if _, err := bot.Subscribe(events.InboundSubjects, func(m *nats.Msg) {
		if m.Reply != "" {
			bot.Publish(m.Reply, []byte(`{"stream":"WXKF_IN","seq":999,"forged":"ack"}`))
			answered <- struct{}{}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := bot.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.Conn.PublishRequest("wxkf.in.wxapp.0.oU.text", BridgeInboxPrefix+".injected.push", []byte(`{"push":2}`)); err != nil {
		t.Fatal(err)
	}
	<-answered
	targets := []string{
		"wxkf.in.wxapp.0.oForged.text",
		"$KV.WXKF_SENT.forged",
		"$KV.WXKF_TOKENS.wxapp",
		BridgeInboxPrefix + ".injected.1",
		"$JS.ACK." + events.InboundStreamName + ".victim.1.1.1.0.0",
	}
	requests := []struct{ subject, body string }{
		{"$JS.API.STREAM.INFO." + events.InboundStreamName, ""},
		{"$JS.API.CONSUMER.INFO." + events.InboundStreamName + ".bot", ""},
		{"$JS.API.CONSUMER.INFO." + events.ResultStreamName + ".bot", ""},
		{"$JS.API.CONSUMER.MSG.NEXT." + events.ResultStreamName + ".bot", `{"batch":1,"expires":1000000000}`},
		{"$JS.API.CONSUMER.MSG.NEXT." + events.InboundStreamName + ".bot", `{"batch":1,"no_wait":true}`},
		{"$JS.API.INFO", ""},
		{"wxkf.out.wxapp.0.oU.send", `{"forged":"command"}`},
		{"wxkf.api.media.get", `{}`},
	}
	for _, target := range targets {
		for _, r := range requests {
			if err := bot.PublishRequest(r.subject, target, []byte(r.body)); err != nil {
				t.Fatal(err)
			}
		}
		// Subjects a bot may not publish on at all.
		if err := bot.Publish(target, []byte(`{"forged":"publish"}`)); err != nil {
			t.Fatal(err)
		}
	}
	// Barrier: the same kinds of requests with the bot's own inbox are
	// answered, so the forged ones (sent before) were processed.
	bjs, _ := jetstream.New(bot)
	if _, err := bjs.Publish(ctx, "wxkf.out.wxapp.0.oU.send", []byte(`{"barrier":1}`)); err != nil {
		t.Fatalf("barrier command: %v", err)
	}
	if _, err := bot.Request("$JS.API.CONSUMER.INFO."+events.InboundStreamName+".bot", nil, 5*time.Second); err != nil {
		t.Fatalf("barrier consumer info: %v", err)
	}
	cons, err := bjs.Consumer(ctx, events.ResultStreamName, "bot")
	if err != nil {
		t.Fatalf("barrier consumer: %v", err)
	}
	// Take the remaining result (or none), waiting out the forged pull's expiry.
	_, _ = cons.Fetch(1, jetstream.FetchMaxWait(1500*time.Millisecond))

	in, state := natstest.StreamState(t, b.JS, events.InboundStreamName)
	if state.Msgs != 2 {
		t.Errorf("WXKF_IN holds %d messages, want only the two pushes", state.Msgs)
		for seq := uint64(3); seq <= state.LastSeq; seq++ {
			if m, err := in.GetMsg(ctx, seq); err == nil {
				t.Logf("  injected %s: %.120s", m.Subject, m.Data)
			}
		}
	}
	for _, kv := range buckets {
		keys, err := kv.Keys(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			e, _ := kv.Get(ctx, keys[0])
			t.Errorf("KV %s has keys %v (first value %.120s), want none", kv.Bucket(), keys, entryValue(e))
		}
	}
	if err := b.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range inboxed {
		if m == BridgeInboxPrefix+`.injected.push: {"stream":"WXKF_IN","seq":2}` { // the push's own ack
			continue
		}
		t.Errorf("the bridge account received %.160s", m)
	}
}

func entryValue(e jetstream.KeyValueEntry) []byte {
	if e == nil {
		return nil
	}
	return e.Value()
}
