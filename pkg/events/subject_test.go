package events

import "testing"

func TestValidToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"wx0123", true}, {"o9AgO5Kd5ggOC-bXrbNODIiE3bGY", true}, {"a_b", true},
		{"", false}, {"a.b", false}, {"a*", false}, {">", false}, {"a b", false}, {"a\tb", false}, {"é", false},
	}
	for _, tt := range tests {
		if got := ValidToken(tt.in); got != tt.want {
			t.Errorf("ValidToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
