package handover

import (
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/internal/config"
)

func TestRulesMatch(t *testing.T) {
	r, err := compileRules(config.HandoverRuleSet{
		Keywords: []string{"人工"}, Regexps: []string{`(?i)\bagents?\b`}, Business: []string{"42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		bid, text string
		want      bool
	}{
		{"0", "我要人工客服", true},
		{"0", "an AGENT please", true},
		{"0", "reagent", false},
		{"0", "hello", false},
		{"42", "", true}, // every message of a listed BusinessId, any kind
		{"7", "", false}, // a non-text message elsewhere
		{"0", strings.Repeat("x", maxMatchBytes) + "人工", false}, // past the matched prefix
	} {
		if got := r.match(tc.bid, tc.text); got != tc.want {
			t.Errorf("match(%q, %.20q…) = %v, want %v", tc.bid, tc.text, got, tc.want)
		}
	}
}
