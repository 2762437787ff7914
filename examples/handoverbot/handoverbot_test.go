package handoverbot_test

import (
	"context"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/examples/handoverbot"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestAnswers: over a real NATS server, the bot hands over texts asking
// for a human and keeps the rest, and answers unreadable requests keep.
func TestAnswers(t *testing.T) {
	s := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- handoverbot.Run(ctx, nc, handoverbot.Options{}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	client, _ := natstest.Connect(t, s)
	for i, tc := range []struct {
		msg  wxcodec.Message
		want bool
	}{
		{wxcodec.Message{MsgType: "text", Content: "我要人工客服"}, true},
		{wxcodec.Message{MsgType: "text", Content: "Talk to an AGENT"}, true},
		{wxcodec.Message{MsgType: "text", Content: "hello"}, false},
		{wxcodec.Message{MsgType: "image", PicURL: "http://x/agent.png"}, false},
	} {
		tc.msg.FromUserName, tc.msg.ToUserName, tc.msg.CreateTime, tc.msg.MsgID = "oU", "gh_1", 1714112445, "1"
		in, err := events.NewInbound("wxapp", &tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := events.DecideSubject("wxapp", "0", "oU")
		var data []byte
		natstest.WaitFor(t, "the bot's answer", func() bool {
			r, err := client.Request(subject, in.AppendJSON(nil), 2*time.Second)
			if err == nil {
				data = r.Data
			}
			return err == nil
		})
		ans, err := events.ParseDecideAnswer(data)
		if err != nil || ans.Transfer != tc.want {
			t.Errorf("case %d (%q): answer %+v, %v; want transfer %v", i, tc.msg.Content, ans, err, tc.want)
		}
	}
	r, err := client.Request("wxkf.decide.wxapp.0.oU", []byte("not an event"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := events.ParseDecideAnswer(r.Data); err != nil || ans.Transfer {
		t.Errorf("unreadable request: answer %+v, %v; want keep", ans, err)
	}
}
