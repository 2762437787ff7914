package schemas

import (
	"testing"

	"github.com/kfbridge/kfbridge/internal/rfc3339"
)

// TestDateTimeFormat: the validator's date-time is RFC 3339 with ASCII
// digits only (the library's own takes "+1" for an hour), for events and
// results too.
func TestDateTimeFormat(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ok := `{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","time":"2026-01-01T23:59:60-00:00","data":{"msgtype":"text","text":{"content":"hi"}}}`
	if err := v.Validate(CommandEvent, []byte(ok)); err != nil {
		t.Errorf("leap second at 23:59 UTC: %v", err)
	}
	for _, tm := range []string{"2026-01-01T+1:00:00Z", "2026-01-01T00:00:00+0-:00", "2026-01-01T00:00:00-+1:00", "2026-01-01T12:59:60Z"} {
		if rfc3339.Valid(tm) {
			t.Errorf("rfc3339.Valid(%q) = true", tm)
		}
		bad := `{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","time":"` + tm + `","data":{"msgtype":"text","text":{"content":"hi"}}}`
		if v.Validate(CommandEvent, []byte(bad)) == nil {
			t.Errorf("command with time %q accepted", tm)
		}
	}
}
