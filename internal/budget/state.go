package budget

import (
	"slices"
	"time"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// WeChat's send windows (wechat-protocol.md §7.1) and typing rules (§7.4).
const (
	// MessageWindow and MessageSends: a user message allows 5 sends within
	// 48 hours of its CreateTime.
	MessageWindow = 48 * time.Hour
	MessageSends  = 5
	// SessionWindow and SessionSends: entering the session allows 2 sends
	// within 1 minute.
	SessionWindow = time.Minute
	SessionSends  = 2
	// TypingRecent: typing needs a user message or session entry this
	// recent (else 45080).
	TypingRecent = 30 * time.Second
	// TypingLasts: how long the typing state lasts (a Typing inside it is
	// 45081).
	TypingLasts = 15 * time.Second
)

// WeChat's errcodes the budget predicts.
const (
	CodeOutOfWindow    = 45015 // the send window is closed (or was never opened)
	CodeOutOfCount     = 45047 // the window's sends are used up
	CodeTypingNeedsMsg = 45080 // typing without a user interaction in the last 30 s
	CodeAlreadyTyping  = 45081 // typing while the typing state lasts
)

// Typing commands.
const (
	commandTyping = "Typing"
)

// maxIDs bounds the ids of triggers kept for one instant (see [State.IDs]).
const maxIDs = 8

// State is one conversation's budget as stored in the bucket: the send
// window and what typing needs. Its rules are WeChat's as
// internal/wxsim applies them (the package documentation states them).
type State struct {
	// Remaining is the number of sends the window still allows.
	Remaining int `json:"remaining"`
	// ExpiresAt ends the window (zero: never opened).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Trigger is the kind of the push that opened the window:
	// events.TriggerMessage or events.TriggerEnterSession.
	Trigger string `json:"trigger,omitempty"`
	// At is the time (CreateTime) of the latest trigger applied, and IDs
	// the event ids of the triggers applied at At: a push at At with one
	// of these ids (WeChat's retry) or older than At (out of order) is not
	// applied again.
	At  time.Time `json:"at,omitzero"`
	IDs []string  `json:"ids,omitempty"`
	// Interaction is the latest user message or session entry, which
	// typing needs within [TypingRecent].
	Interaction time.Time `json:"interaction,omitzero"`
	// TypingUntil ends the typing state (zero or past: not typing).
	TypingUntil time.Time `json:"typing_until,omitzero"`
}

// clone returns a copy of s that shares nothing with it.
func (s State) clone() State {
	s.IDs = slices.Clone(s.IDs)
	return s
}

// Budget returns s as bots see it at now: what is left, and until when;
// nothing is left once the window closed.
func (s State) Budget(now time.Time) events.ReplyBudget {
	b := events.ReplyBudget{Remaining: s.Remaining, ExpiresAt: s.ExpiresAt.UTC()}
	if !now.Before(s.ExpiresAt) || b.Remaining < 0 {
		b.Remaining = 0
	}
	return b
}

// Granted returns the budget a push granted, with its trigger.
func (s State) Granted(now time.Time) events.ReplyBudget {
	b := s.Budget(now)
	b.Trigger = s.Trigger
	return b
}

// grant applies a push of trigger kind (events.TriggerMessage or
// events.TriggerEnterSession) with event id id at time at, as
// wxsim's interact does: a message resets the window to 48 h and 5 sends
// from at; entering the session resets it to 1 minute and 2 sends unless
// the open window already lasts at least that minute and has sends left.
// A push that is not newer than the latest one applied and was applied
// already (a retry), or older than it, changes nothing. It reports whether
// s changed.
func (s *State) grant(kind string, at time.Time, id string) bool {
	if at.Before(s.At) || at.Equal(s.At) && slices.Contains(s.IDs, id) {
		return false
	}
	if at.After(s.Interaction) {
		s.Interaction = at
	}
	switch kind {
	case events.TriggerMessage:
		s.ExpiresAt, s.Remaining, s.Trigger = at.Add(MessageWindow), MessageSends, kind
	case events.TriggerEnterSession:
		end := at.Add(SessionWindow)
		if !(s.ExpiresAt.After(at) && s.Remaining > 0 && !s.ExpiresAt.Before(end)) {
			s.ExpiresAt, s.Remaining, s.Trigger = end, SessionSends, kind
		}
	}
	if at.Equal(s.At) {
		if len(s.IDs) >= maxIDs {
			s.IDs = s.IDs[1:]
		}
		s.IDs = append(s.IDs, id)
	} else {
		s.At, s.IDs = at, []string{id}
	}
	return true
}

// sendCode is WeChat's answer to a send at now as far as the window goes:
// 0, 45015 (closed or never opened) or 45047 (used up).
func (s *State) sendCode(now time.Time) int {
	switch {
	case !now.Before(s.ExpiresAt):
		return CodeOutOfWindow
	case s.Remaining <= 0:
		return CodeOutOfCount
	}
	return 0
}

// take spends one send at now, which also ends typing.
func (s *State) take() {
	s.Remaining--
	s.TypingUntil = time.Time{}
}

// typingCode is WeChat's answer to a typing command at now as far as the
// budget goes: 0, 45015, 45080 or 45081 (wxsim's typingCall).
func (s *State) typingCode(command string, now time.Time) int {
	switch {
	case !now.Before(s.ExpiresAt):
		return CodeOutOfWindow
	case s.Interaction.IsZero() || now.Sub(s.Interaction) > TypingRecent:
		return CodeTypingNeedsMsg
	case command == commandTyping && now.Before(s.TypingUntil):
		return CodeAlreadyTyping
	}
	return 0
}

// typed records a typing command WeChat accepted at now.
func (s *State) typed(command string, now time.Time) {
	if command == commandTyping {
		s.TypingUntil = now.Add(TypingLasts)
	} else {
		s.TypingUntil = time.Time{}
	}
}
