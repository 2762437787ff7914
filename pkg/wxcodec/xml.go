package wxcodec

import "unicode/utf8"

// maxXMLDepth bounds the nesting of XML elements (the root is depth 1).
const maxXMLDepth = 32

// xmlElem describes one element found by the XML scanner. All offsets are
// into the scanned document.
type xmlElem struct {
	ns, ne int  // name
	start  int  // offset of '<'
	cs, ce int  // content, between the start and end tags
	kids   bool // has child elements
	attrs  bool // has attributes
	simple bool // the element's text is doc[ts:te] verbatim (no decoding)
	ts, te int
}

// xmlScanner is a minimal, validating XML scanner over a string or byte
// slice: declaration, comments, processing instructions, CDATA, the five
// predefined entities and character references, self-closing elements.
// DOCTYPE (and so entity declarations) is rejected.
type xmlScanner[T string | []byte] struct {
	s T
	i int
}

// scanXML validates the document s and appends its root's child elements
// to dst. The root element may have any name; its attributes are ignored.
func scanXML[T string | []byte](s T, dst []xmlElem) ([]xmlElem, error) {
	x := xmlScanner[T]{s: s, i: skipBOM(s)}
	if err := x.misc(false); err != nil {
		return nil, err
	}
	root, self, err := x.startTag(nil)
	if err != nil {
		return nil, err
	}
	if !self {
		if dst, err = x.rootContent(&root, dst); err != nil {
			return nil, err
		}
	}
	if err := x.misc(true); err != nil {
		return nil, err
	}
	return dst, nil
}

// misc skips white space, comments and processing instructions outside the
// root element. Before the root it stops at the root's start tag.
func (x *xmlScanner[T]) misc(afterRoot bool) error {
	s := x.s
	for {
		for x.i < len(s) && isXMLSpace(s[x.i]) {
			x.i++
		}
		if x.i >= len(s) {
			if afterRoot {
				return nil
			}
			return syntaxErr("xml: no root element")
		}
		if s[x.i] != '<' {
			return syntaxErr("xml: text outside the root element at offset %d", x.i)
		}
		switch {
		case hasPrefixAt(s, x.i, "<?"):
			if err := x.skipPast(x.i+2, "?>", "processing instruction"); err != nil {
				return err
			}
		case hasPrefixAt(s, x.i, "<!--"):
			if err := x.skipPast(x.i+4, "-->", "comment"); err != nil {
				return err
			}
		case hasPrefixAt(s, x.i, "<!DOCTYPE"):
			return syntaxErr("xml: DOCTYPE is not allowed")
		case afterRoot:
			return syntaxErr("xml: data after the root element at offset %d", x.i)
		case x.i+1 < len(s) && isNameStart(s[x.i+1]):
			return nil
		default:
			return syntaxErr("xml: unexpected markup at offset %d", x.i)
		}
	}
}

// skipPast moves past the first occurrence of end at or after from.
func (x *xmlScanner[T]) skipPast(from int, end, what string) error {
	k := indexAt(x.s, from, end)
	if k < 0 {
		return syntaxErr("xml: unterminated %s", what)
	}
	x.i = k + len(end)
	return nil
}

// name scans an XML name at x.i.
func (x *xmlScanner[T]) name() bool {
	s := x.s
	if x.i >= len(s) || !isNameStart(s[x.i]) {
		return false
	}
	x.i++
	for x.i < len(s) && isNameChar(s[x.i]) {
		x.i++
	}
	return true
}

func (x *xmlScanner[T]) space() {
	for x.i < len(x.s) && isXMLSpace(x.s[x.i]) {
		x.i++
	}
}

