package wxcodec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/messages and testdata/api.txt")

// goldenInputs returns the message inputs of the golden tests.
func goldenInputs(tb testing.TB) []string {
	tb.Helper()
	var files []string
	for _, pat := range []string{"testdata/messages/*.xml", "testdata/messages/*.json"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		tb.Fatal("no golden inputs")
	}
	return files
}

// renderGolden describes what the package makes of body: the parsed
// message and its re-encoding in both formats.
func renderGolden(body []byte) []byte {
	var out bytes.Buffer
	out.WriteString("# ParseMessage\n")
	m, err := ParseMessage(body)
	if err != nil {
		out.WriteString("error: " + err.Error() + "\n")
		return out.Bytes()
	}
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		out.WriteString("marshal error: " + err.Error() + "\n")
	}
	for _, f := range []Format{FormatXML, FormatJSON} {
		out.WriteString("# EncodeMessage " + f.String() + "\n")
		enc, err := EncodeMessage(f, m)
		if err != nil {
			out.WriteString("error: " + err.Error() + "\n")
			continue
		}
		out.Write(enc)
		out.WriteString("\n")
	}
	return out.Bytes()
}

func TestGolden(t *testing.T) {
	for _, in := range goldenInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := renderGolden(body)
			golden := in + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("ParseMessage(%q) output differs from %s:\ngot:\n%s\nwant:\n%s", body, golden, got, want)
			}
		})
	}
}
