package wxcodec

import "hash/maphash"

// nameSet holds the names seen in one XML start tag (attribute names) or
// one JSON object (member names), for the duplicate check. The first few
// are compared directly; beyond that they are looked up by a seeded hash,
// so that checking n names costs O(n), not O(n²), and allocates nothing
// per name unless the name has JSON escapes.
type nameSet[T string | []byte] struct {
	first [8]setName
	n     int
	seed  maphash.Seed
	more  map[uint64]setName  // hash of a name → the first name with it
	clash map[string]struct{} // names whose hash is already another name's
	// compared counts name comparisons, for the test that the check is
	// linear.
	compared int
}

// setName is a name in a nameSet: s[a:b], or dec when the JSON name at
// s[a:b] has escapes.
type setName struct {
	a, b int
	esc  bool
	dec  string
}

func (set *nameSet[T]) text(s T, n setName) string {
	if n.esc {
		return n.dec
	}
	return string(s[n.a:n.b])
}

// add records the name s[a:b] (a JSON name with escapes when esc) and
// reports false when it was already there.
func (set *nameSet[T]) add(s T, a, b int, esc bool) bool {
	n := setName{a: a, b: b, esc: esc}
	if esc {
		n.dec = string(appendJSONUnescape(nil, s, a, b))
	}
	for _, p := range set.first[:min(set.n, len(set.first))] {
		if set.same(s, p, n) {
			return false
		}
	}
	if set.n < len(set.first) {
		set.first[set.n] = n
		set.n++
		return true
	}
	if set.more == nil {
		set.seed = maphash.MakeSeed()
		set.more = make(map[uint64]setName)
	}
	var h uint64
	if esc {
		h = maphash.String(set.seed, n.dec)
	} else {
		switch v := any(s[a:b]).(type) {
		case string:
			h = maphash.String(set.seed, v)
		case []byte:
			h = maphash.Bytes(set.seed, v)
		}
	}
	set.n++
	p, ok := set.more[h]
	if !ok {
		set.more[h] = n
		return true
	}
	if set.same(s, p, n) {
		return false
	}
	// Two names with one 64-bit hash: not reachable by chance, and the
	// seed is random, so it costs nothing to be slow here.
	if set.clash == nil {
		set.clash = make(map[string]struct{})
	}
	t := set.text(s, n)
	if _, dup := set.clash[t]; dup {
		return false
	}
	set.clash[t] = struct{}{}
	return true
}

// same reports whether two names have the same text.
func (set *nameSet[T]) same(s T, p, n setName) bool {
	set.compared++
	switch {
	case !p.esc && !n.esc:
		return string(s[p.a:p.b]) == string(s[n.a:n.b])
	case p.esc && n.esc:
		return p.dec == n.dec
	case p.esc:
		return p.dec == string(s[n.a:n.b])
	default:
		return n.dec == string(s[p.a:p.b])
	}
}
