package kfbridgetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestReplyBudgetEnforce: with WithReplyBudget("enforce") a user message
// allows 5 sends; the 6th is refused with reason budget, and WeChat gets 5.
func TestReplyBudgetEnforce(t *testing.T) {
	b := Start(t, WithReplyBudget("enforce"))
	ctx := t.Context()
	_, js := natstest.ConnectURL(t, b.NATSURL(), b.NATSOptions()...)
	if err := b.PushText(ctx, "oBudget", "hi"); err != nil {
		t.Fatal(err)
	}
	conv := events.Conversation{AppID: b.AppID(), BusinessID: events.MainBusinessID, OpenID: "oBudget"}
	for i := range 6 {
		msg, err := events.NewCommandMsg(conv, events.VerbSend, fmt.Sprintf("b%d", i), "/test",
			events.SendData{MsgType: "text", Text: &events.SendText{Content: "reply"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	r, err := b.WaitResult(ctx, "b5")
	if err != nil {
		t.Fatal(err)
	}
	if r.Data.Reason != "budget" || r.Data.ReplyBudget == nil || r.Data.ReplyBudget.Remaining != 0 {
		t.Errorf("6th send = %+v; want refused (budget), 0 left", r.Data)
	}
	if got := b.Delivered("oBudget"); len(got) != 5 {
		t.Errorf("WeChat delivered %d, want 5", len(got))
	}
}

func TestWithReplyBudgetRejects(t *testing.T) {
	if _, err := newOptions([]Option{WithReplyBudget("maybe")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("WithReplyBudget(maybe) = %v, want ErrInvalid", err)
	}
}
