package schemas_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/schemas"
)

// Send data of every kind, as a bot publishes it.
const (
	sendText         = `{"msgtype": "text", "text": {"content": "Hello! How can I help?"}}`
	sendImageMediaID = `{"msgtype": "image", "image": {"media_id": "MEDIA_ID"}}`
	sendImageURL     = `{"msgtype": "image", "image": {"url": "https://example.com/images/cat.jpg"}}`
	sendImageObject  = `{"msgtype": "image", "image": {"object": "replies/cat.jpg"}}`
	sendLink         = `{"msgtype": "link", "link": {"title": "Order 1234 shipped", "description": "Tap to track your parcel.", "url": "https://example.com/orders/1234", "thumb_url": "https://example.com/images/parcel.png"}}`
	sendCardMediaID  = `{"msgtype": "miniprogrampage", "miniprogrampage": {"title": "Your coupon", "pagepath": "pages/coupon/coupon?id=42", "thumb_media_id": "THUMB_MEDIA_ID"}}`
	sendCardURL      = `{"msgtype": "miniprogrampage", "miniprogrampage": {"title": "Your coupon", "pagepath": "pages/index/index", "thumb_url": "http://example.com/coupon.png"}}`
	sendCardObject   = `{"msgtype": "miniprogrampage", "miniprogrampage": {"title": "Your coupon", "pagepath": "pages/index/index", "thumb_object": "cards/coupon.png"}}`

	typingOn  = `{"command": "Typing"}`
	typingOff = `{"command": "CancelTyping"}`
)

// commandEvent returns data wrapped in a minimal structured command event of
// type weixin.kf.command.<verb>.
func commandEvent(t testing.TB, verb, data string) string {
	t.Helper()
	ev := map[string]any{
		"specversion": "1.0",
		"id":          "0192d3b4-7c1e-7a35-9b0e-3f1c2a4d5e6f",
		"type":        "weixin.kf.command." + verb,
		"data":        json.RawMessage(data),
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("commandEvent(%s): %v", data, err)
	}
	return string(b)
}

// dataCase is a command's data, valid or not, in the form the tests build
// it: a base document and changes to it.
type dataCase struct {
	name   string
	doc    []byte
	wantAt string // for invalid data: a violation must be reported at this JSON Pointer
}

// validSendData is send data that must pass, one or more of every kind.
func validSendData(t testing.TB) []dataCase {
	return []dataCase{
		{name: "text", doc: []byte(sendText)},
		{name: "text with a budget policy", doc: mutate(t, sendText, set("/text/budget_policy", `"truncate"`))},
		{name: "text with a mini program link", doc: mutate(t, sendText, set("/text/content", `"<a href=\"https://example.com\" data-miniprogram-appid=\"wx0123456789abcdef\" data-miniprogram-path=\"pages/index/index\">open</a>"`))},
		{name: "image by media_id", doc: []byte(sendImageMediaID)},
		{name: "image by url", doc: []byte(sendImageURL)},
		{name: "image by http url", doc: mutate(t, sendImageURL, set("/image/url", `"http://example.com/cat.jpg"`))},
		{name: "image by object", doc: []byte(sendImageObject)},
		{name: "image by url, empty media_id and object", doc: mutate(t, sendImageURL, set("/image/media_id", `""`), set("/image/object", `""`))},
		{name: "link", doc: []byte(sendLink)},
		{name: "link with title and url only", doc: mutate(t, sendLink, del("/link/description"), del("/link/thumb_url"))},
		{name: "link with empty description and thumb_url", doc: mutate(t, sendLink, set("/link/description", `""`), set("/link/thumb_url", `""`))},
		{name: "miniprogrampage by thumb_media_id", doc: []byte(sendCardMediaID)},
		{name: "miniprogrampage by thumb_url", doc: []byte(sendCardURL)},
		{name: "miniprogrampage by thumb_object", doc: []byte(sendCardObject)},
		{name: "miniprogrampage by thumb_object, empty thumb_url", doc: mutate(t, sendCardObject, set("/miniprogrampage/thumb_url", `""`))},
	}
}

