package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
)

const (
	sendSubject   = "wxkf.out.wx0123456789abcdef.0.oUser.send"
	typingSubject = "wxkf.out.wx0123456789abcdef.0.oUser.typing"
)

func TestParseCommand(t *testing.T) {
	ce := nats.Header{events.HeaderContentType: {events.ContentType}, nats.MsgIdHdr: {"hdr-id"}}
	bare := nats.Header{nats.MsgIdHdr: {"hdr-id"}}
	for _, tt := range []struct {
		name, subject string
		hdr           nats.Header
		body          string
		check         func(events.Command) bool
	}{
		{"bare text", sendSubject, bare, " {\"msgtype\":\"text\",\"text\":{\"content\":\"hi \\u00e9\"}}\n",
			func(c events.Command) bool {
				return c.ID == "hdr-id" && !c.Structured && c.Send.Text.Content == "hi é" && c.Typing == nil &&
					string(c.Data) == " {\"msgtype\":\"text\",\"text\":{\"content\":\"hi \\u00e9\"}}\n"
			}},
		{"structured typing, sniffed", typingSubject, bare,
			`{"data":{"command":"CancelTyping"},"specversion":"1.0","id":"ev-id","type":"weixin.kf.command.typing","source":"/b","x":1.5e3,"ok":false}`,
			func(c events.Command) bool {
				return c.ID == "ev-id" && c.Structured && c.Source == "/b" && c.Typing.Command == events.TypingOff &&
					c.Send == nil && string(c.Data) == `{"command":"CancelTyping"}`
			}},
		{"leap second at 23:59 UTC", sendSubject, ce,
			`{"specversion":"1.0","id":"e","type":"weixin.kf.command.send","time":"2016-12-31T18:59:60.5-05:00","dataschema":"https://kfbridge.dev/s","data":{"msgtype":"image","image":{"url":"","object":"o"}}}`,
			func(c events.Command) bool { return c.Send.Image.Object == "o" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := events.ParseCommand(tt.subject, tt.hdr, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if cmd.AppID != "wx0123456789abcdef" || !tt.check(cmd) {
				t.Errorf("ParseCommand(%s) = %+v", tt.body, cmd)
			}
		})
	}
}

// TestParseCommandError checks that a refusal names what is known of the
// command, so that the egress can answer it.
func TestParseCommandError(t *testing.T) {
	ce := nats.Header{events.HeaderContentType: {events.ContentType}, nats.MsgIdHdr: {"hdr-id"}}
	for _, tt := range []struct {
		name, subject string
		hdr           nats.Header
		body          string
		wantVerb      string
		wantID        string
		wantIn        string
	}{
		{"bad subject", "wxkf.out.wx0123456789abcdef.0.o.User.send", ce, `{}`, "", "", "command subject"},
		{"bad verb", "wxkf.out.wx0123456789abcdef.0.oUser.shout", ce, `{}`, "", "", "verb"},
		{"image null", sendSubject, nats.Header{nats.MsgIdHdr: {"m"}}, `{"msgtype":"image","image":null}`, "send", "m", "want an object, got null"},
		{"bare without Nats-Msg-Id", typingSubject, nil, `{"command":"Typing"}`, "typing", "", "Nats-Msg-Id"},
		{"event id after bad data", sendSubject, ce, `{"specversion":"1.0","type":"weixin.kf.command.send","data":{"msgtype":"text"},"id":"ev-id"}`, "send", "ev-id", "text"},
		{"event id with a bad envelope", sendSubject, ce, `{"specversion":"1.0","id":"ev-id","type":"weixin.kf.command.typing","data":{"command":"Typing"}}`, "send", "ev-id", "type"},
		{"event not JSON", sendSubject, ce, `{"specversion":"1.0","id":"ev-id",`, "send", "hdr-id", "command event"},
		{"event id not a string", sendSubject, ce, `{"specversion":"1.0","id":7,"type":"weixin.kf.command.send","data":{"msgtype":"text","text":{"content":"hi"}}}`, "send", "hdr-id", "id"},
		{"event without type", sendSubject, ce, `{"specversion":"1.0","id":"e","data":{"msgtype":"text","text":{"content":"hi"}}}`, "send", "e", "no type"},
		{"leap second elsewhere", sendSubject, ce, `{"specversion":"1.0","id":"e","type":"weixin.kf.command.send","time":"2016-12-31T12:00:60Z","data":{"msgtype":"text","text":{"content":"hi"}}}`, "send", "e", "time"},
		{"relative dataschema", sendSubject, ce, `{"specversion":"1.0","id":"e","type":"weixin.kf.command.send","dataschema":"send.schema.json","data":{"msgtype":"text","text":{"content":"hi"}}}`, "send", "e", "dataschema"},
		{"extension null", sendSubject, ce, `{"specversion":"1.0","id":"e","type":"weixin.kf.command.send","ticket":null,"data":{"msgtype":"text","text":{"content":"hi"}}}`, "send", "e", "ticket"},
		{"id too long", sendSubject, ce, `{"specversion":"1.0","id":"` + strings.Repeat("é", 129) + `","type":"weixin.kf.command.send","data":{"msgtype":"text","text":{"content":"hi"}}}`, "send", strings.Repeat("é", 129), "id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.ParseCommand(tt.subject, tt.hdr, []byte(tt.body))
			var cerr *events.CommandError
			if !errors.As(err, &cerr) {
				t.Fatalf("ParseCommand(%s) = %v, want a *CommandError", tt.body, err)
			}
			if !errors.Is(err, events.ErrInvalid) && !errors.Is(err, events.ErrToken) {
				t.Errorf("%v wraps neither ErrInvalid nor ErrToken", err)
			}
			if cerr.Verb != tt.wantVerb || cerr.ID != tt.wantID || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("ParseCommand(%s) = %v (verb %q, id %q), want verb %q, id %q, mentioning %q",
					tt.body, err, cerr.Verb, cerr.ID, tt.wantVerb, tt.wantID, tt.wantIn)
			}
			if tt.wantVerb != "" && cerr.Conversation.OpenID != "oUser" {
				t.Errorf("conversation %+v", cerr.Conversation)
			}
		})
	}
}

// BenchmarkParseCommand measures reading one command as the egress does:
// subject, envelope and data, decoded and checked.
func BenchmarkParseCommand(b *testing.B) {
	for _, c := range []struct {
		name string
		hdr  nats.Header
		body string
	}{
		{"structured", nats.Header{events.HeaderContentType: {events.ContentType}, nats.MsgIdHdr: {"c-1"}},
			`{"specversion":"1.0","id":"0192d3b4-7c1e-7a35-9b0e-3f1c2a4d5e6f","source":"/bots/helpdesk","type":"weixin.kf.command.send","datacontenttype":"application/json","data":{"msgtype":"text","text":{"content":"Hello! How can I help?"}}}`},
		{"bare", nats.Header{nats.MsgIdHdr: {"c-1"}},
			`{"msgtype":"image","image":{"url":"https://example.com/images/cat.jpg"}}`},
	} {
		body := []byte(c.body)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := events.ParseCommand(sendSubject, c.hdr, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
