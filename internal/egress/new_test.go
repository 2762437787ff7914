package egress

import (
	"strings"
	"testing"

	"github.com/kfbridge/kfbridge/internal/config"
)

// TestNewRequires: the shared WeChat parts are required, and New names
// every one missing.
func TestNewRequires(t *testing.T) {
	_, err := New(Config{Egress: config.Default().Egress})
	for _, want := range []string{"JS", "API", "Tokens", "Fetcher", "Media"} {
		if err == nil || !strings.Contains(err.Error(), "egress: "+want+" is required") {
			t.Errorf("New(no parts) = %v, want it to name %s", err, want)
		}
	}
}