// startTag scans a start tag at x.i (which is '<'). When n is not nil the
// decoded attributes are stored in it.
func (x *xmlScanner[T]) startTag(n *xnode) (el xmlElem, selfClosing bool, err error) {
	s := x.s
	el.start = x.i
	x.i++
	el.ns = x.i
	if !x.name() {
		return el, false, syntaxErr("xml: invalid element name at offset %d", el.ns)
	}
	el.ne = x.i
	var seen [8][2]int // attribute names, for the duplicate check
	nseen := 0
	var more [][2]int
	for {
		x.space()
		if x.i >= len(s) {
			return el, false, syntaxErr("xml: unexpected end of input in a start tag")
		}
		switch s[x.i] {
		case '>':
			x.i++
			el.cs = x.i
			return el, false, nil
		case '/':
			if x.i+1 < len(s) && s[x.i+1] == '>' {
				x.i += 2
				el.cs, el.ce = x.i, x.i
				el.simple = true
				el.ts, el.te = x.i, x.i
				return el, true, nil
			}
			return el, false, syntaxErr("xml: unexpected '/' in a start tag at offset %d", x.i)
		}
		an := x.i
		if !x.name() {
			return el, false, syntaxErr("xml: invalid attribute name at offset %d", an)
		}
		ane := x.i
		for _, p := range seen[:nseen] {
			if string(s[p[0]:p[1]]) == string(s[an:ane]) {
				return el, false, syntaxErr("xml: duplicate attribute %q", string(s[an:ane]))
			}
		}
		for _, p := range more {
			if string(s[p[0]:p[1]]) == string(s[an:ane]) {
				return el, false, syntaxErr("xml: duplicate attribute %q", string(s[an:ane]))
			}
		}
		x.space()
		if x.i >= len(s) || s[x.i] != '=' {
			return el, false, syntaxErr("xml: attribute without value at offset %d", an)
		}
		x.i++
		x.space()
		if x.i >= len(s) || (s[x.i] != '"' && s[x.i] != '\'') {
			return el, false, syntaxErr("xml: unquoted attribute value at offset %d", x.i)
		}
		q := s[x.i]
		x.i++
		vs := x.i
		for x.i < len(s) && s[x.i] != q {
			if s[x.i] == '<' {
				return el, false, syntaxErr("xml: '<' in attribute value at offset %d", x.i)
			}
			x.i++
		}
		if x.i >= len(s) {
			return el, false, syntaxErr("xml: unterminated attribute value")
		}
		ve := x.i
		x.i++
		if _, err := checkXMLChars(s, vs, ve, true); err != nil {
			return el, false, err
		}
		el.attrs = true
		if nseen < len(seen) {
			seen[nseen] = [2]int{an, ane}
			nseen++
		} else {
			more = append(more, [2]int{an, ane})
		}
		if n != nil {
			n.attrs = append(n.attrs, xattr{
				name:  string(s[an:ane]),
				value: string(appendXMLText(nil, s, vs, ve, true)),
			})
		}
	}
}

// rootContent scans the content of the root element, appending its child
// elements to dst. Only white space may appear as text.
func (x *xmlScanner[T]) rootContent(root *xmlElem, dst []xmlElem) ([]xmlElem, error) {
	s := x.s
	for {
		for x.i < len(s) && s[x.i] != '<' {
			if !isXMLSpace(s[x.i]) {
				return nil, syntaxErr("xml: text in the root element at offset %d", x.i)
			}
			x.i++
		}
		if x.i >= len(s) {
			return nil, syntaxErr("xml: unexpected end of input in the root element")
		}
		j := x.i
		switch {
		case hasPrefixAt(s, j, "</"):
			return dst, x.endTag(root)
		case hasPrefixAt(s, j, "<![CDATA["):
			k := indexAt(s, j+9, "]]>")
			if k < 0 {
				return nil, syntaxErr("xml: unterminated CDATA section")
			}
			for p := j + 9; p < k; p++ {
				if !isXMLSpace(s[p]) {
					return nil, syntaxErr("xml: text in the root element at offset %d", p)
				}
			}
			x.i = k + 3
		case hasPrefixAt(s, j, "<!--"):
			if err := x.skipPast(j+4, "-->", "comment"); err != nil {
				return nil, err
			}
		case hasPrefixAt(s, j, "<?"):
			if err := x.skipPast(j+2, "?>", "processing instruction"); err != nil {
				return nil, err
			}
		case hasPrefixAt(s, j, "<!"):
			return nil, syntaxErr("xml: unexpected markup at offset %d", j)
		default:
			el, err := x.element(2, nil)
			if err != nil {
				return nil, err
			}
			dst = append(dst, el)
		}
	}
}

