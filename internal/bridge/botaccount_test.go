package bridge_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/kfctl"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "app-secret"
	openID = "oUser-1"
)

// TestBotAccountThroughBridge runs a whole egress process as bridge.Run
// starts it (embedded NATS with a bot account, egress, management service,
// the bot's consumers) and a bot with a client's default settings: it
// uploads an image by its bytes, sends it by media_id and reads the
// delivered result from its consumer, gets a user's image inline, and
// kfctl works with the bot's user.
func TestBotAccountThroughBridge(t *testing.T) {
	sim, ends := startEgress(t, func(cfg *config.Config) {
		cfg.NATS.Embedded.Users = []config.User{{User: "bot", Password: "bot-secret"}}
	})

	bot, js := natstest.ConnectURL(t, ends.NATS, nats.UserInfo("bot", "bot-secret"))
	tctx := t.Context()
	results, err := js.Consumer(tctx, events.ResultStreamName, "bot")
	if err != nil {
		t.Fatalf("the bot's result consumer: %v", err)
	}

	// media.upload by bytes (Start waited for /readyz, which includes the
	// management service).
	api := manage.NewClient(bot)
	img := wxsim.PlaceholderImage()
	raw, err := api.Request(tctx, appID, manage.OpMediaUpload, map[string]any{"data": base64.StdEncoding.EncodeToString(img)})
	if err != nil {
		t.Fatalf("media.upload from the bot: %v", err)
	}
	var up struct {
		MediaID string `json:"media_id"`
	}
	if err := json.Unmarshal(raw, &up); err != nil || up.MediaID == "" {
		t.Fatalf("media.upload = %s, %v", raw, err)
	}

	// The image command by media_id, its publish ack, its result.
	sim.RecordInteraction(appID, "0", openID, "text", time.Time{})
	msg, err := events.NewCommandMsg(events.Conversation{AppID: appID, BusinessID: "0", OpenID: openID}, events.VerbSend, "bot-image-1", "/test/bot",
		events.SendData{MsgType: "image", Image: &events.SendImage{MediaID: up.MediaID}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(tctx, msg); err != nil {
		t.Fatalf("the bot's command: %v", err)
	}
	m, err := results.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("the command's result: %v", err)
	}
	var res events.ResultEvent
	if err := json.Unmarshal(m.Data(), &res); err != nil || res.Data.CommandID != "bot-image-1" || res.Data.Outcome != events.OutcomeDelivered {
		t.Fatalf("result = %s, %v", m.Data(), err)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
	if got := sim.Delivered(appID); len(got) != 1 || !strings.Contains(string(got[0].Body), up.MediaID) {
		t.Errorf("delivered = %+v", got)
	}

	// media.get inline: a user's image, bytes in the reply.
	sim.AddUserMedia(appID, "USER_MEDIA_1", img, "")
	raw, err = api.Request(tctx, appID, manage.OpMediaGet, map[string]any{"media_id": "USER_MEDIA_1", "inline": true})
	if err != nil {
		t.Fatalf("media.get inline from the bot: %v", err)
	}
	var got struct {
		Data []byte `json:"data"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || !bytes.Equal(got.Data, img) {
		t.Errorf("media.get inline: %d bytes, %v; want the image's %d", len(got.Data), err, len(img))
	}

	// kfctl with the bot's user: the management API and a send.
	var out, errOut bytes.Buffer
	err = kfctl.Run(tctx, kfctl.Config{Args: []string{"--nats", ends.NATS, "--user", "bot", "--password", "bot-secret",
		"send", "--appid", appID, "--openid", openID, "--text", "hello from kfctl", "--id", "kfctl-bot-1"}, Stdout: &out, Stderr: &errOut})
	if err != nil || !strings.Contains(out.String(), "delivered") {
		t.Errorf("kfctl send as the bot: %v\n%s%s", err, out.String(), errOut.String())
	}
	out.Reset()
	err = kfctl.Run(tctx, kfctl.Config{Args: []string{"--nats", ends.NATS, "--user", "bot", "--password", "bot-secret",
		"kf", "list", "--appid", appID}, Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Errorf("kfctl kf list as the bot: %v\n%s", err, errOut.String())
	}
}
