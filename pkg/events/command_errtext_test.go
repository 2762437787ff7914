package events_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestParseCommandErrorText: a refusal's text is short whatever the input
// (names and values are quoted and cut), has no raw control characters,
// and reads "events: invalid event: <where>: <what>" with the sentinel's
// text once, in front.
func TestParseCommandErrorText(t *testing.T) {
	big := strings.Repeat("A", 1<<20)
	hdr := nats.Header{nats.MsgIdHdr: {"m"}}
	event := func(extra, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send",` + extra + `"data":` + data + `}`)
	}
	hi := `{"msgtype":"text","text":{"content":"hi"}}`
	for name, body := range map[string][]byte{
		"envelope member name":      event(`"`+big+`":1,`, hi),
		"repeated envelope member":  event(`"`+big+`":1,"`+big+`":1,`, hi),
		"specversion value":         []byte(`{"specversion":"` + big + `","id":"c","type":"weixin.kf.command.send","data":` + hi + `}`),
		"time value":                event(`"time":"`+big+`",`, hi),
		"data member name":          event("", `{"msgtype":"text","text":{"content":"hi"},"`+big+`":1}`),
		"text member name":          event("", `{"msgtype":"text","text":{"content":"hi","`+big+`":1}}`),
		"text member, not a string": event("", `{"msgtype":"text","text":{"`+big+`":1}}`),
		"msgtype value":             event("", `{"msgtype":"`+big+`","text":{"content":"hi"}}`),
		"image url":                 event("", `{"msgtype":"image","image":{"url":"`+big+`"}}`),
		"id":                        []byte(`{"specversion":"1.0","id":"` + big + `","type":"weixin.kf.command.send","data":` + hi + `}`),
		"raw CR after a backslash":  []byte("{\"msgtype\":\"te\\\rxt\"}"),
		"control in a name":         event(`"a`+"\\u0007\\n"+`b":1,`, hi),
	} {
		_, err := events.ParseCommand(sendSubject, hdr, body)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		msg := err.Error()
		if len(msg) > 600 {
			t.Errorf("%s: error of %d bytes: %.200s…", name, len(msg), msg)
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("%s: control character in %q", name, msg)
		}
	}

	_, err := events.ParseCommand(sendSubject, hdr, event("", `{"msgtype":"text","text":{"content":""}}`))
	const want = `command "c" (send on wx0123456789abcdef.0.oUser): events: invalid event: command data: send text: text.content is empty`
	if err == nil || err.Error() != want {
		t.Errorf("empty text: %v\nwant %s", err, want)
	}
	_, err = events.ParseCommand(typingSubject, hdr, []byte(`{"command":"Shout"}`))
	if err == nil || strings.Count(err.Error(), events.ErrInvalid.Error()) != 1 ||
		!strings.Contains(err.Error(), "): events: invalid event: command data: typing command") {
		t.Errorf("bad typing command: %v", err)
	}
}
