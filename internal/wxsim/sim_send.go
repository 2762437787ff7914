package wxsim

import (
	"encoding/json"
	"time"
)

// Message limits of the simulated send API.
const (
	// maxTextBytes is the longest text content in UTF-8 bytes. WeChat
	// documents no limit for mini programs (§7.2, §11.14); 2048 bytes is
	// the SDK and WeCom convention the Sim enforces with 45002.
	maxTextBytes = 2048
	// maxLinkTitle and maxLinkDescription bound a link's fields (45003,
	// 45004); WeChat states no figure, these are the Sim's.
	maxLinkTitle       = 256
	maxLinkDescription = 1024
)

// Message types a mini program may send (§7.2).
const (
	msgText            = "text"
	msgImage           = "image"
	msgLink            = "link"
	msgMiniProgramPage = "miniprogrampage"
)

// sendRequest is the body of the send APIs (§7.2, §7.3).
type sendRequest struct {
	ToUser     string          `json:"touser"`
	MsgType    string          `json:"msgtype"`
	BusinessID json.RawMessage `json:"businessid"`
	Text       *struct {
		Content string `json:"content"`
	} `json:"text"`
	Image *struct {
		MediaID string `json:"media_id"`
	} `json:"image"`
	Link *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		ThumbURL    string `json:"thumb_url"`
	} `json:"link"`
	MiniProgramPage *struct {
		Title        string `json:"title"`
		PagePath     string `json:"pagepath"`
		ThumbMediaID string `json:"thumb_media_id"`
		AppID        string `json:"appid"` // allowed, ignored (§7.2)
	} `json:"miniprogrampage"`
}

// sendShape lists the keys WeChat's send body may have. businessid is only
// allowed on the business path (checked apart).
var sendShape = shape{
	"touser":          nil,
	"msgtype":         nil,
	"businessid":      nil,
	"text":            {"content": nil},
	"image":           {"media_id": nil},
	"link":            {"title": nil, "description": nil, "url": nil, "thumb_url": nil},
	"miniprogrampage": {"title": nil, "pagepath": nil, "thumb_media_id": nil, "appid": nil},
}

// send answers POST /cgi-bin/message/custom/send.
func (s *Sim) send(c *call) reply { return s.sendMessage(c, false) }

// businessSend answers POST /cgi-bin/message/custom/business/send.
func (s *Sim) businessSend(c *call) reply { return s.sendMessage(c, true) }

// sendMessage checks a send call in this order: quota (45009, 45011),
// body (44002, 47001), businessid (40101, 47001), message (40008, 44004,
// 45002, 45003, 45004, 40101, 40007), user (40003), window (45015, 45047),
// then delivers it: the window's count goes down and typing ends.
func (s *Sim) sendMessage(c *call, business bool) reply {
	a := c.app
	minute, day := c.now.Truncate(time.Minute), dayStart(c.now)
	switch {
	case a.sendDay.full(day, s.dailyQ):
		return errReply(CodeDailyQuota)
	case a.sendMinute.full(minute, s.minuteQ):
		return errReply(CodeMinuteQuota)
	}
	a.sendDay.take(day, s.dailyQ)
	a.sendMinute.take(minute, s.minuteQ)

	var req sendRequest
	if code := decodeStrict(c.body, sendShape, &req); code != CodeOK {
		return errReply(code)
	}
	bid := "0"
	hasBID := len(req.BusinessID) > 0 && string(req.BusinessID) != "null"
	switch {
	case !business && hasBID:
		return errReply(CodeDataFormat) // not a field of this API
	case business && !hasBID:
		return errReply(CodeMissingParameter)
	case business:
		var ok bool
		if bid, ok = parseBID(req.BusinessID); !ok {
			return errReply(CodeDataFormat)
		}
		if bid == "0" {
			return errReply(CodeMissingParameter)
		}
	}
	if code := s.checkMessage(a, &req, c.now); code != CodeOK {
		return errReply(code)
	}
	if req.ToUser == "" || !a.users[req.ToUser] {
		return errReply(CodeInvalidOpenID)
	}
	cv := a.convs[convKey{bid, req.ToUser}]
	if code := cv.windowCode(c.now); code != CodeOK {
		return errReply(code)
	}
	cv.left--
	cv.typingUntil = time.Time{}
	a.delivered = append(a.delivered, Delivered{
		AppID: a.id, BusinessID: bid, OpenID: req.ToUser, MsgType: req.MsgType,
		Body: json.RawMessage(c.body), Time: c.now, Token: c.token, Path: c.r.URL.Path,
		Remote: c.r.RemoteAddr,
	})
	return reply{}
}

