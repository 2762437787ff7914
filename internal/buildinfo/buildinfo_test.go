package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

// TestRead: a test binary has no release version; -ldflags' version wins.
func TestRead(t *testing.T) {
	i := Read()
	if i.Version != "devel" || i.Revision == "" || i.GoVersion != runtime.Version() {
		t.Errorf("Read() = %+v, want version devel and Go %s", i, runtime.Version())
	}
	version = "v1.2.3"
	defer func() { version = "" }()
	if got := Read().String(); !strings.HasPrefix(got, "v1.2.3 (revision ") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("String() = %q", got)
	}
}