// element scans a whole element at x.i (its '<'), at nesting depth depth.
// When n is not nil, the element's attributes, text and children are
// stored in it.
func (x *xmlScanner[T]) element(depth int, n *xnode) (xmlElem, error) {
	if depth > maxXMLDepth {
		return xmlElem{}, syntaxErr("xml: elements nested deeper than %d", maxXMLDepth)
	}
	el, self, err := x.startTag(n)
	if err != nil {
		return el, err
	}
	if n != nil {
		n.name = string(x.s[el.ns:el.ne])
	}
	el.ts, el.te = el.cs, el.cs
	if self {
		return el, nil
	}
	err = x.content(depth, &el, n)
	return el, err
}

// content scans the content of el up to and including its end tag.
func (x *xmlScanner[T]) content(depth int, el *xmlElem, n *xnode) error {
	s := x.s
	segs := 0
	decode := false
	for {
		j := x.i
		for j < len(s) && s[j] != '<' {
			j++
		}
		if j > x.i {
			need, err := checkXMLChars(s, x.i, j, true)
			if err != nil {
				return err
			}
			segs++
			decode = decode || need
			el.ts, el.te = x.i, j
			if n != nil {
				n.text = appendXMLText(n.text, s, x.i, j, true)
			}
			x.i = j
		}
		if j >= len(s) {
			return syntaxErr("xml: unexpected end of input in <%s>", string(s[el.ns:el.ne]))
		}
		switch {
		case hasPrefixAt(s, j, "</"):
			el.simple = !el.kids && segs <= 1 && !decode
			return x.endTag(el)
		case hasPrefixAt(s, j, "<![CDATA["):
			k := indexAt(s, j+9, "]]>")
			if k < 0 {
				return syntaxErr("xml: unterminated CDATA section")
			}
			need, err := checkXMLChars(s, j+9, k, false)
			if err != nil {
				return err
			}
			segs++
			decode = decode || need
			el.ts, el.te = j+9, k
			if n != nil {
				n.text = appendXMLText(n.text, s, j+9, k, false)
			}
			x.i = k + 3
		case hasPrefixAt(s, j, "<!--"):
			if err := x.skipPast(j+4, "-->", "comment"); err != nil {
				return err
			}
		case hasPrefixAt(s, j, "<?"):
			if err := x.skipPast(j+2, "?>", "processing instruction"); err != nil {
				return err
			}
		case hasPrefixAt(s, j, "<!"):
			return syntaxErr("xml: unexpected markup at offset %d", j)
		default:
			el.kids = true
			var kid *xnode
			if n != nil {
				kid = new(xnode)
			}
			if _, err := x.element(depth+1, kid); err != nil {
				return err
			}
			if n != nil {
				n.kids = append(n.kids, kid)
			}
		}
	}
}

// endTag scans the end tag at x.i, which must close el.
func (x *xmlScanner[T]) endTag(el *xmlElem) error {
	s := x.s
	el.ce = x.i
	x.i += 2
	ns := x.i
	if !x.name() || string(s[ns:x.i]) != string(s[el.ns:el.ne]) {
		return syntaxErr("xml: element <%s> closed by a different tag at offset %d", string(s[el.ns:el.ne]), ns-2)
	}
	x.space()
	if x.i >= len(s) || s[x.i] != '>' {
		return syntaxErr("xml: malformed end tag at offset %d", ns-2)
	}
	x.i++
	return nil
}

