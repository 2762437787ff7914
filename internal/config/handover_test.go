package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHandoverValidate(t *testing.T) {
	base := func(mut func(*App)) *Config {
		c := Default()
		a := App{AppID: "wx1", Token: "t"}
		mut(&a)
		c.Apps = []App{a}
		return &c
	}
	for _, tc := range []struct {
		name string
		mut  func(*App)
		want string // "" = valid
	}{
		{"default never", func(*App) {}, ""},
		{"bot with deadline", func(a *App) { a.Handover = Handover{Mode: HandoverBot, Deadline: 300 * time.Millisecond} }, ""},
		{"rules", func(a *App) {
			a.Handover = Handover{Mode: HandoverRules, Rules: HandoverRuleSet{Keywords: []string{"人工"}, Regexps: []string{`(?i)\bagent\b`}, Business: []string{"7"}}}
		}, ""},
		{"passive reply transfer alone", func(a *App) { a.PassiveReply = ReplyTransfer }, ""},
		{"passive reply with always", func(a *App) { a.PassiveReply = ReplyTransfer; a.Handover.Mode = HandoverAlways }, ""},
		{"passive reply with bot", func(a *App) { a.PassiveReply = ReplyTransfer; a.Handover.Mode = HandoverBot }, "means handover.mode always"},
		{"unknown mode", func(a *App) { a.Handover.Mode = "sometimes" }, "handover.mode"},
		{"deadline too long", func(a *App) { a.Handover = Handover{Mode: HandoverBot, Deadline: 3 * time.Second} }, "handover.deadline"},
		{"deadline too short", func(a *App) { a.Handover = Handover{Mode: HandoverBot, Deadline: time.Millisecond} }, "handover.deadline"},
		{"rules mode without rules", func(a *App) { a.Handover.Mode = HandoverRules }, "needs handover.rules"},
		{"rules without rules mode", func(a *App) { a.Handover.Rules.Keywords = []string{"x"} }, "no mode is rules"},
		{"bad regexp", func(a *App) {
			a.Handover = Handover{Mode: HandoverRules, Rules: HandoverRuleSet{Regexps: []string{"(a"}}}
		}, "regexps[0]"},
		{"huge regexp", func(a *App) {
			a.Handover = Handover{Mode: HandoverRules, Rules: HandoverRuleSet{Regexps: []string{strings.Repeat("a", 300)}}}
		}, "regexps[0]"},
		{"bad business override", func(a *App) { a.Handover.Business = map[string]string{"7": "maybe"} }, "business[7]"},
		{"bad business token", func(a *App) { a.Handover.Business = map[string]string{"a.b": HandoverBot} }, "not a BusinessId"},
		{"rules in an override", func(a *App) {
			a.Handover = Handover{Business: map[string]string{"7": HandoverRules}, Rules: HandoverRuleSet{Keywords: []string{"x"}}}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := base(tc.mut).Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error naming %q", err, tc.want)
			case err != nil && !errors.Is(err, ErrInvalid):
				t.Errorf("Validate() = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestHandoverMode(t *testing.T) {
	a := App{PassiveReply: ReplyTransfer}
	if m := a.HandoverMode("0"); m != HandoverAlways || !a.HandoverUsed() {
		t.Errorf("passive_reply transfer: mode %q, used %v; want always, true", m, a.HandoverUsed())
	}
	a = App{Handover: Handover{Business: map[string]string{"7": HandoverBot}}}
	if a.HandoverMode("0") != HandoverNever || a.HandoverMode("7") != HandoverBot || !a.HandoverUsed() {
		t.Errorf("override: modes %q/%q", a.HandoverMode("0"), a.HandoverMode("7"))
	}
	if (App{}).HandoverUsed() || (App{}).HandoverDeadline() != DefaultHandoverDeadline {
		t.Error("zero app: want handover unused and the default deadline")
	}
}
