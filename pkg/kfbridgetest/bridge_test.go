package kfbridgetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/kfbridgetest"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestOptions: bad options are all reported, and nothing starts.
func TestOptions(t *testing.T) {
	_, err := kfbridgetest.New(t.Context(), kfbridgetest.WithLogger(nil), kfbridgetest.WithWaitTimeout(0),
		kfbridgetest.WithPushFormat(0, wxcodec.ModeSafe), kfbridgetest.WithBotUser("", "x"), nil)
	if !errors.Is(err, kfbridgetest.ErrInvalid) {
		t.Errorf("New(bad options) = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"nil logger", "wait timeout", "push format", "bot user", "nil Option"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(bad options) = %v, want an error about %s", err, want)
		}
	}
}

// TestBotUserReserved: the harness's own NATS user is not a bot user.
func TestBotUserReserved(t *testing.T) {
	_, err := kfbridgetest.New(t.Context(), kfbridgetest.WithBotUser("kfbridgetest", "pw"))
	if !errors.Is(err, kfbridgetest.ErrInvalid) || !strings.Contains(err.Error(), `"kfbridgetest"`) {
		t.Errorf("New(WithBotUser(kfbridgetest)) = %v, want ErrInvalid naming the user", err)
	}
}

// TestPushMessage: a JSON push in plaintext mode of an image in a
// sub-merchant conversation reaches the bot as its event; the bot's image
// reply by the pushed media id reaches the user; a push to a closed
// window's user gets a failed result.
func TestPushMessage(t *testing.T) {
	b := kfbridgetest.Start(t, kfbridgetest.WithPushFormat(wxcodec.FormatJSON, wxcodec.ModePlaintext))
	_, js := natstest.ConnectURL(t, b.NATSURL(), b.NATSOptions()...)
	ctx := t.Context()
	cons, err := js.OrderedConsumer(ctx, events.InboundStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	err = b.PushMessage(ctx, wxcodec.Message{ToUserName: b.OriginalID(), FromUserName: "oImg", MsgType: "image",
		MsgID: "4242", BusinessID: "7", MediaID: "MEDIA_1", PicURL: "http://127.0.0.1:1/p.png"})
	if err != nil {
		t.Fatalf("PushMessage: %v", err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("the push's event: %v", err)
	}
	ev, err := events.ParseInbound(m.Data())
	if err != nil || ev.ID != "4242" || ev.AppID != b.AppID() || ev.BusinessID != "7" || ev.Subject != "oImg" ||
		ev.Data.Image == nil || ev.Data.Image.MediaID != "MEDIA_1" {
		t.Fatalf("event %s: %+v, %v", m.Data(), ev, err)
	}

	conv := events.Conversation{AppID: ev.AppID, BusinessID: ev.BusinessID, OpenID: ev.Subject}
	publish := func(conv events.Conversation, id string, data events.SendData) {
		t.Helper()
		msg, err := events.NewCommandMsg(conv, events.VerbSend, id, "/test", data, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	publish(conv, "img-1", events.SendData{MsgType: "image", Image: &events.SendImage{MediaID: "MEDIA_1"}})
	got, err := b.WaitDelivered(ctx, "oImg", 1)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Image struct {
			MediaID string `json:"media_id"`
		} `json:"image"`
	}
	if json.Unmarshal(got[0].Body, &body); got[0].MsgType != "image" || got[0].BusinessID != "7" || body.Image.MediaID != "MEDIA_1" {
		t.Errorf("delivered %+v", got)
	}
	if r, err := b.WaitResult(ctx, "img-1"); err != nil || r.Data.Outcome != events.OutcomeDelivered {
		t.Errorf("result of img-1 = %+v, %v", r.Data, err)
	}

	// No push from this user: WeChat refuses, the result says so.
	publish(events.Conversation{AppID: b.AppID(), BusinessID: "0", OpenID: "oSilent"}, "txt-1",
		events.SendData{MsgType: "text", Text: &events.SendText{Content: "hi"}})
	if r, err := b.WaitResult(ctx, "txt-1"); err != nil || r.Data.Outcome != events.OutcomeFailed {
		t.Errorf("result of txt-1 = %+v, %v", r.Data, err)
	}
	if got := b.Delivered("oSilent"); len(got) != 0 {
		t.Errorf("delivered to a silent user: %+v", got)
	}
}

// TestWaitTimeout: a wait for what never comes ends with an error after
// the wait timeout.
func TestWaitTimeout(t *testing.T) {
	b := kfbridgetest.Start(t, kfbridgetest.WithWaitTimeout(200*time.Millisecond))
	if _, err := b.WaitDelivered(t.Context(), "oNobody", 1); err == nil || !strings.Contains(err.Error(), "oNobody") {
		t.Errorf("WaitDelivered = %v, want a timeout naming the user", err)
	}
	if _, err := b.WaitResult(t.Context(), "nope"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitResult = %v, want DeadlineExceeded", err)
	}
}
