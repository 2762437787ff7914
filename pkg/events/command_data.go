package events

import (
	"fmt"
	"strings"
)

// SendData is the data of a send command ([VerbSend], [Command.Send]):
// WeChat's own send body without touser and businessid, which come from the
// subject. Exactly one of the objects, the one matching MsgType, is set
// ([SendData.Validate]).
type SendData struct {
	MsgType         string               `json:"msgtype"`
	Text            *SendText            `json:"text,omitempty"`
	Image           *SendImage           `json:"image,omitempty"`
	Link            *SendLink            `json:"link,omitempty"`
	MiniProgramPage *SendMiniProgramPage `json:"miniprogrampage,omitempty"`
}

// SendText is a text message, [SendData.Text].
type SendText struct {
	Content string `json:"content"`
	// BudgetPolicy decides, when the egress enforces the reply budget,
	// what happens to a text longer than the text limit (sent in parts,
	// each one of the conversation's replies) whose parts the budget cannot
	// all hold: [BudgetPolicyFail], [BudgetPolicyTruncate] or
	// [BudgetPolicyPartial]. Empty uses the app's apps[].budget_policy
	// (default fail).
	BudgetPolicy string `json:"budget_policy,omitempty"`
}

// The budget policies of a text sent in parts ([SendText.BudgetPolicy]).
const (
	// BudgetPolicyFail sends nothing and fails the command (reason budget).
	BudgetPolicyFail = "fail"
	// BudgetPolicyTruncate sends the parts the budget holds, the last one
	// cut shorter to end with an ellipsis ("…"); the result is delivered
	// with parts_sent < parts and budget_cut "truncate".
	BudgetPolicyTruncate = "truncate"
	// BudgetPolicyPartial sends the parts the budget holds, unchanged; the
	// result is delivered with parts_sent < parts and budget_cut "partial".
	BudgetPolicyPartial = "partial"
)

// SendImage is an image, [SendData.Image], by exactly one of: a WeChat media_id, an http(s)
// URL egress downloads and uploads, or the name of an object in the media
// object store (bucket WXKF_MEDIA) egress uploads. Uploaded media ids are
// cached for less than their 3-day life.
type SendImage struct {
	MediaID string `json:"media_id,omitempty"`
	URL     string `json:"url,omitempty"`
	Object  string `json:"object,omitempty"`
}

// SendLink is a link card, [SendData.Link].
type SendLink struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	ThumbURL    string `json:"thumb_url"`
}

// SendMiniProgramPage is a mini-program card, [SendData.MiniProgramPage];
// its thumbnail is a media id, or a URL or object egress uploads.
type SendMiniProgramPage struct {
	Title        string `json:"title"`
	PagePath     string `json:"pagepath"`
	ThumbMediaID string `json:"thumb_media_id,omitempty"`
	ThumbURL     string `json:"thumb_url,omitempty"`
	ThumbObject  string `json:"thumb_object,omitempty"`
}

// TypingData is the data of a typing command ([VerbTyping]).
type TypingData struct {
	// Command is Typing or CancelTyping.
	Command string `json:"command"`
}

// Values of [TypingData.Command].
const (
	// TypingOn shows "typing" to the user.
	TypingOn = "Typing"
	// TypingOff cancels it.
	TypingOff = "CancelTyping"
)