// invalidSendData is send data that must fail, with where.
func invalidSendData(t testing.TB) []dataCase {
	const card = "/miniprogrampage"
	return []dataCase{
		// Unknown members at each level.
		{"unknown member", mutate(t, sendText, set("/unknown", `"x"`)), ""},
		{"unknown member in text", mutate(t, sendText, set("/text/unknown", `"x"`)), "/text"},
		{"unknown member in image", mutate(t, sendImageMediaID, set("/image/unknown", `"x"`)), "/image"},
		{"unknown member in link", mutate(t, sendLink, set("/link/unknown", `"x"`)), "/link"},
		{"unknown member in miniprogrampage", mutate(t, sendCardMediaID, set(card+"/unknown", `"x"`)), card},
		{"WeChat's touser", mutate(t, sendText, set("/touser", `"oUser"`)), ""},
		{"link's picurl", mutate(t, sendLink, set("/link/picurl", `"https://example.com/p.png"`)), "/link"},
		{"miniprogrampage's appid", mutate(t, sendCardMediaID, set(card+"/appid", `"wx0123456789abcdef"`)), card},

		// msgtype and kind objects.
		{"no msgtype", mutate(t, sendText, del("/msgtype")), ""},
		{"msgtype video", mutate(t, sendText, set("/msgtype", `"video"`)), "/msgtype"},
		{"msgtype upper case", mutate(t, sendText, set("/msgtype", `"TEXT"`)), "/msgtype"},
		{"msgtype number", mutate(t, sendText, set("/msgtype", `1`)), "/msgtype"},
		{"no kind object", mutate(t, sendText, del("/text")), ""},
		{"two kind objects", mutate(t, sendText, set("/image", `{"media_id": "MEDIA_ID"}`)), "/image"},
		{"text and link objects on link", mutate(t, sendLink, set("/text", `{"content": "hi"}`)), "/text"},
		{"wrong kind object", mutate(t, sendText, set("/msgtype", `"image"`)), "/text"},
		{"image object for text", mutate(t, sendImageMediaID, set("/msgtype", `"text"`)), "/image"},
		{"miniprogrampage object for link", mutate(t, sendCardMediaID, set("/msgtype", `"link"`)), card},
		{"text null", mutate(t, sendText, set("/text", `null`)), "/text"},
		{"text string", mutate(t, sendText, set("/text", `"hi"`)), "/text"},

		// text.
		{"empty content", mutate(t, sendText, set("/text/content", `""`)), "/text/content"},
		{"unknown budget policy", mutate(t, sendText, set("/text/budget_policy", `"drop"`)), "/text/budget_policy"},
		{"no content", mutate(t, sendText, del("/text/content")), "/text"},
		{"content number", mutate(t, sendText, set("/text/content", `1`)), "/text/content"},

		// image.
		{"image by media_id and url", mutate(t, sendImageMediaID, set("/image/url", `"https://example.com/cat.jpg"`)), "/image"},
		{"image by url and object", mutate(t, sendImageURL, set("/image/object", `"replies/cat.jpg"`)), "/image"},
		{"image by media_id and object", mutate(t, sendImageMediaID, set("/image/object", `"replies/cat.jpg"`)), "/image"},
		{"image by all three", mutate(t, sendImageMediaID, set("/image/url", `"https://x"`), set("/image/object", `"o"`)), "/image"},
		{"image without source", mutate(t, sendImageMediaID, del("/image/media_id")), "/image"},
		{"image with empty sources only", mutate(t, sendImageMediaID, set("/image/media_id", `""`), set("/image/url", `""`), set("/image/object", `""`)), "/image/url"},
		{"image url ftp", mutate(t, sendImageURL, set("/image/url", `"ftp://example.com/cat.jpg"`)), "/image/url"},
		{"image url scheme-relative", mutate(t, sendImageURL, set("/image/url", `"//example.com/cat.jpg"`)), "/image/url"},
		{"image url upper-case scheme", mutate(t, sendImageURL, set("/image/url", `"HTTPS://example.com/cat.jpg"`)), "/image/url"},
		{"image url a path", mutate(t, sendImageURL, set("/image/url", `"images/cat.jpg"`)), "/image/url"},
		{"image url number", mutate(t, sendImageURL, set("/image/url", `1`)), "/image/url"},
		{"image media_id number", mutate(t, sendImageMediaID, set("/image/media_id", `1`)), "/image/media_id"},

		// link.
		{"link without title", mutate(t, sendLink, del("/link/title")), "/link"},
		{"link with empty title", mutate(t, sendLink, set("/link/title", `""`)), "/link/title"},
		{"link without url", mutate(t, sendLink, del("/link/url")), "/link"},
		{"link with empty url", mutate(t, sendLink, set("/link/url", `""`)), "/link/url"},
		{"link url not http", mutate(t, sendLink, set("/link/url", `"example.com/orders/1234"`)), "/link/url"},
		{"link description number", mutate(t, sendLink, set("/link/description", `1`)), "/link/description"},
		{"link thumb_url number", mutate(t, sendLink, set("/link/thumb_url", `false`)), "/link/thumb_url"},

		// miniprogrampage.
		{"card without title", mutate(t, sendCardMediaID, del(card+"/title")), card},
		{"card with empty title", mutate(t, sendCardMediaID, set(card+"/title", `""`)), card + "/title"},
		{"card without pagepath", mutate(t, sendCardMediaID, del(card+"/pagepath")), card},
		{"card with empty pagepath", mutate(t, sendCardMediaID, set(card+"/pagepath", `""`)), card + "/pagepath"},
		{"card with inbound page_path", mutate(t, sendCardMediaID, del(card+"/pagepath"), set(card+"/page_path", `"pages/index/index"`)), card},
		{"card without thumbnail", mutate(t, sendCardMediaID, del(card+"/thumb_media_id")), card},
		{"card with empty thumbnail", mutate(t, sendCardMediaID, set(card+"/thumb_media_id", `""`)), card},
		{"card by thumb_media_id and thumb_url", mutate(t, sendCardMediaID, set(card+"/thumb_url", `"https://x"`)), card},
		{"card by thumb_url and thumb_object", mutate(t, sendCardURL, set(card+"/thumb_object", `"o"`)), card},
		{"card thumb_url not http", mutate(t, sendCardURL, set(card+"/thumb_url", `"file:///etc/passwd"`)), card + "/thumb_url"},

		// Not an object.
		{"array", []byte(`[]`), ""},
		{"string", []byte(`"hi"`), ""},
		{"null", []byte(`null`), ""},
	}
}

