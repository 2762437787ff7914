package wxcodec

import "hash/maphash"

// nameSet holds the names seen in one XML start tag (attribute names) or
// one JSON object (member names), for the duplicate check. The first
// [MaxAttributes] are compared directly (each with at most MaxAttributes-1
// others, so an XML start tag never needs more); beyond that they go to an
// open-addressing hash table with a random seed, so that checking n names
// costs O(n) time, not O(n²), and about 24 bytes per name.
type nameSet[T string | []byte] struct {
	names []setName // every name, once the table is in use
	first [MaxAttributes]setName
	n     int
	seed  maphash.Seed
	slots []int32 // index+1 into names, 0 when empty; len is a power of 2
	// compared counts name comparisons, for the test that the check is
	// linear.
	compared int
}

// setName is a name in a nameSet: s[a:b], or dec when the JSON name at
// s[a:b] has escapes.
type setName struct {
	a, b int32
	h    uint64 // hash, once the table is in use
	dec  *string
}

// add records the name s[a:b] (a JSON name with escapes when esc) and
// reports false when it was already there.
func (set *nameSet[T]) add(s T, a, b int, esc bool) bool {
	n := setName{a: int32(a), b: int32(b)}
	if esc {
		dec := string(appendJSONUnescape(nil, s, a, b))
		n.dec = &dec
	}
	if set.slots == nil {
		for _, p := range set.first[:set.n] {
			if set.same(s, p, n) {
				return false
			}
		}
		if set.n < len(set.first) {
			set.first[set.n] = n
			set.n++
			return true
		}
		set.seed = maphash.MakeSeed()
		set.slots = make([]int32, 4*len(set.first))
		for _, p := range set.first[:set.n] {
			set.insert(s, p)
		}
	}
	return set.insert(s, n)
}

// insert adds n to the table unless a name with its text is there.
func (set *nameSet[T]) insert(s T, n setName) bool {
	if n.dec != nil {
		n.h = maphash.String(set.seed, *n.dec)
	} else {
		switch v := any(s[n.a:n.b]).(type) {
		case string:
			n.h = maphash.String(set.seed, v)
		case []byte:
			n.h = maphash.Bytes(set.seed, v)
		}
	}
	if 2*(len(set.names)+1) > len(set.slots) {
		set.grow()
	}
	mask := uint64(len(set.slots) - 1)
	for i := n.h & mask; ; i = (i + 1) & mask {
		k := set.slots[i]
		if k == 0 {
			set.names = append(set.names, n)
			set.slots[i] = int32(len(set.names))
			return true
		}
		if p := set.names[k-1]; p.h == n.h && set.same(s, p, n) {
			return false
		}
	}
}

// grow doubles the table.
func (set *nameSet[T]) grow() {
	slots := make([]int32, 2*len(set.slots))
	mask := uint64(len(slots) - 1)
	for k, p := range set.names {
		i := p.h & mask
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = int32(k + 1)
	}
	set.slots = slots
}

// same reports whether two names have the same text.
func (set *nameSet[T]) same(s T, p, n setName) bool {
	set.compared++
	switch {
	case p.dec == nil && n.dec == nil:
		return string(s[p.a:p.b]) == string(s[n.a:n.b])
	case p.dec != nil && n.dec != nil:
		return *p.dec == *n.dec
	case p.dec != nil:
		return *p.dec == string(s[n.a:n.b])
	default:
		return *n.dec == string(s[p.a:p.b])
	}
}
