package baseurl

import "testing"

func TestCheck(t *testing.T) {
	for _, raw := range []string{"http://127.0.0.1:9100", "https://example.com/kf/", "http://h/p"} {
		if err := Check(raw); err != nil {
			t.Errorf("Check(%q) = %v", raw, err)
		}
	}
	for _, raw := range []string{"", "127.0.0.1:9100", "ftp://h", "http://", "/path", "http://h/?q=1", "http://h/#f", "http://[::1", "http://h/%zz"} {
		if err := Check(raw); err == nil {
			t.Errorf("Check(%q) = nil, want an error", raw)
		}
	}
}
