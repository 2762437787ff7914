package wxcodec

import "github.com/kfbridge/kfbridge/internal/jsonenc"

// xnode is an XML element built for conversion to a JSON Extra value.
type xnode struct {
	name  string
	attrs []xattr
	text  []byte // decoded text, concatenated
	kids  []*xnode
}

type xattr struct{ name, value string }

// appendXMLElemJSON converts the element at doc[start] (already validated
// as a child of the root) to JSON and appends it to dst.
func appendXMLElemJSON(dst []byte, doc string, start int) []byte {
	x := xmlScanner[string]{s: doc, i: start}
	n := new(xnode)
	if _, err := x.element(2, n); err != nil {
		// Not reached: the document was validated by scanXML.
		return append(dst, `null`...)
	}
	return appendNodeJSON(dst, n)
}

// appendNodeJSON appends the JSON form of n: a string when it has neither
// attributes nor children, else an object.
func appendNodeJSON(dst []byte, n *xnode) []byte {
	if len(n.attrs) == 0 && len(n.kids) == 0 {
		return jsonenc.AppendString(dst, string(n.text))
	}
	dst = append(dst, '{')
	for i, a := range n.attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonenc.AppendString(dst, "@"+a.name)
		dst = append(dst, ':')
		dst = jsonenc.AppendString(dst, a.value)
	}
	text := string(n.text)
	if len(n.kids) > 0 {
		text = trimXMLSpace(text)
	}
	if text != "" {
		if len(n.attrs) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"#text":`...)
		dst = jsonenc.AppendString(dst, text)
	}
	first := len(n.attrs) == 0 && text == ""
	names := make([]string, len(n.kids))
	for i, k := range n.kids {
		names[i] = k.name
	}
	for _, g := range groupNames(names) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = jsonenc.AppendString(dst, names[g[0]])
		dst = append(dst, ':')
		if len(g) == 1 {
			dst = appendNodeJSON(dst, n.kids[g[0]])
			continue
		}
		dst = append(dst, '[')
		for j, i := range g {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendNodeJSON(dst, n.kids[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// groupNames groups the indexes of names by name, in order of first
// occurrence.
func groupNames(names []string) [][]int {
	groups := make([][]int, 0, len(names))
	if len(names) <= 16 {
	outer:
		for i, name := range names {
			for g := range groups {
				if names[groups[g][0]] == name {
					groups[g] = append(groups[g], i)
					continue outer
				}
			}
			groups = append(groups, []int{i})
		}
		return groups
	}
	index := make(map[string]int, len(names))
	for i, name := range names {
		if g, ok := index[name]; ok {
			groups[g] = append(groups[g], i)
			continue
		}
		index[name] = len(groups)
		groups = append(groups, []int{i})
	}
	return groups
}

func trimXMLSpace(s string) string {
	for s != "" && isXMLSpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isXMLSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
