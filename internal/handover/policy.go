package handover

import (
	"regexp"
	"strings"

	"github.com/kfbridge/kfbridge/internal/config"
)

// maxMatchBytes bounds the text the rules look at: a push body is at most
// ingress.max_body_bytes, and RE2 is linear, but a handover keyword is at
// the start of what a user writes, not 1 MiB in.
const maxMatchBytes = 8 << 10

// rules is the compiled rule set of an app.
type rules struct {
	keywords []string
	regexps  []*regexp.Regexp
	business map[string]bool
}

func compileRules(r config.HandoverRuleSet) (*rules, error) {
	out := &rules{keywords: r.Keywords, business: map[string]bool{}}
	for _, s := range r.Regexps {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, err
		}
		out.regexps = append(out.regexps, re)
	}
	for _, b := range r.Business {
		out.business[b] = true
	}
	return out, nil
}

// match reports whether a message of bid with text (empty for non-text
// messages) is handed over.
func (r *rules) match(bid, text string) bool {
	if r.business[bid] {
		return true
	}
	if text == "" {
		return false
	}
	if len(text) > maxMatchBytes {
		text = text[:maxMatchBytes]
	}
	for _, k := range r.keywords {
		if strings.Contains(text, k) {
			return true
		}
	}
	for _, re := range r.regexps {
		if re.MatchString(text) {
			return true
		}
	}
	return false
}