// validTypingData is typing data that must pass.
func validTypingData() []dataCase {
	return []dataCase{
		{name: "Typing", doc: []byte(typingOn)},
		{name: "CancelTyping", doc: []byte(typingOff)},
	}
}

// invalidTypingData is typing data that must fail, with where.
func invalidTypingData(t testing.TB) []dataCase {
	return []dataCase{
		{"lower case", mutate(t, typingOn, set("/command", `"typing"`)), "/command"},
		{"other command", mutate(t, typingOn, set("/command", `"Stop"`)), "/command"},
		{"empty command", mutate(t, typingOn, set("/command", `""`)), "/command"},
		{"command number", mutate(t, typingOn, set("/command", `1`)), "/command"},
		{"command null", mutate(t, typingOn, set("/command", `null`)), "/command"},
		{"no command", []byte(`{}`), ""},
		{"unknown member", mutate(t, typingOn, set("/touser", `"oUser"`)), ""},
		{"send data", []byte(sendText), ""},
		{"array", []byte(`["Typing"]`), ""},
		{"string", []byte(`"Typing"`), ""},
	}
}

// wantInvalid fails t unless err is a *ValidationError for schema with a
// violation at wantAt.
func wantInvalid(t testing.TB, schema string, doc []byte, err error, wantAt string) {
	t.Helper()
	if !errors.Is(err, schemas.ErrInvalid) {
		t.Fatalf("Validate(%s, %s) = %v, want %v", schema, doc, err, schemas.ErrInvalid)
	}
	var verr *schemas.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate(%s, %s) = %T, want *ValidationError", schema, doc, err)
	}
	if verr.Schema != schema {
		t.Errorf("Schema = %q, want %q", verr.Schema, schema)
	}
	if !slices.ContainsFunc(verr.Violations, func(v schemas.Violation) bool { return v.Location == wantAt }) {
		t.Errorf("Validate(%s, %s) = %v, want a violation at %q", schema, doc, err, wantAt)
	}
}

