package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestServerLoggerPlaintextWarning: nats-server's plaintext-password
// warning is a warning when users are configured (their passwords could be
// bcrypt hashes) and Debug when the only password is the bridge's own.
func TestServerLoggerPlaintextWarning(t *testing.T) {
	for _, own := range []bool{false, true} {
		var buf bytes.Buffer
		l := &serverLogger{l: slog.New(slog.NewTextHandler(&buf, nil)), ownPasswordOnly: own}
		l.Warnf(plaintextWarning)
		l.Warnf("something else %d", 1)
		got := buf.String()
		if warned := strings.Contains(got, "bcrypt"); warned == own {
			t.Errorf("ownPasswordOnly=%v: log %q", own, got)
		}
		if !strings.Contains(got, "something else 1") {
			t.Errorf("ownPasswordOnly=%v: other warnings dropped: %q", own, got)
		}
	}
}
