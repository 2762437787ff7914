package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// FuzzParseCommand feeds arbitrary subjects, headers and bodies, as any bot
// could publish them, through what the egress does with a command before
// calling WeChat: ParseCommand, the schema checks and the strict decoding.
// Nothing may panic; a rejection must say it is invalid input; an accepted
// command must be usable.
func FuzzParseCommand(f *testing.F) {
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	const send = "wxkf.out.wx0123456789abcdef.0.oUser.send"
	for _, s := range []struct {
		subject, contentType, msgID, body string
	}{
		{send, "", "reply-1", `{"msgtype":"text","text":{"content":"hi"}}`},
		{"wxkf.outp.17.wx0123456789abcdef.42.oUser.typing", "", "t-1", `{"command":"Typing"}`},
		{send, events.ContentType, "", `{"specversion":"1.0","id":"c-1","source":"/bot","type":"weixin.kf.command.send","datacontenttype":"application/json","data":{"msgtype":"image","image":{"url":"https://example.com/a.png"}}}`},
		{send, "", "", `{"specversion":"1.0","id":"c-2","data":{"msgtype":"link","link":{"title":"t","description":"d","url":"https://e.com","thumb_url":"https://e.com/t.png"}}}`},
		{send, "", "x", `{"msgtype":"miniprogrampage","miniprogrampage":{"title":"t","pagepath":"p","thumb_object":"o"}}`},
		{"wxkf.out.a.b.c.d.send", "", "x", `{}`},
		{send, "", "x", `{"msgtype":"text","text":{"content":"hi"}} trailing`},
	} {
		f.Add(s.subject, s.contentType, s.msgID, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, subject, contentType, msgID string, body []byte) {
		hdr := nats.Header{}
		if contentType != "" {
			hdr.Set(events.HeaderContentType, contentType)
		}
		if msgID != "" {
			hdr.Set(nats.MsgIdHdr, msgID)
		}
		cmd, err := events.ParseCommand(subject, hdr, body)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) && !errors.Is(err, events.ErrToken) {
				t.Fatalf("rejection %v is neither ErrInvalid nor ErrToken", err)
			}
			return
		}
		if cmd.ID == "" || len(cmd.ID) > events.MaxCommandIDLength || !json.Valid(cmd.Data) {
			t.Fatalf("accepted a command with id %q and data %q", cmd.ID, cmd.Data)
		}
		back, err := events.CommandSubject(cmd.Conversation, cmd.Verb)
		if err != nil {
			t.Fatalf("accepted conversation %+v has no subject: %v", cmd.Conversation, err)
		}
		if conv, verb, err := events.ParseCommandSubject(back); err != nil || conv != cmd.Conversation || verb != cmd.Verb {
			t.Fatalf("subject %q gives back %q: %+v %s %v", subject, back, conv, verb, err)
		}
		schema := schemas.SendCommandData
		if cmd.Verb == events.VerbTyping {
			schema = schemas.TypingCommandData
		}
		_ = v.Validate(schema, cmd.Data)
		if cmd.Structured {
			_ = v.Validate(schemas.CommandEvent, body)
		}
		if cmd.Verb == events.VerbTyping {
			_, _ = events.DecodeTypingData(cmd.Data)
			return
		}
		// A valid image or card by URL or object has no body until the
		// egress uploaded it; that is the only way WeChatBody may refuse.
		if d, err := events.DecodeSendData(cmd.Data); err == nil {
			if _, err := d.WeChatBody(); err != nil && !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("valid send data %q: WeChatBody: %v", cmd.Data, err)
			}
		}
	})
}