// Validate checks the rules of send data that concern its values: the
// object matching MsgType is the only one set, and its required fields are
// set. [ParseCommand] checks them after its strict decoding, and the two
// together are the rules of the send data schema
// (schemas/out/send.schema.json); a bot may call Validate before it
// publishes.
func (d *SendData) Validate() error {
	if err := d.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// check is Validate without the [ErrInvalid] prefix, for [ParseCommand],
// which adds it once in front of its whole message.
func (d *SendData) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("send %s: "+format, append([]any{d.MsgType}, args...)...)
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
		switch d.Text.BudgetPolicy {
		case "", BudgetPolicyFail, BudgetPolicyTruncate, BudgetPolicyPartial:
		default:
			return bad("text.budget_policy %.32q: want fail, truncate or partial", d.Text.BudgetPolicy)
		}
	case "image":
		if d.Image == nil {
			return bad("no image object")
		}
		if n := countSet(d.Image.MediaID, d.Image.URL, d.Image.Object); n != 1 {
			return bad("want exactly one of image.media_id, image.url, image.object; have %d", n)
		}
		if d.Image.URL != "" && !isHTTPURL(d.Image.URL) {
			return bad("image.url %.64q is not an http(s) URL", d.Image.URL)
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
			return bad("thumb_url %.64q is not an http(s) URL", p.ThumbURL)
		}
	default:
		return fmt.Errorf("send msgtype %.64q: want text, image, link or miniprogrampage", d.MsgType)
	}
	return nil
}

// Validate checks that Command is [TypingOn] or [TypingOff], as the typing
// data schema (schemas/out/typing.schema.json) says.
func (d TypingData) Validate() error {
	if err := d.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// check is Validate without the [ErrInvalid] prefix (see [SendData.check]).
func (d TypingData) check() error {
	if d.Command != TypingOn && d.Command != TypingOff {
		return fmt.Errorf("typing command %.64q: want %s or %s", d.Command, TypingOn, TypingOff)
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

// decodeSendData decodes the members ms of send data strictly (see
// [ParseCommand]) and validates the result.
func decodeSendData(ms []member) (*SendData, error) {
	if name, ok := repeatedName(ms); ok {
		return nil, fmt.Errorf("member %.64q appears more than once", name)
	}
	d := &SendData{}
	for _, m := range ms {
		var err error
		switch m.name {
		case "msgtype":
			d.MsgType, err = stringValue("msgtype", m.value)
		case "text":
			t := &SendText{}
			d.Text = t
			err = decodeObject("text", m.value, func(name, v string) bool {
				switch name {
				case "content":
					t.Content = v
				case "budget_policy":
					t.BudgetPolicy = v
				default:
					return false
				}
				return true
			})
		case "image":
			i := &SendImage{}
			d.Image = i
			err = decodeObject("image", m.value, func(name, v string) bool {
				switch name {
				case "media_id":
					i.MediaID = v
				case "url":
					i.URL = v
				case "object":
					i.Object = v
				default:
					return false
				}
				return true
			})
		case "link":
			l := &SendLink{}
			d.Link = l
			err = decodeObject("link", m.value, func(name, v string) bool {
				switch name {
				case "title":
					l.Title = v
				case "description":
					l.Description = v
				case "url":
					l.URL = v
				case "thumb_url":
					l.ThumbURL = v
				default:
					return false
				}
				return true
			})
		case "miniprogrampage":
			p := &SendMiniProgramPage{}
			d.MiniProgramPage = p
			err = decodeObject("miniprogrampage", m.value, func(name, v string) bool {
				switch name {
				case "title":
					p.Title = v
				case "pagepath":
					p.PagePath = v
				case "thumb_media_id":
					p.ThumbMediaID = v
				case "thumb_url":
					p.ThumbURL = v
				case "thumb_object":
					p.ThumbObject = v
				default:
					return false
				}
				return true
			})
		default:
			err = fmt.Errorf("unknown member %.64q", m.name)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}

// decodeTypingData decodes the members ms of typing data strictly (see
// [ParseCommand]) and validates the result.
func decodeTypingData(ms []member) (*TypingData, error) {
	if name, ok := repeatedName(ms); ok {
		return nil, fmt.Errorf("member %.64q appears more than once", name)
	}
	d := &TypingData{}
	for _, m := range ms {
		if m.name != "command" {
			return nil, fmt.Errorf("unknown member %.64q", m.name)
		}
		var err error
		if d.Command, err = stringValue("command", m.value); err != nil {
			return nil, err
		}
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}