// TestValidateCommandValid checks every valid command data on its own (bare
// data) and inside a command event.
func TestValidateCommandValid(t *testing.T) {
	v := newValidator(t)
	for _, k := range []struct {
		verb, schema string
		cases        []dataCase
	}{
		{"send", schemas.SendCommandData, validSendData(t)},
		{"typing", schemas.TypingCommandData, validTypingData()},
	} {
		for _, tt := range k.cases {
			t.Run(k.verb+"/"+tt.name, func(t *testing.T) {
				if err := v.Validate(k.schema, tt.doc); err != nil {
					t.Errorf("Validate(%s, %s) = %v, want nil", k.schema, tt.doc, err)
				}
				ev := commandEvent(t, k.verb, string(tt.doc))
				if err := v.Validate(schemas.CommandEvent, []byte(ev)); err != nil {
					t.Errorf("Validate(%s, %s) = %v, want nil", schemas.CommandEvent, ev, err)
				}
			})
		}
	}
}

// TestValidateCommandInvalid checks every invalid command data on its own
// (bare data) and inside a command event, where the violation moves under
// /data.
func TestValidateCommandInvalid(t *testing.T) {
	v := newValidator(t)
	for _, k := range []struct {
		verb, schema string
		cases        []dataCase
	}{
		{"send", schemas.SendCommandData, invalidSendData(t)},
		{"typing", schemas.TypingCommandData, invalidTypingData(t)},
	} {
		for _, tt := range k.cases {
			t.Run(k.verb+"/"+tt.name, func(t *testing.T) {
				wantInvalid(t, k.schema, tt.doc, v.Validate(k.schema, tt.doc), tt.wantAt)
				ev := []byte(commandEvent(t, k.verb, string(tt.doc)))
				wantInvalid(t, schemas.CommandEvent, ev, v.Validate(schemas.CommandEvent, ev), "/data"+tt.wantAt)
			})
		}
	}
}

// A structured command event with every optional attribute and extensions.
const fullCommandEvent = `{
  "specversion": "1.0",
  "id": "0192d3b4-7c1e-7a35-9b0e-3f1c2a4d5e6f",
  "source": "/bots/helpdesk",
  "type": "weixin.kf.command.send",
  "subject": "oABCDEF-openid_1",
  "time": "2026-11-21T06:29:59.5+08:00",
  "datacontenttype": "application/json",
  "dataschema": "https://kfbridge.dev/schemas/out/send.schema.json",
  "correlationid": "ticket-1234",
  "priority": 2,
  "urgent": true,
  "abcdefghij0123456789": "20 characters",
  "data": {"msgtype": "text", "text": {"content": "Hello! How can I help?"}}
}`

// validCommandEvents is command events that must pass.
func validCommandEvents(t testing.TB) []dataCase {
	return []dataCase{
		{"every attribute", []byte(fullCommandEvent), ""},
		{"minimal send", []byte(commandEvent(t, "send", sendText)), ""},
		{"minimal typing", []byte(commandEvent(t, "typing", typingOn)), ""},
		{"id of 256 bytes", mutate(t, fullCommandEvent, set("/id", `"`+strings.Repeat("x", 256)+`"`)), ""},
		{"id of 128 two-byte characters", mutate(t, fullCommandEvent, set("/id", `"`+strings.Repeat("é", 128)+`"`)), ""},
		{"empty source", mutate(t, fullCommandEvent, set("/source", `""`)), ""},
	}
}

