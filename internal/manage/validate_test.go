package manage

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/schemas"
)

// TestNicknameRuleAgrees proves the JSON Schema's nickname pattern and the
// Go rule accept the same characters, and that schema plus width check is
// exactly WeChat's rule.
func TestNicknameRuleAgrees(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	schemaOK := func(nick string) bool {
		doc, _ := json.Marshal(map[string]any{"account_name": "apple_shop", "nickname": nick, "icon_media_id": "m"})
		return v.Validate(schemas.APIBusinessRegisterRequest, doc) == nil
	}
	// Every rune at and around the edges of the allowed ranges, and a
	// sample of all others.
	var runes []rune
	for _, edge := range []rune{'0', '9', 'A', 'Z', 'a', 'z', 0x3400, 0x4DBF, 0x4E00, 0x9FFF, 0xF900, 0xFAFF} {
		runes = append(runes, edge-1, edge, edge+1)
	}
	for r := rune(0); r < 0x30000; r += 89 {
		if r < 0xD800 || r > 0xDFFF {
			runes = append(runes, r)
		}
	}
	for _, r := range runes {
		nick := "ab" + string(r) + "cd" // width ≥ 4 either way
		_, goOK := nicknameWidth(nick)
		if got := schemaOK(nick); got != goOK {
			t.Errorf("U+%04X: schema accepts %v, Go rule %v", r, got, goOK)
		}
	}
	// Widths: the schema bounds characters (2–30), Go weighs them.
	for _, tt := range []struct {
		nick string
		want bool // WeChat's rule
	}{
		{"abcd", true}, {"abc", false}, {"苹果", true}, {"苹", false}, {"苹a", false}, {"苹ab", true},
		{strings.Repeat("a", 30), true}, {strings.Repeat("a", 31), false},
		{strings.Repeat("苹", 15), true}, {strings.Repeat("苹", 16), false}, {strings.Repeat("苹", 15) + "a", false},
		{"", false}, {"ab cd", false}, {"ab_cd", false},
	} {
		got := schemaOK(tt.nick) && checkNickname(tt.nick) == nil
		if got != tt.want {
			t.Errorf("nickname %q: schema+Go = %v, want %v", tt.nick, got, tt.want)
		}
	}
}

// TestAccountNameSchema checks the account_name pattern against the rule
// written out.
func TestAccountNameSchema(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	rule := func(s string) bool {
		if len(s) < 6 || len(s) > 30 {
			return false
		}
		for _, c := range s {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
				return false
			}
		}
		return true
	}
	for _, name := range []string{"abcdef", "abcde", "ABC_12", strings.Repeat("x", 30), strings.Repeat("x", 31), "abc-def", "abc def", "abcdé1", "苹果苹果苹果", "abcdef\n"} {
		doc, _ := json.Marshal(map[string]any{"account_name": name})
		if got := v.Validate(schemas.APIBusinessGetRequest, doc) == nil; got != rule(name) {
			t.Errorf("account_name %q: schema %v, rule %v", name, got, rule(name))
		}
	}
}
