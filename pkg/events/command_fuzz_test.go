package events_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// FuzzParseCommand feeds arbitrary subjects, headers and bodies, as any bot
// could publish them, through ParseCommand. Nothing may panic; a rejection
// must be a *CommandError that says it is invalid input and names what it
// knows; an accepted command must be usable and fit the schema.
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
			var cerr *events.CommandError
			if !errors.As(err, &cerr) || !errors.Is(err, events.ErrInvalid) && !errors.Is(err, events.ErrToken) {
				t.Fatalf("rejection %v is not a *CommandError wrapping ErrInvalid or ErrToken", err)
			}
			if _, _, serr := events.ParseCommandSubject(subject); (serr == nil) != (cerr.Verb != "") {
				t.Fatalf("rejection %v names verb %q, subject error %v", err, cerr.Verb, serr)
			}
			return
		}
		if cmd.ID == "" || len(cmd.ID) > events.MaxCommandIDLength || (cmd.Send == nil) == (cmd.Typing == nil) {
			t.Fatalf("accepted command %+v", cmd)
		}
		back, err := events.CommandSubject(cmd.Conversation, cmd.Verb)
		if err != nil {
			t.Fatalf("accepted conversation %+v has no subject: %v", cmd.Conversation, err)
		}
		if conv, verb, err := events.ParseCommandSubject(back); err != nil || conv != cmd.Conversation || verb != cmd.Verb {
			t.Fatalf("subject %q gives back %q: %+v %s %v", subject, back, conv, verb, err)
		}
		if !schemaAccepts(t, v, cmd.Verb, cmd.Structured, body) {
			t.Fatalf("ParseCommand accepts %q, the schema does not", body)
		}
	})
}

// FuzzCommandSchema is the differential test of the contract's two
// readings: for every body, published on a send or a typing subject with or
// without the CloudEvents content type, ParseCommand accepts it exactly when
// the JSON Schemas (with the validator's own checks) do.
func FuzzCommandSchema(f *testing.F) {
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	// The schemas' own examples, valid and with small breakages.
	for _, name := range []string{schemas.CommandEvent, schemas.SendCommandData, schemas.TypingCommandData} {
		b, err := fs.ReadFile(schemas.FS(), name)
		if err != nil {
			f.Fatal(err)
		}
		var s struct{ Examples []json.RawMessage }
		if err := json.Unmarshal(b, &s); err != nil {
			f.Fatal(err)
		}
		for _, ex := range s.Examples {
			typing := name == schemas.TypingCommandData || containsTyping(ex)
			f.Add(typing, name == schemas.CommandEvent, []byte(ex))
		}
	}
	for _, body := range []string{
		// Where the two readings used to disagree (encoding/json is lenient).
		`{"msgtype": "text", "text": {"content": "hi"}, "image": null}`,
		`{"msgtype": "image", "image": null}`,
		`{"MsgType": "text", "Text": {"Content": "hi"}}`,
		`{"msgtype": "link", "link": {"title": "t", "url": "https://x", "description": null}}`,
		`{"msgtype": "image", "image": {"media_id": "M", "url": null}}`,
		`{"msgtype": "text", "text": {"content": "hi"}}}`,
		`{"msgtype": "text", "text": {"content": "a"}, "text": {"content": "b"}}`,
		`{"msg\u0074ype": "text", "text": {"content": "\ud800"}}`,
		`"hi"`,
		`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","time":"2026-11-21T23:59:60-00:00","data":{"msgtype":"text","text":{"content":"hi"}}}`,
		`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","time":"2026-01-01T+1:00:00Z","data":{"msgtype":"text","text":{"content":"hi"}}}`,
		`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","time":"2026-01-01T00:00:00+-1:00","data":{"msgtype":"text","text":{"content":"hi"}}}`,
		`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","dataschema":"http://[::1%25en0]/x","data":{"msgtype":"text","text":{"content":"hi"}}}`,
		`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","x1":1e400,"x2":true,"x3":null,"data":{"msgtype":"text","text":{"content":"hi"}}}`,
		`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","Id":"d","data":{"msgtype":"text","text":{"content":"hi"}}}`,
	} {
		f.Add(false, false, []byte(body))
		f.Add(false, true, []byte(body))
	}
	f.Add(true, false, []byte(`{"command":"Typing","command":"Typing"}`))
	// The bodies of FuzzParseCommand's corpus.
	seeds, err := filepath.Glob("testdata/fuzz/FuzzParseCommand/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if q, ok := strings.CutPrefix(strings.TrimSpace(line), "[]byte("); ok {
				body, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
				if err != nil {
					f.Fatalf("%s: %v", name, err)
				}
				f.Add(false, false, []byte(body))
				f.Add(strings.Contains(body, "Typing"), true, []byte(body))
			}
		}
	}
	f.Fuzz(func(t *testing.T, typing, contentType bool, body []byte) {
		verb := events.VerbSend
		if typing {
			verb = events.VerbTyping
		}
		hdr := nats.Header{nats.MsgIdHdr: {"fuzz-1"}}
		if contentType {
			hdr.Set(events.HeaderContentType, events.ContentType)
		}
		_, err := events.ParseCommand("wxkf.out.wx0123456789abcdef.0.oUser."+verb, hdr, body)
		// Without the header the body may be either; a valid command event
		// has a specversion member, valid bare data has none.
		want := schemaAccepts(t, v, verb, true, body) || !contentType && schemaAccepts(t, v, verb, false, body)
		if (err == nil) != want {
			t.Fatalf("%s command %q (content type %v): ParseCommand says %v, the schema says valid=%v", verb, body, contentType, err, want)
		}
	})
}

func containsTyping(ex []byte) bool {
	var ev struct{ Type string }
	return json.Unmarshal(ex, &ev) == nil && ev.Type == events.TypeCommandPrefix+events.VerbTyping
}

// schemaAccepts reports whether the schemas accept body as a command of
// verb: as a command event whose type names the verb (a rule about the
// subject, which the schema cannot see), or as the verb's bare data.
func schemaAccepts(t *testing.T, v *schemas.Validator, verb string, structured bool, body []byte) bool {
	t.Helper()
	if !structured {
		name := schemas.SendCommandData
		if verb == events.VerbTyping {
			name = schemas.TypingCommandData
		}
		return v.Validate(name, body) == nil
	}
	if v.Validate(schemas.CommandEvent, body) != nil {
		return false
	}
	var ev struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("schema-valid %q: %v", body, err)
	}
	return ev.Type == events.TypeCommandPrefix+verb
}
