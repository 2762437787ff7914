package broker

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestREADMEAccountsSample runs nats-server with the accounts block the
// README gives operators of an external NATS: it lists what BotImports
// lists, and a bot works with it as with the embedded server.
func TestREADMEAccountsSample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "```\njetstream {")
	if start < 0 {
		t.Fatal("README: no accounts sample")
	}
	sample := string(readme[start+4:])
	sample = sample[:strings.Index(sample, "```")]
	for _, e := range BotImports(config.User{User: "mybot"}) {
		if !strings.Contains(sample, `"`+e.Subject+`"`) {
			t.Errorf("README sample lacks %s", e.Subject)
		}
	}
	dir := t.TempDir()
	sample = strings.Replace(sample, "/var/lib/nats", dir, 1)
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KFBRIDGE_PW", "kfbridge-secret")
	t.Setenv("MYBOT_PW", "mybot-secret")
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("README sample: %v", err)
	}
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	s := natstest.StartServer(t, opts)
	ctx := t.Context()
	bridge, err := nats.Connect(s.ClientURL(), nats.UserInfo("kfbridge", "kfbridge-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bridge.Close)
	bjs, _ := jetstream.New(bridge)
	if _, err := bjs.CreateOrUpdateStream(ctx, events.InboundStream()); err != nil {
		t.Fatal(err)
	}
	b := &Broker{Conn: bridge, JS: bjs, timeout: 5 * time.Second, logger: slog.New(slog.DiscardHandler)}
	bridgeWorld(t, b, []config.User{{User: "mybot"}})
	if _, err := bjs.Publish(ctx, "wxkf.in.wxapp.0.oU.text", []byte(`{"push":1}`)); err != nil {
		t.Fatal(err)
	}
	bot := connectBot(t, s.ClientURL(), "mybot", "mybot-secret")
	js, _ := jetstream.New(bot)
	if data := readPush(t, js, "mybot"); string(data) != `{"push":1}` {
		t.Errorf("push = %s", data)
	}
	if _, err := js.Publish(ctx, "wxkf.out.wxapp.0.oU.send", []byte(`{}`)); err != nil {
		t.Fatalf("bot's command: %v", err)
	}
	if _, err := bot.Request("$JS.API.STREAM.INFO.WXKF_IN", nil, 2*time.Second); err == nil {
		t.Error("the bot reached the stream API")
	}
}
