package events_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// TestCommandTime: a command's time is RFC 3339 with two ASCII digits per
// field (no sign inside one, as strconv.Atoi would take), and
// ParseCommand and the command schema agree on it.
func TestCommandTime(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for tm, valid := range map[string]bool{
		"2026-01-01T00:00:00Z":        true,
		"2026-01-01t00:00:00.123456z": true,
		"2026-01-01T08:30:00+08:00":   true,
		"2016-12-31T18:59:60.5-05:00": true,
		"2026-01-01T+1:00:00Z":        false,
		"2026-01-01T-0:00:00Z":        false,
		"2026-01-01T00:+0:00Z":        false,
		"2026-01-01T00:00:+0Z":        false,
		"2026-01-01T00:00:00++1:00":   false,
		"2026-01-01T00:00:00+01:-0":   false,
		"2026-01-01T00:00:00+1:00":    false,
		"2026-01-01T00:00:00 Z":       false,
		"2026-01-01T00:00:60Z":        false,
		"2026-1-01T00:00:00Z":         false,
		"2026-01-01T00:00:00.Z":       false,
		"2026-01-01T0\u0661:00:00Z":   false, // a non-ASCII digit
	} {
		body := []byte(`{"specversion":"1.0","id":"c","type":"weixin.kf.command.send","time":"` + tm +
			`","data":{"msgtype":"text","text":{"content":"hi"}}}`)
		_, perr := events.ParseCommand(sendSubject, nats.Header{}, body)
		verr := v.Validate(schemas.CommandEvent, body)
		if (perr == nil) != valid || (verr == nil) != valid {
			t.Errorf("time %q: ParseCommand %v, schema %v; want valid=%v", tm, perr, verr, valid)
		}
	}
}
