// Package rfc3339 is the one reading of an RFC 3339 date-time that
// events.ParseCommand and the JSON Schema validator of package schemas
// share, so that a command's time gets the same verdict from both. The
// JSON Schema library's own "date-time" checker takes "+1" or "-0" for a
// two-digit field (it parses them with strconv.Atoi).
package rfc3339

import (
	"strings"
	"time"
)

// Valid reports whether s is an RFC 3339 (section 5.6) date-time read
// strictly: yyyy-mm-ddThh:mm:ss[.frac](Z|±hh:mm) with ASCII digits, "t"
// and "z" allowed, and a leap second only at 23:59 UTC.
func Valid(s string) bool {
	if len(s) < 20 || s[10] != 't' && s[10] != 'T' {
		return false
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return false
	}
	return validTime(s[11:])
}

// validTime checks the time part of [Valid].
func validTime(str string) bool {
	if len(str) < 9 || str[2] != ':' || str[5] != ':' {
		return false
	}
	h, okH := twoDigits(str[0:2])
	m, okM := twoDigits(str[3:5])
	sec, okS := twoDigits(str[6:8])
	if !okH || !okM || !okS || h > 23 || m > 59 || sec > 60 {
		return false
	}
	str = str[8:]
	if rem, ok := strings.CutPrefix(str, "."); ok {
		n := 0
		for n < len(rem) && rem[n] >= '0' && rem[n] <= '9' {
			n++
		}
		if n == 0 {
			return false
		}
		str = rem[n:]
	}
	if str != "z" && str != "Z" {
		if len(str) != 6 || str[3] != ':' {
			return false
		}
		var sign int
		switch str[0] {
		case '+':
			sign = -1
		case '-':
			sign = +1
		default:
			return false
		}
		zh, okH := twoDigits(str[1:3])
		zm, okM := twoDigits(str[4:6])
		if !okH || !okM || zh > 23 || zm > 59 {
			return false
		}
		hm := h*60 + m + sign*(zh*60+zm)
		if hm < 0 {
			hm += 24 * 60
		}
		h, m = hm/60, hm%60
	}
	return sec < 60 || h == 23 && m == 59
}

// twoDigits reads s, two ASCII digits.
func twoDigits(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
