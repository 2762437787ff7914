package roundtrip

import (
	"testing"
	"time"
)

// TestRun runs a short round trip and checks that every scheduled push got
// its reply at the simulated WeChat and was measured.
func TestRun(t *testing.T) {
	rep, err := Run(t.Context(), Config{Rate: 50, Duration: time.Second, Warmup: -1, Users: 10, Sync: "2m"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if rep.Scheduled != 50 || rep.Measured != 50 {
		t.Errorf("scheduled %d, measured %d; want 50, 50", rep.Scheduled, rep.Measured)
	}
	if rep.PushFailed != 0 || rep.Replies != 50 || rep.Lost != 0 {
		t.Errorf("push failed %d, replies %d, lost %d; want 0, 50, 0", rep.PushFailed, rep.Replies, rep.Lost)
	}
	if rep.P50 <= 0 || rep.P50 > rep.P99 || rep.P99 > rep.Max {
		t.Errorf("percentiles out of order: %v", rep)
	}
}
