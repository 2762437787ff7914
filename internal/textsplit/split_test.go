package textsplit

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	link := `<a href="http://www.qq.com" data-miniprogram-appid="wx0123456789abcdef" data-miniprogram-path="pages/index/index">打开</a>`
	tests := []struct {
		name  string
		s     string
		limit int
		want  []string
	}{
		{name: "fits", s: "hello", limit: 16, want: []string{"hello"}},
		{name: "exactly the limit", s: strings.Repeat("好", 6), limit: 18, want: []string{strings.Repeat("好", 6)}},
		{name: "paragraph before line", s: "aaaaaaaaaa\n\nbbbb\ncccccccccc", limit: 20,
			want: []string{"aaaaaaaaaa\n\n", "bbbb\ncccccccccc"}},
		{name: "line before sentence", s: "aaaaaaaa. bbbb\ncc. dddddddddddd", limit: 20,
			want: []string{"aaaaaaaa. bbbb\n", "cc. dddddddddddd"}},
		{name: "a short paragraph is not taken", s: "aa\n\nbbbbbbbbb. ccccccccccccc", limit: 20,
			want: []string{"aa\n\nbbbbbbbbb. ", "ccccccccccccc"}},
		{name: "chinese sentences", s: "一二三四。五六七八！九十", limit: 20,
			want: []string{"一二三四。", "五六七八！", "九十"}},
		{name: "closing quote goes with its sentence", s: "他说：“好的。”然后走了很远", limit: 24,
			want: []string{"他说：“好的。”", "然后走了很远"}},
		{name: "no sentence end inside a number", s: "pi is 3.14159265358979 ok", limit: 20,
			want: []string{"pi is 3.141592653589", "79 ok"}},
		{name: "rune boundary", s: strings.Repeat("好", 10), limit: 16,
			want: []string{strings.Repeat("好", 5), strings.Repeat("好", 5)}},
		{name: "link moves whole", s: "0123456789" + `<a href="x">l</a>` + "ta", limit: 20,
			want: []string{"0123456789", `<a href="x">l</a>ta`}},
		{name: "link text holds no cut", s: "x" + `<a href="y">a. b. c. d. e.</a>` + ". zz", limit: 34,
			want: []string{"x" + `<a href="y">a. b. c. d. e.</a>` + ". ", "zz"}},
		{name: "unclosed tag is text", s: "<a href=\"x\" aaaaaaaaaaaaaaaaaaaa", limit: 16,
			want: []string{`<a href="x" `, "aaaaaaaaaaaaaaaa", "aaaa"}},
		{name: "clause", s: "一二三四五，六七八九十", limit: 20,
			want: []string{"一二三四五，", "六七八九十"}},
		{name: "word", s: "hello world again and again", limit: 16,
			want: []string{"hello world ", "again and again"}},
		{name: "accent stays on its letter", s: "aaaaaaaaaaaaaaae\u0301\u0301bb", limit: 17,
			want: []string{"aaaaaaaaaaaaaaa", "e\u0301\u0301bb"}},
		{name: "emoji sequence stays whole", s: "aaaaaaaaaaaaa👩\u200d💻xx", limit: 20,
			want: []string{"aaaaaaaaaaaaa", "👩\u200d💻xx"}},
		{name: "skin tone stays on its emoji", s: "aaaaaaaaaaaaaa👍🏽", limit: 18,
			want: []string{"aaaaaaaaaaaaaa", "👍🏽"}},
		{name: "upper-case link", s: "aaa" + `<A HREF="x">yy</A>` + "bb", limit: 20,
			want: []string{"aaa", `<A HREF="x">yy</A>bb`}},
		{name: "mini-program link", s: strings.Repeat("字", 30) + link + strings.Repeat("字", 30), limit: 200,
			want: []string{strings.Repeat("字", 30), link + strings.Repeat("字", (200-len(link))/3), strings.Repeat("字", 30-(200-len(link))/3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.s, tt.limit)
			if err != nil {
				t.Fatalf("Split(%q, %d): %v", tt.s, tt.limit, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Split(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
			}
			checkParts(t, tt.s, tt.limit, got)
		})
	}
}

func TestSplitErrors(t *testing.T) {
	long := `<a href="x">` + strings.Repeat("y", 30) + `</a>`
	tests := []struct {
		name  string
		s     string
		limit int
		want  error
	}{
		{name: "link longer than the limit", s: "ab " + long, limit: 32, want: ErrLinkTooLong},
		{name: "link alone", s: long, limit: 40, want: ErrLinkTooLong},
		{name: "limit too small", s: "abc", limit: 3, want: ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.s, tt.limit)
			if !errors.Is(err, tt.want) {
				t.Errorf("Split(%q, %d) = %q, %v, want %v", tt.s, tt.limit, got, err, tt.want)
			}
			if got != nil {
				t.Errorf("Split(%q, %d) returned parts %q with its error", tt.s, tt.limit, got)
			}
		})
	}
}

