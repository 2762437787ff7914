package egress

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// oldDataDigest is dataDigest as it was before digest.go: the canonical
// form read with encoding/json's Decoder.Token. The digests of running
// releases are stored in records; dataDigest must give the same for all
// data.
func oldDataDigest(data []byte) string {
	var buf bytes.Buffer
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if oldCanonical(dec, &buf, 0) == nil {
		if _, err := dec.Token(); err == io.EOF {
			data = buf.Bytes()
		}
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// oldCanonical writes the next JSON value of dec to buf in canonical form.
func oldCanonical(dec *json.Decoder, buf *bytes.Buffer, depth int) error {
	if depth > maxDigestDepth {
		return errors.New("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			buf.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := oldCanonical(dec, buf, depth+1); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
			_, err := dec.Token()
			return err
		}
		type member struct{ key, pair string }
		var members []member
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := json.Marshal(kt)
			var m bytes.Buffer
			m.Write(k)
			m.WriteByte(':')
			if err := oldCanonical(dec, &m, depth+1); err != nil {
				return err
			}
			members = append(members, member{string(k), m.String()})
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		// Sorted by key; a repeated key keeps its values' order.
		slices.SortStableFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
		buf.WriteByte('{')
		for i, m := range members {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(m.pair)
		}
		buf.WriteByte('}')
	case json.Number:
		buf.WriteString(v.String())
	default: // string, bool, nil
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

// nested is s inside n arrays or objects.
func nested(n int, open, close, s string) string {
	return strings.Repeat(open, n) + s + strings.Repeat(close, n)
}

// digestCases are data whose digest must not change: valid and invalid
// JSON, escapes, numbers, repeated keys, depth.
var digestCases = []string{
	``, ` `, `{}`, `[]`, `""`, `null`, `true`, `false`, `0`, `-0`, `1e5`, `1E+5`, `1.0`, `-1.5e-10`,
	`{"msgtype":"text","text":{"content":"hello"}}`,
	`{"touser":"oU","msgtype":"text","text":{"content":"你好\n世界 <b>&</b>"}}`,
	`{"msgtype":"msgmenu","msgmenu":{"head_content":"h","list":[{"type":"click","click":{"id":"1","content":"a"}}],"tail_content":"t"}}`,
	` { "b" : {"c":[1, 2]}, "a":1 } `, "\t{\r\n\"a\"\n:\t1}\n",
	`{"a":1,"a":2}`, `{"a":2,"a":1}`, `{"b":1,"a":2,"b":3,"a":4}`, `{"a":1,"ab":2,"a b":3,"a\"":4,"":5}`,
	`{"\u00e9":1,"é":2,"e":3,"z":4,"\ud83d\ude00":5,"<":6,"\u003c":7}`,
	`{"n":12345678901234567890}`, `{"n":9007199254740993}`, `[1,2.50,-0.0,1e-0,0e0,1E5]`,
	`"\u00e9"`, `"é"`, `"<>&"`, `"\u003c\u003e\u0026"`, "\"\u2028\u2029\"", `"\u2028\u2029"`,
	`"\b\f\n\r\t\"\\\/"`, `"\u0000\u001f\u007f\u0080"`, "\"\x7f\"", `"\ud800"`, `"\udc00"`, `"\ud800\udc00"`,
	`"\ud800\ud800"`, `"\ud800\u0041"`, `"\ud800x"`, `"\uDBFF\uDFFF"`, `"\ud800\\udc00"`, `"\ufffd"`, "\"\xef\xbf\xbd\"",
	"\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x80\xa8\"", "{\"\xff\":\"\xfe\"}",
	`"\'"`, `"\x41"`, `"\u12"`, `"\u12g4"`, `"\U0041"`, "\"a\tb\"", "\"a\nb\"", "\"\x00\"", `"abc`, `"\`, `"\"`,
	`01`, `-`, `-01`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `Infinity`, `1 2`, `{}{}`, `{} `, `{} x`, `[] ]`,
	`tru`, `truex`, `nul`, `nulll`, `True`, `[1,]`, `[,1]`, `[1 2]`, `[1}`, `{]`, `{"a"}`, `{"a":}`, `{"a":1,}`,
	`{,"a":1}`, `{"a" 1}`, `{"a"::1}`, `{1:2}`, `{a:1}`, `{"a":1"b":2}`, `{"a":1 "b":2}`, `[1true]`, `[1-2]`,
	`["a""b"]`, `{"a":[}`, `[`, `{`, `{"a":1`, `[1`, `[1,`, "\ufeff{}", "\v{}", "\f{}", "\u00a0{}", "{}\x00",
	`[0.5e]`, `[-]`, `[00]`, `[1.e1]`, `{"a":{"b":{"c":{}}},"A":[[],[{}]]}`,
	nested(64, "[", "]", ""), nested(65, "[", "]", ""), nested(66, "[", "]", ""), nested(64, "[", "]", "1"),
	nested(65, "[", "]", "1"), nested(63, `{"a":`, "}", "{}"), nested(64, `{"a":`, "}", "1"),
	nested(65, `{"a":`, "}", "1"), nested(65, `{"a":`, "}", "{}"), nested(64, `{"a":`, "}", "{}"), nested(70, "[", "]", ""),
	nested(70, "[", "", ""),
}

// TestDataDigestAsBefore: dataDigest gives the digests of the
// implementation it replaced.
func TestDataDigestAsBefore(t *testing.T) {
	for _, s := range digestCases {
		if got, want := dataDigest([]byte(s)), oldDataDigest([]byte(s)); got != want {
			t.Errorf("dataDigest(%q) = %s, was %s", s, got, want)
		}
	}
}

// TestDataDigestCanonical: command data is put in canonical form (not
// hashed as sent), without allocating more than the digest's string.
func TestDataDigestCanonical(t *testing.T) {
	for _, s := range []string{typicalData, `{"s":"a\nb\u00e9<"}`, `{"b":1,"a":[1,{"d":2,"c":3}]}`} {
		c := new(canonizer)
		c.data = []byte(s)
		if !c.value(0) || !c.end() {
			t.Errorf("%s not put in canonical form", s)
			continue
		}
		var want bytes.Buffer
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := oldCanonical(dec, &want, 0); err != nil || !bytes.Equal(c.buf, want.Bytes()) {
			t.Errorf("canonical form of %s is %s, want %s (%v)", s, c.buf, want.Bytes(), err)
		}
	}
	data := []byte(typicalData)
	if n := testing.AllocsPerRun(100, func() { dataDigest(data) }); n > 1 && !raceEnabled {
		t.Errorf("dataDigest allocates %v times, want at most 1", n)
	}
}

// typicalData is the data of a text command.
const typicalData = `{"msgtype":"text","text":{"content":"hello"}}`

func FuzzDataDigest(f *testing.F) {
	for _, s := range digestCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := dataDigest(data), oldDataDigest(data); got != want {
			t.Errorf("dataDigest(%q) = %s, was %s", data, got, want)
		}
	})
}

func BenchmarkDataDigest(b *testing.B) {
	data := []byte(typicalData)
	b.Run("old", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			oldDataDigest(data)
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dataDigest(data)
		}
	})
}
