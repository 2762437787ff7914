package wxcodec

import (
	"slices"
	"strings"
)

// maxXMLDepth bounds the nesting of XML elements (the root is depth 1).
const maxXMLDepth = MaxDepth

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
// DOCTYPE (and so entity declarations) is rejected. It accepts what
// encoding/xml accepts within the subset the package doc describes (ASCII
// names with at most one colon, no "--" in comments, no "]]>" in text, an
// XML declaration only for version 1.0 in UTF-8, unique attributes, at most
// maxXMLDepth levels, at most [MaxNodes] elements and attributes, at most
// [MaxAttributes] attributes per element). Every method runs in time linear
// in what it scans.
type xmlScanner[T string | []byte] struct {
	s     T
	i     int
	nodes int // elements below the root and attributes scanned, up to MaxNodes
}

// node counts one more node, and fails past [MaxNodes].
func (x *xmlScanner[T]) node() error {
	if x.nodes++; x.nodes > MaxNodes {
		return limitErr("xml: more than %d elements and attributes at offset %d", MaxNodes, x.i)
	}
	return nil
}

// walkXML validates the document s and calls visit for each child element
// of its root, in document order; an error from visit stops the scan. The
// root element may have any name; its attributes are ignored.
//
// The scan is a single pass whose time is linear in len(s): every byte is
// looked at a bounded number of times (names are compared once more at
// their end tag, each attribute name with at most [MaxAttributes]-1 others
// of its element) and nesting is bounded by [maxXMLDepth]. It stops with
// [ErrLimit] at the first element or attribute past [MaxNodes] or
// [MaxAttributes]. It allocates nothing.
func walkXML[T string | []byte](s T, visit func(el xmlElem) error) error {
	x := xmlScanner[T]{s: s, i: skipBOM(s)}
	if err := x.misc(false); err != nil {
		return err
	}
	root, self, err := x.startTag(nil)
	if err != nil {
		return err
	}
	if !self {
		if err = x.rootContent(&root, visit); err != nil {
			return err
		}
	}
	return x.misc(true)
}

// scanXML is [walkXML] that appends the root's child elements to dst. When
// dst is full it grows once to room for [MaxNodes], which no document
// exceeds.
func scanXML[T string | []byte](s T, dst []xmlElem) ([]xmlElem, error) {
	err := walkXML(s, func(el xmlElem) error {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, MaxNodes-len(dst))
		}
		dst = append(dst, el)
		return nil
	})
	if err != nil {
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
			if err := x.procInst(x.i + 2); err != nil {
				return err
			}
		case hasPrefixAt(s, x.i, "<!--"):
			if err := x.comment(x.i + 4); err != nil {
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

// comment moves past the comment whose text starts at from. As in XML
// (and encoding/xml), the text must not contain "--".
func (x *xmlScanner[T]) comment(from int) error {
	k := indexAt(x.s, from, "--")
	if k < 0 {
		return syntaxErr("xml: unterminated comment")
	}
	if k+2 >= len(x.s) || x.s[k+2] != '>' {
		return syntaxErr(`xml: "--" in a comment at offset %d`, k)
	}
	x.i = k + 3
	return nil
}

// procInst moves past the processing instruction whose target starts at
// from. As in encoding/xml, the target must be a name, and the XML
// declaration (target "xml") may only declare version 1.0 and encoding
// UTF-8.
func (x *xmlScanner[T]) procInst(from int) error {
	x.i = from
	if !x.name() {
		return syntaxErr("xml: processing instruction without a target at offset %d", from)
	}
	target := x.s[from:x.i]
	k := indexAt(x.s, x.i, "?>")
	if k < 0 {
		return syntaxErr("xml: unterminated processing instruction")
	}
	if string(target) == "xml" {
		text := string(x.s[x.i:k])
		if v := declParam("version", text); v != "" && v != "1.0" {
			return syntaxErr("xml: version %q is not 1.0", clipString(v, 16))
		}
		if e := declParam("encoding", text); e != "" && !strings.EqualFold(e, "utf-8") {
			return syntaxErr("xml: encoding %q is not UTF-8", clipString(e, 16))
		}
	}
	x.i = k + 2
	return nil
}

// declParam returns the value of param in the text of an XML declaration,
// or "". It reads the text exactly as encoding/xml's procInst does, so that
// both accept the same declarations.
func declParam(param, s string) string {
	param += "="
	i := 0
	var quote byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || len(param)+k >= len(sub) {
			return ""
		}
		i += len(param) + k + 1
		if c := sub[len(param)+k]; c == '\'' || c == '"' {
			quote = c
			break
		}
	}
	if quote == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], quote)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