// TestFiveThousandBytesOfChinese: the case, 5000 bytes of Chinese
// sentences at WeChat's 2048, is three parts.
func TestFiveThousandBytesOfChinese(t *testing.T) {
	s := chinese(5000)
	parts, err := Split(s, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Errorf("Split(5000 bytes, 2048) = %d parts (%d, …), want 3", len(parts), len(parts[0]))
	}
	checkParts(t, s, 2048, parts)
	if n, err := Count(s, 2048); n != len(parts) || err != nil {
		t.Errorf("Count = %d, %v, want %d", n, err, len(parts))
	}
}

// chinese returns n bytes of Chinese sentences (3 bytes a character).
func chinese(n int) string {
	var b strings.Builder
	sentence := "这是一个用来测试长消息拆分的中文句子，"
	for i := 0; b.Len() < n-3; i++ {
		r := []rune(sentence)[i%len([]rune(sentence))]
		if i%23 == 22 {
			r = '。'
		}
		b.WriteRune(r)
	}
	for b.Len() < n {
		b.WriteByte('.')
	}
	return b.String()
}

// checkParts checks the invariants of a split: the parts concatenate to s,
// none is empty or over limit, each is valid UTF-8 when s is, no cut lies
// inside a link, and splitting the rest after any part gives the parts
// that follow it.
func checkParts(t testing.TB, s string, limit int, parts []string) {
	t.Helper()
	if got := strings.Join(parts, ""); got != s {
		t.Fatalf("parts concatenate to %q, want %q", got, s)
	}
	links := findLinks(s)
	off := 0
	for i, p := range parts {
		if (len(p) == 0 && s != "") || len(p) > limit {
			t.Errorf("part %d is %d bytes, want 1 to %d", i, len(p), limit)
		}
		if utf8.ValidString(s) && !utf8.ValidString(p) {
			t.Errorf("part %d %q is not valid UTF-8", i, p)
		}
		if off > 0 && (len(parts) <= 32 || i%(len(parts)/8) == 0) { // a sample of long splits
			for _, l := range links {
				if l.start < off && off < l.end {
					t.Errorf("cut at %d inside the link at %d–%d", off, l.start, l.end)
				}
			}
			rest, err := Split(s[off:], limit)
			if err != nil || !slices.Equal(rest, parts[i:]) {
				t.Errorf("Split(rest after part %d) = %q, %v, want %q", i-1, rest, err, parts[i:])
			}
		}
		off += len(p)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("hello world. this is a test\n\nof paragraphs\nand lines", 16)
	f.Add(chinese(300), 64)
	f.Add("x <a href=\"y\">link text. more</a> after. and so on and on and on", 20)
	f.Add("<a >"+strings.Repeat("é", 40)+"</a>", 30)
	f.Add("\xff\xfe\x80\x80\x80\x80 invalid"+strings.Repeat("\x80", 40), 16)
	f.Add("“好。”“好。”“好。”“好。”“好。”“好。”", 17)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < MinLimit || limit > 4096 || len(s) > 1<<16 {
			t.Skip()
		}
		parts, err := Split(s, limit)
		longest := 0
		for _, l := range findLinks(s) {
			longest = max(longest, l.end-l.start)
		}
		if err != nil {
			if !errors.Is(err, ErrLinkTooLong) || longest <= limit {
				t.Fatalf("Split(%q, %d): %v (longest link %d)", s, limit, err, longest)
			}
			return
		}
		if longest > limit {
			t.Fatalf("Split(%q, %d) took a link of %d bytes", s, limit, longest)
		}
		checkParts(t, s, limit, parts)
	})
}

func BenchmarkSplit(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    string
	}{
		{"chinese-5000", chinese(5000)},
		{"chinese-64KiB", chinese(64 << 10)},
		{"links-64KiB", strings.Repeat(`ab <a href="x">c</a>`, 64<<10/20)},
		{"one-line-ascii-64KiB", strings.Repeat("a", 64<<10)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.s)))
			for b.Loop() {
				if _, err := Split(bc.s, 2048); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
