package wxpush

import (
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// newTestSim starts a simulator of the demo app on a fixed clock, served
// over HTTP until the test ends: what the push side's recorder talks to.
func newTestSim(tb testing.TB) (*wxsim.Sim, *testworld.API) {
	tb.Helper()
	t0 := time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC)
	sim, err := wxsim.NewSim(wxsim.SimConfig{Now: func() time.Time { return t0 }})
	if err != nil {
		tb.Fatalf("NewSim: %v", err)
	}
	return sim, testworld.ServeAPI(tb, sim.Handler())
}
