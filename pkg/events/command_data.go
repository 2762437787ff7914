package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// DecodeSendData decodes and validates the data of a send command: unknown
// fields are an error (they would be silently dropped otherwise), the
// object matching msgtype must be the only one present, and its required
// fields set.
func DecodeSendData(data []byte) (SendData, error) {
	var d SendData
	if err := decodeStrict(data, &d); err != nil {
		return SendData{}, err
	}
	return d, d.Validate()
}

// DecodeTypingData decodes and validates the data of a typing command.
func DecodeTypingData(data []byte) (TypingData, error) {
	var d TypingData
	if err := decodeStrict(data, &d); err != nil {
		return TypingData{}, err
	}
	if d.Command != TypingOn && d.Command != TypingOff {
		return TypingData{}, fmt.Errorf("%w: typing command %q: want %s or %s", ErrInvalid, d.Command, TypingOn, TypingOff)
	}
	return d, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: command data: %w", ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: command data: trailing data", ErrInvalid)
	}
	return nil
}

// Validate checks d as [DecodeSendData] does.
func (d *SendData) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: send %s: "+format, append([]any{ErrInvalid, d.MsgType}, args...)...)
	}
	present := 0
	for _, p := range []bool{d.Text != nil, d.Image != nil, d.Link != nil, d.MiniProgramPage != nil} {
		if p {
			present++
		}
	}
	if present != 1 {
		return bad("want exactly one of text, image, link, miniprogrampage; have %d", present)
	}
	switch d.MsgType {
	case "text":
		if d.Text == nil {
			return bad("no text object")
		}
		if d.Text.Content == "" {
			return bad("text.content is empty")
		}
	case "image":
		if d.Image == nil {
			return bad("no image object")
		}
		if n := countSet(d.Image.MediaID, d.Image.URL, d.Image.Object); n != 1 {
			return bad("want exactly one of image.media_id, image.url, image.object; have %d", n)
		}
		if d.Image.URL != "" && !isHTTPURL(d.Image.URL) {
			return bad("image.url %q is not an http(s) URL", d.Image.URL)
		}
	case "link":
		if d.Link == nil {
			return bad("no link object")
		}
		if d.Link.Title == "" || !isHTTPURL(d.Link.URL) {
			return bad("link needs a title and an http(s) url")
		}
	case "miniprogrampage":
		p := d.MiniProgramPage
		if p == nil {
			return bad("no miniprogrampage object")
		}
		if p.Title == "" || p.PagePath == "" {
			return bad("miniprogrampage needs title and pagepath")
		}
		if n := countSet(p.ThumbMediaID, p.ThumbURL, p.ThumbObject); n != 1 {
			return bad("want exactly one of thumb_media_id, thumb_url, thumb_object; have %d", n)
		}
		if p.ThumbURL != "" && !isHTTPURL(p.ThumbURL) {
			return bad("thumb_url %q is not an http(s) URL", p.ThumbURL)
		}
	default:
		return fmt.Errorf("%w: send msgtype %q: want text, image, link or miniprogrampage", ErrInvalid, d.MsgType)
	}
	return nil
}

func countSet(s ...string) int {
	n := 0
	for _, v := range s {
		if v != "" {
			n++
		}
	}
	return n
}

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// WeChatBody returns the message as WeChat's send API takes it (without
// touser and businessid), with media resolved to mediaID: for an image, or
// for a mini-program card's thumbnail. It fails when media is unresolved.
func (d *SendData) WeChatBody() (json.RawMessage, error) {
	var v any
	switch d.MsgType {
	case "text":
		v = map[string]any{"msgtype": "text", "text": map[string]string{"content": d.Text.Content}}
	case "image":
		if d.Image.MediaID == "" {
			return nil, fmt.Errorf("%w: image media not uploaded", ErrInvalid)
		}
		v = map[string]any{"msgtype": "image", "image": map[string]string{"media_id": d.Image.MediaID}}
	case "link":
		v = map[string]any{"msgtype": "link", "link": map[string]string{
			"title": d.Link.Title, "description": d.Link.Description, "url": d.Link.URL, "thumb_url": d.Link.ThumbURL}}
	case "miniprogrampage":
		p := d.MiniProgramPage
		if p.ThumbMediaID == "" {
			return nil, fmt.Errorf("%w: thumbnail not uploaded", ErrInvalid)
		}
		v = map[string]any{"msgtype": "miniprogrampage", "miniprogrampage": map[string]string{
			"title": p.Title, "pagepath": p.PagePath, "thumb_media_id": p.ThumbMediaID}}
	default:
		return nil, fmt.Errorf("%w: msgtype %q", ErrInvalid, d.MsgType)
	}
	// Text may carry mini-program links (<a href=…>): keep them readable.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
