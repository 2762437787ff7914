package schemas_test

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// parseBare runs events.ParseCommand on doc published as bare data of verb.
func parseBare(verb string, doc []byte) error {
	hdr := nats.Header{nats.MsgIdHdr: {"cmd-1"}}
	_, err := events.ParseCommand("wxkf.out.wx0123456789abcdef.0.oUser."+verb, hdr, doc)
	return err
}

// parseEvent runs events.ParseCommand on doc published as a command event
// on the subject of the verb its type names (send if none).
func parseEvent(doc []byte) error {
	var probe struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(doc, &probe)
	verb := events.VerbSend
	if probe.Type == events.TypeCommandPrefix+events.VerbTyping {
		verb = events.VerbTyping
	}
	hdr := nats.Header{events.HeaderContentType: {events.ContentType}}
	_, err := events.ParseCommand("wxkf.out.wx0123456789abcdef.0.oUser."+verb, hdr, doc)
	return err
}

// TestParseCommandAgreesOnData checks that events.ParseCommand accepts
// exactly the test tables' bare command data the schemas accept: the egress
// reads a command with ParseCommand alone.
func TestParseCommandAgreesOnData(t *testing.T) {
	v := newValidator(t)
	for _, k := range []struct {
		verb, schema string
		cases        []dataCase
	}{
		{"send", schemas.SendCommandData, append(validSendData(t), invalidSendData(t)...)},
		{"typing", schemas.TypingCommandData, append(validTypingData(), invalidTypingData(t)...)},
	} {
		for _, tt := range k.cases {
			t.Run(k.verb+"/"+tt.name, func(t *testing.T) {
				serr := v.Validate(k.schema, tt.doc)
				perr := parseBare(k.verb, tt.doc)
				if (serr == nil) != (perr == nil) {
					t.Errorf("Validate(%s, %s) = %v, but ParseCommand returns %v", k.schema, tt.doc, serr, perr)
				}
			})
		}
	}
}

// TestStrictReading lists documents that encoding/json would read, leniently,
// as valid commands. The contract refuses them, and the schemas (with the
// validator's check for repeated member names) and ParseCommand agree.
func TestStrictReading(t *testing.T) {
	v := newValidator(t)
	for _, tt := range []struct {
		name, schema string
		doc          string
		wantAt       string
	}{
		{"member names in another case", schemas.SendCommandData, `{"MsgType": "text", "Text": {"Content": "hi"}}`, ""},
		{"other kind object null", schemas.SendCommandData, `{"msgtype": "text", "text": {"content": "hi"}, "image": null}`, "/image"},
		{"optional string null", schemas.SendCommandData, `{"msgtype": "link", "link": {"title": "t", "url": "https://x", "description": null}}`, "/link/description"},
		{"unused image source null", schemas.SendCommandData, `{"msgtype": "image", "image": {"media_id": "M", "url": null}}`, "/image/url"},
		{"trailing closing brace", schemas.SendCommandData, `{"msgtype": "text", "text": {"content": "hi"}}}`, ""},
		{"repeated kind object", schemas.SendCommandData, `{"msgtype": "text", "text": {"content": ""}, "text": {"content": "hi"}}`, ""},
		{"repeated member inside", schemas.SendCommandData, `{"msgtype": "image", "image": {"url": "ftp://x", "url": "https://x"}}`, "/image"},
		{"typing member name in another case", schemas.TypingCommandData, `{"Command": "Typing"}`, ""},
		{"typing trailing closing bracket", schemas.TypingCommandData, `{"command": "Typing"}]`, ""},
		{"typing repeated command", schemas.TypingCommandData, `{"command": "Shout", "command": "Typing"}`, ""},
		{"repeated id", schemas.CommandEvent, `{"specversion": "1.0", "id": "a", "id": "b", "type": "weixin.kf.command.typing", "data": {"command": "Typing"}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.doc)
			wantInvalid(t, tt.schema, doc, v.Validate(tt.schema, doc), tt.wantAt)
			var err error
			switch tt.schema {
			case schemas.SendCommandData:
				err = parseBare(events.VerbSend, doc)
			case schemas.TypingCommandData:
				err = parseBare(events.VerbTyping, doc)
			default:
				err = parseEvent(doc)
			}
			if err == nil {
				t.Errorf("ParseCommand accepts %s, the schema does not", doc)
			}
		})
	}
}

// TestParseCommandAgreesOnEvents checks that events.ParseCommand accepts
// every command event the schema accepts and refuses every one it refuses.
func TestParseCommandAgreesOnEvents(t *testing.T) {
	for _, tt := range validCommandEvents(t) {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			if err := parseEvent(tt.doc); err != nil {
				t.Errorf("ParseCommand(%s) = %v, want nil", tt.doc, err)
			}
		})
	}
	for _, tt := range invalidCommandEvents(t) {
		t.Run("invalid/"+tt.name, func(t *testing.T) {
			if err := parseEvent(tt.doc); err == nil {
				t.Errorf("ParseCommand accepts %s, the schema does not", tt.doc)
			}
		})
	}
}

// TestParseCommandAgreesOnFormats checks that events.ParseCommand judges a
// command's time (format date-time) and dataschema (format uri) as the
// validator does, on the edge cases of both.
func TestParseCommandAgreesOnFormats(t *testing.T) {
	v := newValidator(t)
	times := []string{
		"2026-11-21T06:29:59Z", "2026-11-21t06:29:59z", "2026-11-21T06:29:59.5+08:00", "2026-11-21T06:29:59.123456789-00:30",
		"2026-02-30T00:00:00Z", "2024-02-29T00:00:00Z", "2026-11-21T+1:00:00Z", "2026-11-21T-0:00:00Z",
		"2026-11-21T23:59:60Z", "2026-11-21T23:59:60+01:00", "2026-11-21T22:59:60-01:00", "2026-11-21T00:59:60+01:00",
		"2026-11-21T06:29:59", "2026-11-21T06:29:59.Z", "2026-11-21T24:00:00Z", "2026-11-21T06:29:59+24:00",
		"2026-11-21 06:29:59Z", "2026-11-21T06:29:59+0800", "2026-11-21T06:29:59+08:60", "2026-11-21T06:29:61Z",
		"2026-11-21T06:29:59.5é", "2026-1-21T06:29:59.5Z", "+026-11-21T06:29:59Z", "2026-11-21T06:29:5:Z",
	}
	uris := []string{
		"https://kfbridge.dev/schemas/out/send.schema.json", "urn:kfbridge:send", "mailto:a@b", "send.schema.json", "//host/x",
		"http://[::1]/", "http://[::1%25eth0]/", "http://::1/", "http://[fe80::1]:80/x", "http://[1.2.3.4]/",
		"%zz", "http://a b", ":x", "http://x/%", "HTTP://X", "a:", "",
	}
	check := func(member, value string) {
		t.Helper()
		doc, err := json.Marshal(map[string]any{
			"specversion": "1.0", "id": "c-1", "type": "weixin.kf.command.send", member: value,
			"data": map[string]any{"msgtype": "text", "text": map[string]string{"content": "hi"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		serr := v.Validate(schemas.CommandEvent, doc)
		if perr := parseEvent(doc); (serr == nil) != (perr == nil) {
			t.Errorf("%s %q: Validate = %v, but ParseCommand = %v", member, value, serr, perr)
		}
	}
	for _, s := range times {
		check("time", s)
	}
	for _, s := range uris {
		check("dataschema", s)
	}
}
