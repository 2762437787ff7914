package wxcodec

import (
	"strconv"
	"strings"
	"testing"
)

// TestNameSetIsLinear counts the name comparisons of the duplicate check
// (the old check compared each attribute name with every earlier one: a
// 1 MiB start tag cost over a minute of CPU). Time itself is measured by
// BenchmarkAdversarial.
func TestNameSetIsLinear(t *testing.T) {
	for _, n := range []int{100, 10000, 100000} {
		var doc []byte
		var offs [][2]int
		for i := range n {
			a := len(doc)
			doc = strconv.AppendInt(append(doc, 'a'), int64(i), 36)
			offs = append(offs, [2]int{a, len(doc)})
		}
		var set nameSet[[]byte]
		for _, o := range offs {
			if !set.add(doc, o[0], o[1], false) {
				t.Fatalf("add(%q) = false for a new name", doc[o[0]:o[1]])
			}
		}
		for _, o := range offs {
			if set.add(doc, o[0], o[1], false) {
				t.Fatalf("add(%q) = true for a repeated name", doc[o[0]:o[1]])
			}
		}
		if limit := 2 * (len(set.first) + 1) * n; set.compared > limit {
			t.Errorf("%d names: %d comparisons, want at most %d", n, set.compared, limit)
		}
	}
}

func TestNameSetEscapes(t *testing.T) {
	doc := `"a","b","c","d","e","f","g","h","i","j","\u006a","\u0061","k"`
	var set nameSet[string]
	var got []bool
	for _, f := range strings.Split(doc, ",") {
		a := strings.Index(doc, f) + 1
		got = append(got, set.add(doc, a, a+len(f)-2, strings.Contains(f, `\`)))
	}
	want := []bool{true, true, true, true, true, true, true, true, true, true, false, false, true}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("add(name %d) = %v, want %v", i, got[i], want[i])
		}
	}
}
