package events

import (
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestInboundReplyBudget: data.reply_budget reads back as written, and the
// id of an event (a hash of its data) does not depend on it.
func TestInboundReplyBudget(t *testing.T) {
	m := &wxcodec.Message{ToUserName: "gh_1", FromUserName: "o1", CreateTime: 1714112445, MsgType: MsgTypeEvent,
		Event: "user_enter_tempsession", SessionFrom: "x"}
	in, err := NewInbound("wx1", m)
	if err != nil {
		t.Fatal(err)
	}
	id := in.ID
	want := ReplyBudget{Remaining: 2, ExpiresAt: time.Unix(1714112445+60, 0).UTC(), Trigger: TriggerEnterSession}
	in.Budget = &want
	if got := in.hashID(); got != id {
		t.Errorf("hashID with a budget = %s, want %s", got, id)
	}
	ev, err := ParseInbound(in.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Data.ReplyBudget; got == nil || *got != want {
		t.Errorf("reply_budget = %+v, want %+v", got, want)
	}
}
