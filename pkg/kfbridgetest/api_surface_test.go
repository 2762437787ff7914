package kfbridgetest

import (
	"flag"
	"testing"

	"github.com/kfbridge/kfbridge/internal/apisurface"
)

var update = flag.Bool("update", false, "rewrite testdata/api.txt")

// TestAPI keeps the package's exported names to the reviewed list in
// testdata/api.txt, each with a doc comment starting with its name.
func TestAPI(t *testing.T) {
	apisurface.Check(t, ".", "testdata/api.txt", *update)
}
