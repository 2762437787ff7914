package schemas_test

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// TestDecoderAgrees checks that the Go decoders of command data accept
// exactly the test tables' documents the schemas accept: egress validates a
// command with the schema first and then decodes it, and a Go bot may use the
// decoders alone.
func TestDecoderAgrees(t *testing.T) {
	v := newValidator(t)
	decodeSend := func(b []byte) error { _, err := events.DecodeSendData(b); return err }
	decodeTyping := func(b []byte) error { _, err := events.DecodeTypingData(b); return err }
	for _, k := range []struct {
		verb, schema string
		decode       func([]byte) error
		cases        []dataCase
	}{
		{"send", schemas.SendCommandData, decodeSend, append(validSendData(t), invalidSendData(t)...)},
		{"typing", schemas.TypingCommandData, decodeTyping, append(validTypingData(), invalidTypingData(t)...)},
	} {
		for _, tt := range k.cases {
			t.Run(k.verb+"/"+tt.name, func(t *testing.T) {
				serr := v.Validate(k.schema, tt.doc)
				derr := k.decode(tt.doc)
				if (serr == nil) != (derr == nil) {
					t.Errorf("Validate(%s, %s) = %v, but the %s decoder returns %v", k.schema, tt.doc, serr, k.verb, derr)
				}
			})
		}
	}
}

// TestDecoderLeniency lists documents the schemas reject although the Go
// decoders, built on encoding/json, accept them. Egress never acts on them,
// since it validates with the schema before decoding; a Go bot that checks
// its commands with the decoders alone would publish them and get a failed
// result (reason malformed).
func TestDecoderLeniency(t *testing.T) {
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
		{"typing member name in another case", schemas.TypingCommandData, `{"Command": "Typing"}`, ""},
		{"typing trailing closing bracket", schemas.TypingCommandData, `{"command": "Typing"}]`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.doc)
			wantInvalid(t, tt.schema, doc, v.Validate(tt.schema, doc), tt.wantAt)
			var err error
			if tt.schema == schemas.SendCommandData {
				_, err = events.DecodeSendData(doc)
			} else {
				_, err = events.DecodeTypingData(doc)
			}
			if err == nil {
				t.Logf("the Go decoder accepts %s, the schema does not", doc)
			}
		})
	}
}

// TestParseCommandAgrees checks that egress's envelope parser
// ([events.ParseCommand]) accepts every command event the schema accepts,
// and the data decoders its data. It logs the invalid events the parser
// lets through: egress validates only a command's data with the schemas, so
// those are delivered although they break the contract.
func TestParseCommandAgrees(t *testing.T) {
	hdr := nats.Header{events.HeaderContentType: {events.ContentType}}
	parse := func(doc []byte) error {
		var probe struct{ Type string }
		if err := json.Unmarshal(doc, &probe); err != nil {
			return err
		}
		verb := events.VerbSend
		if probe.Type == events.TypeCommandPrefix+events.VerbTyping {
			verb = events.VerbTyping
		}
		cmd, err := events.ParseCommand("wxkf.out.wx0123456789abcdef.0.oUser."+verb, hdr, doc)
		if err != nil {
			return err
		}
		if verb == events.VerbTyping {
			_, err = events.DecodeTypingData(cmd.Data)
		} else {
			_, err = events.DecodeSendData(cmd.Data)
		}
		return err
	}
	for _, tt := range validCommandEvents(t) {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			if err := parse(tt.doc); err != nil {
				t.Errorf("ParseCommand(%s) and decoding = %v, want nil", tt.doc, err)
			}
		})
	}
	for _, tt := range invalidCommandEvents(t) {
		t.Run("invalid/"+tt.name, func(t *testing.T) {
			if err := parse(tt.doc); err == nil {
				t.Logf("ParseCommand and the decoders accept %s, the schema does not", tt.doc)
			}
		})
	}
}
