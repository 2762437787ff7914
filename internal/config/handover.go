package config

import (
	"regexp"
	"time"
)

// Handover modes of an app ([Handover.Mode]).
const (
	// HandoverNever keeps every message with the bots (default).
	HandoverNever = "never"
	// HandoverAlways hands every user message to human agents, as
	// passive_reply: transfer_customer_service does.
	HandoverAlways = "always"
	// HandoverRules hands over the messages [HandoverRuleSet] match.
	HandoverRules = "rules"
	// HandoverBot asks a bot per message on wxkf.decide.<appid>.<bid>.<openid>.
	HandoverBot = "bot"
)

// Bounds of the handover settings: the whole answer to WeChat (publish,
// decision, reply) must stay far below WeChat's 5 s.
const (
	DefaultHandoverDeadline = 1500 * time.Millisecond
	MinHandoverDeadline     = 10 * time.Millisecond
	MaxHandoverDeadline     = 2 * time.Second
	// MaxHandoverPatterns bounds keywords and regexps of one rule set.
	MaxHandoverPatterns = 64
	// MaxHandoverPatternLen bounds each keyword and regexp, in bytes.
	MaxHandoverPatternLen = 256
)

// Handover decides which user messages the ingress hands to WeChat's human
// customer-service agents (passive reply transfer_customer_service).
// Events are never handed over.
type Handover struct {
	// Mode is never (default), always, rules or bot.
	Mode string `yaml:"mode"`
	// Deadline bounds the wait for a bot's decision in mode bot, counted
	// from the push's publish. Default 1.5s, allowed 10ms to 2s.
	Deadline time.Duration `yaml:"deadline"`
	// Rules are the matches of mode rules.
	Rules HandoverRuleSet `yaml:"rules"`
	// Business overrides Mode for sub-merchant sessions: BusinessId ("0"
	// for the main account) → mode.
	Business map[string]string `yaml:"business"`
}

// HandoverRuleSet hands over a text message whose content contains one of
// Keywords or matches one of Regexps (RE2 syntax), and every message of
// the BusinessIds in Business.
type HandoverRuleSet struct {
	Keywords []string `yaml:"keywords"`
	Regexps  []string `yaml:"regexps"`
	Business []string `yaml:"business"`
}

// HandoverMode returns the mode of the app's messages in sub-merchant
// session bid: the override, handover.mode, always for passive_reply:
// transfer_customer_service, else never.
func (a App) HandoverMode(bid string) string {
	if m, ok := a.Handover.Business[bid]; ok {
		return m
	}
	return a.defaultHandoverMode()
}

func (a App) defaultHandoverMode() string {
	switch {
	case a.Handover.Mode != "":
		return a.Handover.Mode
	case a.PassiveReply == ReplyTransfer:
		return HandoverAlways
	default:
		return HandoverNever
	}
}

// HandoverUsed reports whether any message of the app may be handed over
// (some mode other than never): only then does the ingress track
// conversations.
func (a App) HandoverUsed() bool {
	if a.defaultHandoverMode() != HandoverNever {
		return true
	}
	for _, m := range a.Handover.Business {
		if m != HandoverNever {
			return true
		}
	}
	return false
}

// HandoverTracked reports whether the app decides handovers by rules or a
// bot for some BusinessId: only those record conversations (mode always
// hands everything over, statelessly).
func (a App) HandoverTracked() bool {
	if m := a.defaultHandoverMode(); m == HandoverRules || m == HandoverBot {
		return true
	}
	for _, m := range a.Handover.Business {
		if m == HandoverRules || m == HandoverBot {
			return true
		}
	}
	return false
}

// HandoverDeadline returns handover.deadline or its default.
func (a App) HandoverDeadline() time.Duration {
	if a.Handover.Deadline == 0 {
		return DefaultHandoverDeadline
	}
	return a.Handover.Deadline
}

func validMode(m string) bool {
	switch m {
	case HandoverNever, HandoverAlways, HandoverRules, HandoverBot:
		return true
	}
	return false
}

// validateHandover reports the problems of app i's handover settings.
func validateHandover(i int, a App, bad func(format string, args ...any)) {
	h := a.Handover
	if h.Mode != "" && !validMode(h.Mode) {
		bad("apps[%d].handover.mode %q: want never, always, rules or bot", i, h.Mode)
	}
	if a.PassiveReply == ReplyTransfer && h.Mode != "" && h.Mode != HandoverAlways {
		bad("apps[%d]: passive_reply transfer_customer_service means handover.mode always, not %s: set only handover.mode", i, h.Mode)
	}
	if h.Deadline != 0 && (h.Deadline < MinHandoverDeadline || h.Deadline > MaxHandoverDeadline) {
		bad("apps[%d].handover.deadline %s: want %s to %s", i, h.Deadline, MinHandoverDeadline, MaxHandoverDeadline)
	}
	rules := h.Mode == HandoverRules
	for bid, m := range h.Business {
		if !tokenPattern.MatchString(bid) {
			bad("apps[%d].handover.business: %q is not a BusinessId ([A-Za-z0-9_-]+)", i, bid)
		}
		if !validMode(m) {
			bad("apps[%d].handover.business[%s] %q: want never, always, rules or bot", i, bid, m)
		}
		rules = rules || m == HandoverRules
	}
	r := h.Rules
	empty := len(r.Keywords) == 0 && len(r.Regexps) == 0 && len(r.Business) == 0
	if rules && empty {
		bad("apps[%d].handover: mode rules needs handover.rules (keywords, regexps or business)", i)
	}
	if !rules && !empty {
		bad("apps[%d].handover.rules: set, but no mode is rules", i)
	}
	if len(r.Keywords)+len(r.Regexps) > MaxHandoverPatterns {
		bad("apps[%d].handover.rules: %d keywords and regexps, want at most %d", i, len(r.Keywords)+len(r.Regexps), MaxHandoverPatterns)
	}
	for j, k := range r.Keywords {
		if k == "" || len(k) > MaxHandoverPatternLen {
			bad("apps[%d].handover.rules.keywords[%d]: want 1 to %d bytes", i, j, MaxHandoverPatternLen)
		}
	}
	for j, re := range r.Regexps {
		if len(re) == 0 || len(re) > MaxHandoverPatternLen {
			bad("apps[%d].handover.rules.regexps[%d]: want 1 to %d bytes", i, j, MaxHandoverPatternLen)
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			bad("apps[%d].handover.rules.regexps[%d]: %v", i, j, err)
		}
	}
	for j, bid := range r.Business {
		if !tokenPattern.MatchString(bid) {
			bad("apps[%d].handover.rules.business[%d] %q: want [A-Za-z0-9_-]+", i, j, bid)
		}
	}
}
