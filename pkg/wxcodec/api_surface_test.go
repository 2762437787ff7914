package wxcodec

import (
	"testing"

	"github.com/kfbridge/kfbridge/internal/apisurface"
)

// TestAPI keeps the package's exported names to the reviewed list in
// testdata/api.txt, each with a doc comment starting with its name.
func TestAPI(t *testing.T) {
	apisurface.Check(t, ".", "testdata/api.txt", *update)
}