// checkMessage checks the message of a send body.
func (s *Sim) checkMessage(a *appState, req *sendRequest, now time.Time) int {
	switch req.MsgType {
	case msgText:
		switch {
		case req.Text == nil || req.Text.Content == "":
			return CodeEmptyContent
		case len(req.Text.Content) > maxTextBytes:
			return CodeContentTooLong
		}
	case msgImage:
		if req.Image == nil || req.Image.MediaID == "" {
			return CodeMissingParameter
		}
		return a.mediaCode(req.Image.MediaID, now)
	case msgLink:
		l := req.Link
		switch {
		case l == nil || l.Title == "" || l.URL == "":
			return CodeMissingParameter
		case len(l.Title) > maxLinkTitle:
			return CodeTitleTooLong
		case len(l.Description) > maxLinkDescription:
			return CodeDescTooLong
		}
	case msgMiniProgramPage:
		p := req.MiniProgramPage
		if p == nil || p.Title == "" || p.PagePath == "" || p.ThumbMediaID == "" {
			return CodeMissingParameter
		}
		return a.mediaCode(p.ThumbMediaID, now)
	default:
		return CodeInvalidMsgType
	}
	return CodeOK
}

// mediaCode returns 0 when id is a medium of a that has not expired at
// now, else 40007.
func (a *appState) mediaCode(id string, now time.Time) int {
	m := a.media[id]
	if m == nil || !m.valid(now) {
		return CodeInvalidMediaID
	}
	return CodeOK
}

// Typing commands (§7.4).
const (
	commandTyping       = "Typing"
	commandCancelTyping = "CancelTyping"
)

// typingRequest is the body of the typing APIs (§7.4).
type typingRequest struct {
	ToUser     string          `json:"touser"`
	Command    string          `json:"command"`
	BusinessID json.RawMessage `json:"businessid"`
}

var typingShape = shape{"touser": nil, "command": nil, "businessid": nil}

// typingCall answers the typing APIs (§7.4), checking in this order: body
// (44002, 47001), user (40003), command (45072), window open (45015), a
// user interaction in the last 30 s (45080), not typing already (45081).
// Typing lasts 15 s; CancelTyping or a send ends it.
func (s *Sim) typingCall(c *call) reply {
	a := c.app
	var req typingRequest
	if code := decodeStrict(c.body, typingShape, &req); code != CodeOK {
		return errReply(code)
	}
	bid := "0"
	if len(req.BusinessID) > 0 && string(req.BusinessID) != "null" {
		var ok bool
		if bid, ok = parseBID(req.BusinessID); !ok {
			return errReply(CodeDataFormat)
		}
	}
	switch {
	case req.ToUser == "" || !a.users[req.ToUser]:
		return errReply(CodeInvalidOpenID)
	case req.Command != commandTyping && req.Command != commandCancelTyping:
		return errReply(CodeInvalidCommand)
	}
	cv := a.convs[convKey{bid, req.ToUser}]
	switch {
	case cv == nil || !c.now.Before(cv.until):
		return errReply(CodeOutOfWindow)
	case cv.lastInteraction.IsZero() || c.now.Sub(cv.lastInteraction) > typingRecent:
		return errReply(CodeTypingNeedsMsg)
	case req.Command == commandTyping && c.now.Before(cv.typingUntil):
		return errReply(CodeAlreadyTyping)
	}
	if req.Command == commandTyping {
		cv.typingUntil = c.now.Add(typingLasts)
	} else {
		cv.typingUntil = time.Time{}
	}
	a.typing = append(a.typing, TypingCall{
		AppID: a.id, BusinessID: bid, OpenID: req.ToUser, Command: req.Command,
		Time: c.now, Token: c.token, Path: c.r.URL.Path,
		Remote: c.r.RemoteAddr,
	})
	return reply{}
}
