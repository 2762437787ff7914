package wxcodec

import "github.com/kfbridge/kfbridge/internal/jsonenc"

// xnode is an XML element built for conversion to a JSON Extra value.
type xnode struct {
	name  string
	attrs []xattr
	text  []byte // decoded text, concatenated
	kids  []*xnode
}

// xattr is an attribute: its name is doc[ns:ne], its raw value doc[vs:ve].
type xattr struct{ ns, ne, vs, ve int }

// appendXMLElemJSON converts the element at doc[start] (already validated
// as a child of the root) to JSON and appends it to dst.
func appendXMLElemJSON(dst []byte, doc string, start int) []byte {
	x := xmlScanner[string]{s: doc, i: start}
	n := new(xnode)
	if _, err := x.element(2, n); err != nil {
		// Not reached: the document was validated by scanXML.
		return append(dst, `null`...)
	}
	var buf []byte
	return appendNodeJSON(dst, doc, n, &buf)
}

// appendNodeJSON appends the JSON form of n, an element of doc: a string
// when it has neither attributes nor children, else an object. *buf is
// scratch space for decoding attribute values.
func appendNodeJSON(dst []byte, doc string, n *xnode, buf *[]byte) []byte {
	if len(n.attrs) == 0 && len(n.kids) == 0 {
		return jsonenc.AppendString(dst, n.text)
	}
	dst = append(dst, '{')
	for i, a := range n.attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"@`...)
		dst = append(dst, doc[a.ns:a.ne]...) // names are ASCII: no escapes
		dst = append(dst, `":`...)
		*buf = appendXMLText((*buf)[:0], doc, a.vs, a.ve, true)
		dst = jsonenc.AppendString(dst, *buf)
	}
	text := n.text
	if len(n.kids) > 0 {
		text = trimXMLSpace(text)
	}
	if len(text) > 0 {
		if len(n.attrs) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"#text":`...)
		dst = jsonenc.AppendString(dst, text)
	}
	first := len(n.attrs) == 0 && len(text) == 0
	if len(n.kids) == 1 {
		if !first {
			dst = append(dst, ',')
		}
		dst = jsonenc.AppendString(dst, n.kids[0].name)
		dst = append(dst, ':')
		dst = appendNodeJSON(dst, doc, n.kids[0], buf)
		return append(dst, '}')
	}
	names := make([]string, len(n.kids))
	for i, k := range n.kids {
		names[i] = k.name
	}
	heads, next := groupNames(names)
	for _, i := range heads {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = jsonenc.AppendString(dst, names[i])
		dst = append(dst, ':')
		if next[i] < 0 {
			dst = appendNodeJSON(dst, doc, n.kids[i], buf)
			continue
		}
		dst = append(dst, '[')
		for j := i; j >= 0; j = next[j] {
			if j != i {
				dst = append(dst, ',')
			}
			dst = appendNodeJSON(dst, doc, n.kids[j], buf)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// groupNames groups the indexes of names by name in O(len(names)) time:
// heads holds the first index of each name, in order of first occurrence,
// and next[i] the next index with the name of i, or -1.
func groupNames(names []string) (heads, next []int) {
	next = make([]int, len(names))
	tails := make([]int, 0, len(names)) // last index of each group
	var index map[string]int            // name → group, for many names
	if len(names) > 16 {
		index = make(map[string]int, len(names))
	}
	for i, name := range names {
		next[i] = -1
		g, ok := -1, false
		if index != nil {
			g, ok = index[name]
		} else {
			for h, head := range heads {
				if names[head] == name {
					g, ok = h, true
					break
				}
			}
		}
		if !ok {
			if index != nil {
				index[name] = len(heads)
			}
			heads = append(heads, i)
			tails = append(tails, i)
			continue
		}
		next[tails[g]] = i
		tails[g] = i
	}
	return heads, next
}

func trimXMLSpace[T string | []byte](s T) T {
	for len(s) > 0 && isXMLSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isXMLSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
