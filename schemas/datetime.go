package schemas

import (
	"errors"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// dateTimeFormat is the "date-time" format the validator asserts: RFC 3339
// (section 5.6) read strictly, as events.ParseCommand reads a command's
// time. The library's own checker takes "+1" or "-0" for a two-digit
// field (it parses them with strconv.Atoi).
var dateTimeFormat = &jsonschema.Format{Name: "date-time", Validate: func(v any) error {
	s, ok := v.(string)
	if !ok || validDateTime(s) {
		return nil
	}
	return errors.New("not an RFC 3339 date-time")
}}

// validDateTime reports whether s is yyyy-mm-ddThh:mm:ss[.frac](Z|±hh:mm)
// with ASCII digits, "t" and "z" allowed, and a leap second only at 23:59
// UTC. It is the twin of the check in package events (a differential fuzz
// test keeps the two verdicts equal).
func validDateTime(s string) bool {
	if len(s) < 20 || s[10] != 't' && s[10] != 'T' {
		return false
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return false
	}
	t := s[11:]
	if len(t) < 9 || t[2] != ':' || t[5] != ':' {
		return false
	}
	h, okH := twoDigits(t[0:2])
	m, okM := twoDigits(t[3:5])
	sec, okS := twoDigits(t[6:8])
	if !okH || !okM || !okS || h > 23 || m > 59 || sec > 60 {
		return false
	}
	t = t[8:]
	if frac, ok := strings.CutPrefix(t, "."); ok {
		n := 0
		for n < len(frac) && frac[n] >= '0' && frac[n] <= '9' {
			n++
		}
		if n == 0 {
			return false
		}
		t = frac[n:]
	}
	if t == "z" || t == "Z" {
		return sec < 60 || h == 23 && m == 59
	}
	if len(t) != 6 || t[3] != ':' || t[0] != '+' && t[0] != '-' {
		return false
	}
	zh, okH := twoDigits(t[1:3])
	zm, okM := twoDigits(t[4:6])
	if !okH || !okM || zh > 23 || zm > 59 {
		return false
	}
	// A leap second is at 23:59:60 UTC: shift the local time to UTC.
	hm := h*60 + m
	if t[0] == '+' {
		hm -= zh*60 + zm
	} else {
		hm += zh*60 + zm
	}
	if hm < 0 {
		hm += 24 * 60
	}
	return sec < 60 || hm == 23*60+59
}

// twoDigits reads s, two ASCII digits.
func twoDigits(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
