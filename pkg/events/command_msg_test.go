package events_test

import (
	"errors"
	"testing"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

func TestNewCommandMsg(t *testing.T) {
	conv := events.Conversation{AppID: "wx0123456789abcdef", BusinessID: "42", OpenID: "oUser"}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	data := events.SendData{MsgType: "text", Text: &events.SendText{Content: "hi <b>"}}
	msg, err := events.NewCommandMsg(conv, events.VerbSend, "reply-1", "/mybot", data, tp)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "wxkf.out.wx0123456789abcdef.42.oUser.send" || msg.Header.Get(events.HeaderMsgID) != "reply-1" {
		t.Errorf("message %s %v", msg.Subject, msg.Header)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(schemas.CommandEvent, msg.Data); err != nil {
		t.Errorf("command fails its schema: %v\n%s", err, msg.Data)
	}
	cmd, err := events.ParseCommand(msg.Subject, msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.ID != "reply-1" || cmd.Conversation != conv || cmd.TraceParent != tp || !cmd.Structured {
		t.Errorf("ParseCommand() = %+v", cmd)
	}
	if cmd.Send == nil || cmd.Send.Text == nil || cmd.Send.Text.Content != "hi <b>" || cmd.Typing != nil {
		t.Errorf("data = %+v, %+v", cmd.Send, cmd.Typing)
	}
	if _, err := events.NewCommandMsg(conv, "shout", "x", "", data, ""); !errors.Is(err, events.ErrToken) {
		t.Errorf("bad verb: %v, want %v", err, events.ErrToken)
	}
	if _, err := events.NewCommandMsg(conv, events.VerbSend, "", "", data, ""); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("empty id: %v, want %v", err, events.ErrInvalid)
	}
}

// TestNewCommandMsgRefusesMalformed: NewCommandMsg builds only commands
// ParseCommand (the egress) accepts.
func TestNewCommandMsgRefusesMalformed(t *testing.T) {
	conv := events.Conversation{AppID: "wx0123456789abcdef", BusinessID: "0", OpenID: "oUser"}
	for name, c := range map[string]struct {
		verb string
		data any
	}{
		"nil data":            {events.VerbSend, nil},
		"text without text":   {events.VerbSend, events.SendData{MsgType: "text"}},
		"empty content":       {events.VerbSend, &events.SendData{MsgType: "text", Text: &events.SendText{}}},
		"typing data to send": {events.VerbSend, events.TypingData{Command: events.TypingOn}},
		"send data to typing": {events.VerbTyping, events.SendData{MsgType: "text", Text: &events.SendText{Content: "hi"}}},
		"not an object":       {events.VerbSend, "hi"},
	} {
		msg, err := events.NewCommandMsg(conv, c.verb, "id-1", "", c.data, "")
		var cerr *events.CommandError
		if !errors.Is(err, events.ErrInvalid) || !errors.As(err, &cerr) || cerr.ID != "id-1" {
			t.Errorf("%s: NewCommandMsg() = %v, %v; want a *CommandError wrapping ErrInvalid", name, msg != nil, err)
		}
	}
}
