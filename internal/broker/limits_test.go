package broker_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/broker"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/egress"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/pkg/events"
)

const appID = "wx0123456789abcdef"

// openBroker opens an embedded broker with the user "bot" and the inbound
// stream, closed when the test ends.
func openBroker(t *testing.T, tune func(*config.NATS)) (*broker.Broker, config.NATS) {
	t.Helper()
	return broker.OpenEmbedded(t, []config.User{{User: "bot", Password: "bot-secret"}}, tune)
}

// setupEgress creates the egress's streams, buckets, store and consumers
// (4 partitions) with the stream settings of cfg, as an egress starting up
// does with its WeChat parts; the egress never runs.
func setupEgress(t *testing.T, b *broker.Broker, cfg config.NATS) {
	t.Helper()
	ecfg := config.Default().Egress
	ecfg.Partitions = 4
	apps := []config.App{{AppID: appID, Secret: "app-secret"}}
	wx, err := wechat.New(t.Context(), wechat.Config{JS: b.JS, Egress: ecfg, Streams: cfg.Streams, Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	eg, err := egress.New(egress.Config{Egress: ecfg, Streams: cfg.Streams, JS: b.JS, Apps: apps,
		API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Media: wx.Media})
	if err != nil {
		t.Fatal(err)
	}
	if err := eg.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedSync is issue 9.17: the embedded server syncs every write
// before acknowledging it unless told an interval.
func TestEmbeddedSync(t *testing.T) {
	for _, tt := range []struct {
		sync   string
		always bool
		every  time.Duration
	}{
		{sync: config.Default().NATS.Embedded.Sync, always: true},
		{sync: "30s", every: 30 * time.Second},
	} {
		t.Run(tt.sync, func(t *testing.T) {
			b, _ := openBroker(t, func(c *config.NATS) { c.Embedded.Sync = tt.sync })
			got := b.Server.JetStreamConfig()
			if got.SyncAlways != tt.always || (!tt.always && got.SyncInterval != tt.every) {
				t.Errorf("JetStream sync_always %v, sync_interval %v; want %v, %v", got.SyncAlways, got.SyncInterval, tt.always, tt.every)
			}
		})
	}
}

// TestFloodingBotCannotFillTheDisk is issue 9.17: with the command stream
// capped, a bot flooding commands while the egress sends nothing is refused
// once the cap is reached, the cap holds, and pushes still store.
func TestFloodingBotCannotFillTheDisk(t *testing.T) {
	const capOut, capMedia = 64 << 10, 256 << 10
	b, cfg := openBroker(t, func(c *config.NATS) {
		c.Embedded.Sync = "2m" // caps, not durability, are under test here
		c.Streams.MaxBytes.Out = capOut
		c.Streams.MaxBytes.Media = capMedia
	})
	ctx := t.Context()
	setupEgress(t, b, cfg) // streams as the egress makes them
	for _, want := range []struct {
		stream   string
		maxBytes int64
		discard  jetstream.DiscardPolicy
	}{
		{events.OutboundStreamName, capOut, jetstream.DiscardNew},
		{events.ResultStreamName, cfg.Streams.MaxBytes.Result, jetstream.DiscardOld},
		{events.DeadLetterStreamName, cfg.Streams.MaxBytes.DeadLetter, jetstream.DiscardOld},
		{"OBJ_" + wechat.MediaStore, capMedia, jetstream.DiscardNew},
		{events.InboundStreamName, -1, jetstream.DiscardOld},
	} {
		s, err := b.JS.Stream(ctx, want.stream)
		if err != nil {
			t.Fatal(err)
		}
		if c := s.CachedInfo().Config; c.MaxBytes != want.maxBytes || c.Discard != want.discard {
			t.Errorf("%s: max_bytes %d discard %v, want %d %v", want.stream, c.MaxBytes, c.Discard, want.maxBytes, want.discard)
		}
	}

	bot, err := nats.Connect(b.Server.ClientURL(), nats.UserInfo("bot", "bot-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bot.Close)
	js, _ := jetstream.New(bot)
	body := bytes.Repeat([]byte("x"), 1024)
	var refused error
	for i := range 4 * capOut / len(body) {
		subj := fmt.Sprintf("wxkf.out.%s.0.oFlood%d.send", appID, i)
		if _, err := js.Publish(ctx, subj, body, jetstream.WithMsgID(fmt.Sprint("flood-", i))); err != nil {
			refused = err
			break
		}
	}
	if refused == nil || !strings.Contains(refused.Error(), "maximum bytes exceeded") {
		t.Fatalf("flooding WXKF_OUT: last error %v, want maximum bytes exceeded", refused)
	}
	if _, state := natstest.StreamState(t, b.JS, events.OutboundStreamName); state.Bytes > capOut {
		t.Errorf("WXKF_OUT holds %d bytes, cap %d", state.Bytes, capOut)
	}
	// Images come from bridge-role tools and media.upload; the store's cap
	// refuses what exceeds it.
	store, err := b.JS.ObjectStore(ctx, wechat.MediaStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutBytes(ctx, "huge.png", bytes.Repeat([]byte("i"), 2*capMedia)); err == nil || !strings.Contains(err.Error(), "maximum bytes exceeded") {
		t.Errorf("putting twice the media cap: %v, want maximum bytes exceeded", err)
	}
	// Pushes still store.
	if _, err := b.JS.Publish(ctx, "wxkf.in."+appID+".0.oUser.text", []byte(`{}`), jetstream.WithMsgID(appID+":push-1")); err != nil {
		t.Fatalf("a push after the flood: %v", err)
	}
}

// TestInboundDirectReads: WXKF_IN allows direct gets (the reply budget's
// reads) with one replica only, where its one server answers them; with
// more, a follower behind its leader could; the other streams keep their
// definitions' setting.
func TestInboundDirectReads(t *testing.T) {
	for _, replicas := range []int{1, 3} {
		s := config.Default().NATS.Streams
		s.Replicas = replicas
		in := events.InboundStream()
		broker.ApplyStreamSettings(&in, s)
		if in.AllowDirect != (replicas == 1) {
			t.Errorf("WXKF_IN with %d replicas: AllowDirect %v", replicas, in.AllowDirect)
		}
		for _, cfg := range []jetstream.StreamConfig{events.OutboundStream(4), events.ResultStream()} {
			broker.ApplyStreamSettings(&cfg, s)
			if cfg.AllowDirect {
				t.Errorf("%s with %d replicas: AllowDirect", cfg.Name, replicas)
			}
		}
	}
}