// invalidCommandEvents is command events that must fail for their envelope,
// with where.
func invalidCommandEvents(t testing.TB) []dataCase {
	invalid := []dataCase{
		{"specversion 0.3", mutate(t, fullCommandEvent, set("/specversion", `"0.3"`)), "/specversion"},
		{"specversion number", mutate(t, fullCommandEvent, set("/specversion", `1.0`)), "/specversion"},
		{"empty id", mutate(t, fullCommandEvent, set("/id", `""`)), "/id"},
		{"id number", mutate(t, fullCommandEvent, set("/id", `42`)), "/id"},
		{"id of 257 characters", mutate(t, fullCommandEvent, set("/id", `"`+strings.Repeat("x", 257)+`"`)), "/id"},
		{"id of 129 two-byte characters", mutate(t, fullCommandEvent, set("/id", `"`+strings.Repeat("é", 129)+`"`)), "/id"},
		{"type of another verb", mutate(t, fullCommandEvent, set("/type", `"weixin.kf.command.reply"`)), "/type"},
		{"type of a result", mutate(t, fullCommandEvent, set("/type", `"weixin.kf.result.delivered"`)), "/type"},
		{"type typing with send data", mutate(t, fullCommandEvent, set("/type", `"weixin.kf.command.typing"`)), "/data"},
		{"type send with typing data", []byte(strings.Replace(commandEvent(t, "typing", typingOn), "command.typing", "command.send", 1)), "/data"},
		{"datacontenttype text/plain", mutate(t, fullCommandEvent, set("/datacontenttype", `"text/plain"`)), "/datacontenttype"},
		{"time not RFC 3339", mutate(t, fullCommandEvent, set("/time", `"2026-11-21 06:29:59"`)), "/time"},
		{"time number", mutate(t, fullCommandEvent, set("/time", `1795328999`)), "/time"},
		{"dataschema not a URI", mutate(t, fullCommandEvent, set("/dataschema", `"send schema"`)), "/dataschema"},
		{"source number", mutate(t, fullCommandEvent, set("/source", `1`)), "/source"},
		{"subject number", mutate(t, fullCommandEvent, set("/subject", `1`)), "/subject"},
		{"data a JSON string", mutate(t, fullCommandEvent, set("/data", `"{\"msgtype\":\"text\",\"text\":{\"content\":\"hi\"}}"`)), "/data"},
		{"data null", mutate(t, fullCommandEvent, set("/data", `null`)), "/data"},
		{"data_base64", mutate(t, fullCommandEvent, del("/data"), set("/data_base64", `"e30="`)), ""},

		// Attribute names and extension values.
		{"upper-case attribute", mutate(t, fullCommandEvent, set("/correlationId", `"x"`)), ""},
		{"attribute name of 21 characters", mutate(t, fullCommandEvent, set("/abcdefghij0123456789x", `"x"`)), ""},
		{"extension object", mutate(t, fullCommandEvent, set("/correlationid", `{"ticket": 1234}`)), "/correlationid"},
		{"extension array", mutate(t, fullCommandEvent, set("/tags", `["a"]`)), "/tags"},
		{"extension null", mutate(t, fullCommandEvent, set("/correlationid", `null`)), "/correlationid"},
	}
	for _, m := range []string{"specversion", "id", "type", "data"} {
		invalid = append(invalid, dataCase{"missing " + m, mutate(t, fullCommandEvent, del("/"+m)), ""})
	}
	return invalid
}

func TestValidateCommandEvent(t *testing.T) {
	v := newValidator(t)
	for _, tt := range validCommandEvents(t) {
		t.Run(tt.name, func(t *testing.T) {
			if err := v.Validate(schemas.CommandEvent, tt.doc); err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tt.doc, err)
			}
		})
	}
	for _, tt := range invalidCommandEvents(t) {
		t.Run(tt.name, func(t *testing.T) {
			wantInvalid(t, schemas.CommandEvent, tt.doc, v.Validate(schemas.CommandEvent, tt.doc), tt.wantAt)
		})
	}
}

// TestValidateOneOfMessage checks that a failed choice of image source or
// thumbnail names the alternatives.
func TestValidateOneOfMessage(t *testing.T) {
	v := newValidator(t)
	for _, tt := range []struct {
		name string
		doc  []byte
		want schemas.Violation
	}{
		{"image without source", mutate(t, sendImageMediaID, set("/image/media_id", `""`)),
			schemas.Violation{Location: "/image", Message: "want exactly one of: by media_id, by url, by object; got none"}},
		{"image by url and object", mutate(t, sendImageURL, set("/image/object", `"o"`)),
			schemas.Violation{Location: "/image", Message: "want exactly one of: by media_id, by url, by object; got by url and by object"}},
		{"card by two thumbnails", mutate(t, sendCardMediaID, set("/miniprogrampage/thumb_object", `"o"`)),
			schemas.Violation{Location: "/miniprogrampage", Message: "want exactly one of: by thumb_media_id, by thumb_url, by thumb_object; got by thumb_media_id and by thumb_object"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate(schemas.SendCommandData, tt.doc)
			var verr *schemas.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate(%s) = %v, want *ValidationError", tt.doc, err)
			}
			if !slices.Contains(verr.Violations, tt.want) {
				t.Errorf("Validate(%s) = %v, want violation %v", tt.doc, err, tt.want)
			}
		})
	}
}
