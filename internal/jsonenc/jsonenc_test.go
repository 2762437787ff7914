package jsonenc

import (
	"encoding/json"
	"testing"
)

var stringSeeds = []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\x7f", "\n\r\t", "<>&",
	"中文 emoji 😀", "\u2028\u2029", "bad \xff\xfe utf8", "\xed\xa0\x80 surrogate", "end\xc3"}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("AppendString(%q) = %s: not valid JSON", s, got)
		}
		var back, want string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Fatalf("AppendString(%q) decodes to %q, encoding/json to %q", s, back, want)
		}
	})
}