// checkXMLChars validates s[a:b] as character data (entities allowed when
// amp is true) and reports whether it needs decoding (entities or CR).
func checkXMLChars[T string | []byte](s T, a, b int, amp bool) (decode bool, err error) {
	for i := a; i < b; i++ {
		c := s[i]
		if c >= 0x20 && c < 0x80 && c != '&' {
			continue
		}
		switch {
		case c == '&':
			if !amp {
				continue
			}
			_, n, ok := xmlEntity(s, i, b)
			if !ok {
				return false, syntaxErr("xml: invalid entity or character reference at offset %d", i)
			}
			decode = true
			i += n - 1
		case c == '\r':
			decode = true
		case c == '\t' || c == '\n':
		case c < 0x20:
			return false, syntaxErr("xml: illegal character U+%04X at offset %d", c, i)
		case c == 0xEF && i+2 < b && s[i+1] == 0xBF && (s[i+2] == 0xBE || s[i+2] == 0xBF):
			return false, syntaxErr("xml: illegal character at offset %d", i)
		}
	}
	return decode, nil
}

// xmlEntity decodes the entity or character reference at s[i] ('&'),
// which must end before end. It returns the rune and the length.
func xmlEntity[T string | []byte](s T, i, end int) (r rune, n int, ok bool) {
	k := i + 1
	for k < end && k-i < 12 && s[k] != ';' {
		k++
	}
	if k >= end || s[k] != ';' {
		return 0, 0, false
	}
	n = k + 1 - i
	name := s[i+1 : k]
	switch string(name) {
	case "lt":
		return '<', n, true
	case "gt":
		return '>', n, true
	case "amp":
		return '&', n, true
	case "apos":
		return '\'', n, true
	case "quot":
		return '"', n, true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, 0, false
	}
	base, digits := rune(10), name[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 {
		return 0, 0, false
	}
	for j := 0; j < len(digits); j++ {
		d := rune(hexVal(digits[j]))
		if d >= base {
			return 0, 0, false
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, 0, false
		}
	}
	if !isXMLChar(r) {
		return 0, 0, false
	}
	return r, n, true
}

func hexVal(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// isXMLChar reports whether r is allowed in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= utf8.MaxRune
}

// appendXMLText appends the decoded s[a:b], which checkXMLChars accepted:
// entities are resolved when amp is true and line ends are normalized.
func appendXMLText[T string | []byte](dst []byte, s T, a, b int, amp bool) []byte {
	start := a
	for i := a; i < b; i++ {
		switch c := s[i]; {
		case c == '\r':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\n')
			if i+1 < b && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		case c == '&' && amp:
			dst = append(dst, s[start:i]...)
			r, n, _ := xmlEntity(s, i, b)
			dst = utf8.AppendRune(dst, r)
			i += n - 1
			start = i + 1
		}
	}
	return append(dst, s[start:b]...)
}

// appendLeafText appends the decoded text of an element without child
// elements whose content is s[a:b].
func appendLeafText[T string | []byte](dst []byte, s T, a, b int) []byte {
	i := a
	for i < b {
		j := i
		for j < b && s[j] != '<' {
			j++
		}
		dst = appendXMLText(dst, s, i, j, true)
		if j >= b {
			break
		}
		switch {
		case hasPrefixAt(s, j, "<![CDATA["):
			k := indexAt(s, j+9, "]]>")
			dst = appendXMLText(dst, s, j+9, k, false)
			i = k + 3
		case hasPrefixAt(s, j, "<!--"):
			i = indexAt(s, j+4, "-->") + 3
		case hasPrefixAt(s, j, "<?"):
			i = indexAt(s, j+2, "?>") + 2
		default:
			return dst // not reached for leaves
		}
	}
	return dst
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

func isNameChar(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// isXMLName reports whether s is a name the scanner accepts.
func isXMLName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixAt[T string | []byte](s T, i int, p string) bool {
	return len(s)-i >= len(p) && string(s[i:i+len(p)]) == p
}

// indexAt returns the index of the first p in s at or after i, or -1.
func indexAt[T string | []byte](s T, i int, p string) int {
	for ; i+len(p) <= len(s); i++ {
		if s[i] == p[0] && string(s[i:i+len(p)]) == p {
			return i
		}
	}
	return -1
}
