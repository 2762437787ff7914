package roundtrip

import (
	"strings"
	"testing"
	"time"
)

// TestRun runs a short round trip and checks that every scheduled push got
// its reply at the simulated WeChat and was measured.
func TestRun(t *testing.T) {
	rep, err := Run(t.Context(), Config{Rate: 50, Duration: time.Second, Warmup: -1, Users: 10, Sync: "2m", DiskProbe: 100 * time.Millisecond})
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
	names := []string{"push stored", "at bot", "command stored", "at WeChat"}
	if len(rep.Stages) != len(names) {
		t.Fatalf("%d stages, want %d: %+v", len(rep.Stages), len(names), rep.Stages)
	}
	for i, st := range rep.Stages {
		if st.Name != names[i] || st.Reached != 50 || st.P50 <= 0 || st.P50 > st.P99 || st.Slowest == 0 {
			t.Errorf("stage %d: %+v; want %q reached by 50 pushes, percentiles in order, a time for the slowest", i, st, names[i])
		}
	}
	// The bot stores its command after it received the event; the reply
	// reaches WeChat after its push was stored, less than the whole trip.
	if bot, cmd := rep.Stages[1], rep.Stages[2]; cmd.P50 < bot.P50 {
		t.Errorf("command stored (p50 %v) before the bot received the event (p50 %v)", cmd.P50, bot.P50)
	}
	if last := rep.Stages[3]; last.P50 != rep.P50 || last.P99 != rep.P99 {
		t.Errorf("stage at WeChat p50/p99 %v/%v, round trip %v/%v: want the same", last.P50, last.P99, rep.P50, rep.P99)
	}
	// The disk probe timed fsyncs for 100 ms, at most one every 2 ms.
	if d := rep.Disk; d.Samples < 1 || d.Samples > 51 || d.P50 <= 0 || d.P50 > d.P99 || d.P99 > d.Max {
		t.Errorf("disk probe %+v; want 1 to 51 fsyncs, percentiles in order", d)
	}
	if !strings.Contains(rep.String(), "write+fsync") {
		t.Errorf("report without the disk probe:\n%s", rep)
	}
}
