package roundtrip

import (
	"context"
	"fmt"
	"os"
	"time"
)

// DiskProbe is the fsync latency of the run's store directory, measured
// right before the bridge starts: 300-byte appends to one file, each
// followed by an fsync, one every 2 ms — about the least a stored message
// costs at nats.embedded.sync always. It tells a slow disk from a slow
// bridge: the round trip at sync always stands on three such fsyncs.
type DiskProbe struct {
	// Samples is the number of fsyncs timed; 0: not probed.
	Samples int
	// P50, P99 and Max are their latencies (nearest rank).
	P50, P99, Max time.Duration
}

// probeDisk times fsyncs in dir for d (see [DiskProbe]) and removes its
// file.
func probeDisk(ctx context.Context, dir string, d time.Duration) (DiskProbe, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return DiskProbe{}, fmt.Errorf("disk probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, 300)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var lat []time.Duration
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := f.Write(rec); err != nil {
			return DiskProbe{}, fmt.Errorf("disk probe: %w", err)
		}
		t := time.Now()
		if err := f.Sync(); err != nil {
			return DiskProbe{}, fmt.Errorf("disk probe: %w", err)
		}
		lat = append(lat, time.Since(t))
		select {
		case <-tick.C:
		case <-ctx.Done():
			return DiskProbe{}, ctx.Err()
		}
	}
	p := DiskProbe{Samples: len(lat), P50: nearestRank(lat, 0.50), P99: nearestRank(lat, 0.99)}
	if len(lat) > 0 {
		p.Max = lat[len(lat)-1] // sorted by nearestRank
	}
	return p, nil
}
