package events

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

func TestPublishInboundDropsRetries(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	ctx := t.Context()
	stream, err := js.CreateOrUpdateStream(ctx, InboundStream())
	if err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(js)
	msg := wxcodec.Message{FromUserName: "oU", CreateTime: 1, MsgType: "text", MsgID: "123", Content: "hi"}
	in, err := NewInbound(testApp, &msg)
	if err != nil {
		t.Fatal(err)
	}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for i := range 3 {
		ack, err := pub.PublishInbound(ctx, &in, tp)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Duplicate != (i > 0) {
			t.Errorf("publish %d: Duplicate = %v", i, ack.Duplicate)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after 3 identical publishes, want 1", info.State.Msgs)
	}
	raw, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "wxkf.in."+testApp+".0.oU.text" {
		t.Errorf("subject = %q", raw.Subject)
	}
	for h, want := range map[string]string{
		HeaderMsgID: testApp + ":123", HeaderContentType: ContentType, HeaderTraceParent: tp,
	} {
		if got := raw.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	ev, err := ParseInbound(raw.Data)
	if err != nil || ev.Data.Text == nil || ev.Data.Text.Content != "hi" {
		t.Errorf("stored event = %+v, %v", ev, err)
	}
}

func TestPublishInboundBoundedByContext(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	// No stream: nothing acknowledges, and the publish must give up in time.
	pub := NewPublisher(js)
	msg := wxcodec.Message{FromUserName: "oU", MsgType: "text", MsgID: "1"}
	in, _ := NewInbound(testApp, &msg)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := pub.PublishInbound(ctx, &in, ""); err == nil {
		t.Fatal("PublishInbound without a stream succeeded")
	}
	if ctx.Err() == nil {
		// An immediate "no responders" is fine too; what matters is that it
		// did not wait past the deadline, which the test timeout guards.
		t.Log("failed before the deadline")
	}
	_ = jetstream.ErrNoStreamResponse
}
