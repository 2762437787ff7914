package egress

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestWeChatBodyAsMaps: the body sent to WeChat's send API is, byte for
// byte, what encoding/json writes for the message as maps (sorted keys,
// HTML kept as is), for every msgtype and awkward text.
func TestWeChatBodyAsMaps(t *testing.T) {
	texts := []string{"", "x", `<a href="weixin://x?a=1&b=2">链接</a>`, "tab\tline\nquote\"back\\", "\u2028\u2029😀", string([]byte{0xff, 'a'})}
	for _, s := range texts {
		for _, sd := range []events.SendData{
			{MsgType: "text", Text: &events.SendText{Content: s}},
			{MsgType: "image", Image: &events.SendImage{MediaID: "m" + s}},
			{MsgType: "link", Link: &events.SendLink{Title: "t" + s, Description: s, URL: "https://a.example/" + s, ThumbURL: s + "u"}},
			{MsgType: "miniprogrampage", MiniProgramPage: &events.SendMiniProgramPage{Title: s, PagePath: "p/" + s, ThumbMediaID: "th" + s}},
		} {
			got, err := wechatBody(&sd)
			if err != nil {
				t.Fatal(err)
			}
			var inner map[string]string
			switch sd.MsgType {
			case "text":
				inner = map[string]string{"content": sd.Text.Content}
			case "image":
				inner = map[string]string{"media_id": sd.Image.MediaID}
			case "link":
				l := sd.Link
				inner = map[string]string{"title": l.Title, "description": l.Description, "url": l.URL, "thumb_url": l.ThumbURL}
			case "miniprogrampage":
				p := sd.MiniProgramPage
				inner = map[string]string{"title": p.Title, "pagepath": p.PagePath, "thumb_media_id": p.ThumbMediaID}
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(map[string]any{"msgtype": sd.MsgType, sd.MsgType: inner}); err != nil {
				t.Fatal(err)
			}
			if want := bytes.TrimRight(b.Bytes(), "\n"); !bytes.Equal(got, want) {
				t.Errorf("%s %q:\n got %s\nwant %s", sd.MsgType, s, got, want)
			}
		}
	}
}
