package wxsim

import (
	"strings"
	"time"
)

// WeChat's rules the [Sim] applies (wechat-protocol.md §7, §8).
const (
	// messageWindow and messageSends: a user message allows 5 sends
	// within 48 hours (§7.1).
	messageWindow = 48 * time.Hour
	messageSends  = 5
	// sessionWindow and sessionSends: entering the session allows 2 sends
	// within 1 minute (§7.1).
	sessionWindow = time.Minute
	sessionSends  = 2
	// typingRecent: typing needs a user interaction this recent (§7.4).
	typingRecent = 30 * time.Second
	// typingLasts: how long the typing state lasts (§7.4).
	typingLasts = 15 * time.Second
	// mediaLifetime: temporary media expire after 3 days (§8.3, §8.4).
	mediaLifetime = 72 * time.Hour
)

// appState is everything a [Sim] knows about one app. It is guarded by the
// Sim's mutex.
type appState struct {
	id, secret string

	classic    *token  // the latest classic token, nil before the first
	classicDay counter // classic tokens issued today

	stable       *token   // the current stable token, nil before the first
	stables      []*token // every stable token not yet expired or revoked
	lastForce    time.Time
	forceDay     counter // forced refreshes today
	stableMinute counter // stable_token calls this minute
	stableDay    counter // stable_token calls today

	sendMinute, sendDay counter // send calls this minute and today

	users     map[string]bool // openids that interacted with the app
	convs     map[convKey]*conv
	media     map[string]*media
	delivered []Delivered
	typing    []TypingCall

	mgmt *mgmtState // sub-merchants and kf accounts (sim_business.go, sim_kf.go)
}

func newAppState(id, secret string) *appState {
	return &appState{
		id:     id,
		secret: secret,
		users:  map[string]bool{},
		convs:  map[convKey]*conv{},
		media:  map[string]*media{},
		mgmt:   newMgmtState(),
	}
}

// convKey identifies a conversation of an app: the sub-merchant ("0" for
// the main account) and the user.
type convKey struct{ bid, openid string }

// conv is the state of one conversation.
type conv struct {
	// until ends the send window (zero: never opened); left is the number
	// of sends it still allows.
	until time.Time
	left  int
	// lastInteraction is the latest user message or enter-session event.
	lastInteraction time.Time
	// typingUntil ends the typing state (zero or past: not typing).
	typingUntil time.Time
}

// media is a temporary medium.
type media struct {
	id, contentType string
	data            []byte
	created         time.Time
}

// valid reports whether m has not expired at now.
func (m *media) valid(now time.Time) bool { return now.Before(m.created.Add(mediaLifetime)) }

// interaction kinds, as [Sim.RecordInteraction] classifies them.
const (
	kindOtherEvent = iota
	kindMessage
	kindEnterSession
)

// Push kinds as the push subjects and wxpush.Spec.Kind name them: a MsgType,
// user_enter_tempsession, or "event:<Event>".
const (
	pushKindEventPrefix  = "event:"
	pushKindEnterSession = "user_enter_tempsession"
	pushMsgTypeEvent     = "event"
)

// classify returns the interaction kind of a push kind.
func classify(kind string) int {
	name, isEvent := strings.CutPrefix(kind, pushKindEventPrefix)
	switch {
	case kind == pushKindEnterSession || isEvent && name == pushKindEnterSession:
		return kindEnterSession
	case isEvent || kind == pushMsgTypeEvent || kind == "":
		return kindOtherEvent
	}
	return kindMessage
}

// normBID returns bid with "" as "0".
func normBID(bid string) string {
	if bid == "" {
		return "0"
	}
	return bid
}

// conv returns the conversation (bid, openid), creating it.
func (a *appState) conv(bid, openid string) *conv {
	k := convKey{bid, openid}
	c := a.convs[k]
	if c == nil {
		c = &conv{}
		a.convs[k] = c
	}
	return c
}

// interact applies a user's push of kind at time at (§7.1): a message
// resets the window to 48 h and 5 sends; entering the session resets it to
// 1 minute and 2 sends unless the open window already lasts at least that
// minute and has sends left (the longer window is kept: counts never
// accumulate, and an enter-session does not shrink a message's window).
func (a *appState) interact(bid, openid, kind string, at time.Time) {
	a.users[openid] = true
	k := classify(kind)
	if k == kindOtherEvent {
		return
	}
	c := a.conv(bid, openid)
	if at.After(c.lastInteraction) {
		c.lastInteraction = at
	}
	switch k {
	case kindMessage:
		c.until, c.left = at.Add(messageWindow), messageSends
	case kindEnterSession:
		end := at.Add(sessionWindow)
		if c.until.After(at) && c.left > 0 && !c.until.Before(end) {
			return
		}
		c.until, c.left = end, sessionSends
	}
}

// windowCode returns 0 when the conversation's send window is open at now
// with sends left, else 45015 (closed or never opened) or 45047 (count
// used up).
func (c *conv) windowCode(now time.Time) int {
	switch {
	case c == nil || !now.Before(c.until):
		return CodeOutOfWindow
	case c.left <= 0:
		return CodeOutOfCount
	}
	return CodeOK
}

// Window is the state of a conversation's send window and typing, as
// [Sim.Window] reports it.
type Window struct {
	// Until ends the send window (zero: never opened); Left is the number
	// of sends it still allows.
	Until time.Time
	Left  int
	// LastInteraction is the latest user message or enter-session event.
	LastInteraction time.Time
	// TypingUntil ends the typing state (zero or past: not typing).
	TypingUntil time.Time
}

// Window returns the state of conversation (bid, openid) of app appid: the
// zero Window when it never had one (or the app is not simulated). It
// changes nothing.
func (s *Sim) Window(appid, bid, openid string) Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appid]
	if !ok {
		return Window{}
	}
	c := a.convs[convKey{normBID(bid), openid}]
	if c == nil {
		return Window{}
	}
	return Window{Until: c.until, Left: c.left, LastInteraction: c.lastInteraction, TypingUntil: c.typingUntil}
}
