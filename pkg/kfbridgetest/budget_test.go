package kfbridgetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
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

// TestEventThenCommand: a bot that answers each event the moment it sees
// it is never refused in enforce: the ingress stores no budget for a user
// message, and the egress applies the window the push opened from its
// stored event before each take. Many users, back to back. The bot reads
// the events from WXKF_IN, as bots do: a core NATS subscriber may see an
// event before the stream has stored it, and a command answering that
// early would find no window.
func TestEventThenCommand(t *testing.T) {
	b := Start(t, WithReplyBudget("enforce"))
	ctx := t.Context()
	_, js := natstest.ConnectURL(t, b.NATSURL(), b.NATSOptions()...)
	cons, err := js.OrderedConsumer(ctx, events.InboundStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := events.ParseInbound(m.Data())
		if err != nil {
			t.Error(err)
			return
		}
		if ev.Data.ReplyBudget == nil || ev.Data.ReplyBudget.Remaining != 5 {
			t.Errorf("event of %s: reply_budget = %+v, want 5 left", ev.Subject, ev.Data.ReplyBudget)
		}
		conv := events.Conversation{AppID: ev.AppID, BusinessID: ev.BusinessID, OpenID: ev.Subject}
		msg, err := events.NewCommandMsg(conv, events.VerbSend, "r-"+ev.ID, "/test",
			events.SendData{MsgType: "text", Text: &events.SendText{Content: "reply"}}, "")
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	const n = 40
	var ids []string
	for i := range n {
		m := wxcodec.Message{ToUserName: b.OriginalID(), FromUserName: fmt.Sprintf("oRace%d", i), MsgType: "text",
			MsgID: fmt.Sprint(7_100_000_000 + i), Content: "hi"}
		if err := b.PushMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, "r-"+m.MsgID)
	}
	for _, id := range ids {
		r, err := b.WaitResult(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Data.Outcome != events.OutcomeDelivered {
			t.Errorf("%s = %s %s %s, want delivered", id, r.Data.Outcome, r.Data.Reason, r.Data.ErrMsg)
		}
	}
}

func TestWithReplyBudgetRejects(t *testing.T) {
	if _, err := newOptions([]Option{WithReplyBudget("maybe")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("WithReplyBudget(maybe) = %v, want ErrInvalid", err)
	}
}