func clipString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
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

// qname scans an element or attribute name at x.i: a name with at most
// one colon, as encoding/xml requires (namespace prefixes are not
// interpreted).
func (x *xmlScanner[T]) qname() bool {
	start := x.i
	if !x.name() {
		return false
	}
	colons := 0
	for k := start; k < x.i; k++ {
		if x.s[k] == ':' {
			colons++
		}
	}
	return colons <= 1
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
	if !x.qname() {
		return el, false, syntaxErr("xml: invalid element name at offset %d", el.ns)
	}
	el.ne = x.i
	var attrs nameSet[T]
	nattrs := 0
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
		if nattrs++; nattrs > MaxAttributes {
			return el, false, limitErr("xml: more than %d attributes in <%s>", MaxAttributes, string(s[el.ns:min(el.ne, el.ns+64)]))
		}
		if err := x.node(); err != nil {
			return el, false, err
		}
		if !x.qname() {
			return el, false, syntaxErr("xml: invalid attribute name at offset %d", an)
		}
		ane := x.i
		if n == nil && !attrs.add(s, an, ane, false) { // checked before converting
			return el, false, syntaxErr("xml: duplicate attribute %q", string(s[an:min(ane, an+64)]))
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
		el.attrs = true
		if n != nil {
			// Converting a validated document: no checks.
			n.attrs = append(n.attrs, xattr{an, ane, vs, ve})
			continue
		}
		if _, err := checkXMLChars(s, vs, ve, true); err != nil {
			return el, false, err
		}
	}
}

// rootContent scans the content of the root element, calling visit for
// each child element. Only white space may appear as text.
func (x *xmlScanner[T]) rootContent(root *xmlElem, visit func(el xmlElem) error) error {
	s := x.s
	for {
		for x.i < len(s) && s[x.i] != '<' {
			if !isXMLSpace(s[x.i]) {
				return syntaxErr("xml: text in the root element at offset %d", x.i)
			}
			x.i++
		}
		if x.i >= len(s) {
			return syntaxErr("xml: unexpected end of input in the root element")
		}
		j := x.i
		switch {
		case hasPrefixAt(s, j, "</"):
			return x.endTag(root)
		case hasPrefixAt(s, j, "<![CDATA["):
			k := indexAt(s, j+9, "]]>")
			if k < 0 {
				return syntaxErr("xml: unterminated CDATA section")
			}
			for p := j + 9; p < k; p++ {
				if !isXMLSpace(s[p]) {
					return syntaxErr("xml: text in the root element at offset %d", p)
				}
			}
			x.i = k + 3
		case hasPrefixAt(s, j, "<!--"):
			if err := x.comment(j + 4); err != nil {
				return err
			}
		case hasPrefixAt(s, j, "<?"):
			if err := x.procInst(j + 2); err != nil {
				return err
			}
		case hasPrefixAt(s, j, "<!"):
			return syntaxErr("xml: unexpected markup at offset %d", j)
		default:
			el, err := x.element(2, nil)
			if err != nil {
				return err
			}
			if err := visit(el); err != nil {
				return err
			}
		}
	}
}

// element scans a whole element at x.i (its '<'), at nesting depth depth.
// When n is not nil, the element's attributes, text and children are
// stored in it.
func (x *xmlScanner[T]) element(depth int, n *xnode) (xmlElem, error) {
	if depth > maxXMLDepth {
		return xmlElem{}, limitErr("xml: elements nested deeper than %d", maxXMLDepth)
	}
	if err := x.node(); err != nil {
		return xmlElem{}, err
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
		if j > x.i && n != nil {
			// Converting a validated document: no checks.
			n.text = appendXMLText(n.text, s, x.i, j, true)
			x.i = j
		}
		if j > x.i {
			need, err := checkXMLChars(s, x.i, j, true)
			if err != nil {
				return err
			}
			if k := indexAt(s[:j], x.i, "]]>"); k >= 0 {
				return syntaxErr("xml: \"]]>\" outside CDATA at offset %d", k)
			}
			segs++
			decode = decode || need
			el.ts, el.te = x.i, j
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
			if err := x.comment(j + 4); err != nil {
				return err
			}
		case hasPrefixAt(s, j, "<?"):
			if err := x.procInst(j + 2); err != nil {
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
