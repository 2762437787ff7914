package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestBacklog: the gauges read what waits in WXKF_OUT and WXKF_DLQ, the
// oldest command's age comes from the stream's first message, and a
// missing stream reports kfbridge_backlog_up 0 and nothing else.
func TestBacklog(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	ctx := t.Context()
	b := NewBacklog(js)
	reg := prometheus.NewRegistry()
	reg.MustRegister(b)

	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kfbridge_backlog_up 1 when the last reading of WXKF_OUT and WXKF_DLQ succeeded, else 0.
# TYPE kfbridge_backlog_up gauge
kfbridge_backlog_up 0
`)); err != nil {
		t.Errorf("without streams: %v", err)
	}

	for name, subj := range map[string]string{events.OutboundStreamName: "out.>", events.DeadLetterStreamName: "dlq.>"} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj}, Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "out.c", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := js.Publish(ctx, "dlq.c", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, st := natstest.StreamState(t, js, events.OutboundStreamName)
	b.mu.Lock()
	b.at = time.Time{} // the reading without streams is cached: read again
	b.now = func() time.Time { return st.FirstTime.Add(90 * time.Second) }
	b.mu.Unlock()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kfbridge_backlog_up 1 when the last reading of WXKF_OUT and WXKF_DLQ succeeded, else 0.
# TYPE kfbridge_backlog_up gauge
kfbridge_backlog_up 1
# HELP kfbridge_dead_letters Dead letters kept in WXKF_DLQ.
# TYPE kfbridge_dead_letters gauge
kfbridge_dead_letters 2
# HELP kfbridge_egress_commands_waiting Commands stored in WXKF_OUT and not yet acknowledged (queued, in handling or parked).
# TYPE kfbridge_egress_commands_waiting gauge
kfbridge_egress_commands_waiting 3
# HELP kfbridge_egress_oldest_command_age_seconds Age of the oldest command not yet acknowledged in WXKF_OUT; 0 when none waits.
# TYPE kfbridge_egress_oldest_command_age_seconds gauge
kfbridge_egress_oldest_command_age_seconds 90
`)); err != nil {
		t.Errorf("with 3 commands and 2 dead letters: %v", err)
	}
}

// TestBuildInfo: one series, value 1, with the three labels.
func TestBuildInfo(t *testing.T) {
	reg := NewRegistry()
	n, err := testutil.GatherAndCount(reg, "kfbridge_build_info")
	if err != nil || n != 1 {
		t.Fatalf("kfbridge_build_info series = %d, %v; want 1", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kfbridge_build_info" {
			continue
		}
		m := mf.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if m.GetGauge().GetValue() != 1 || labels["version"] == "" || labels["revision"] == "" || !strings.HasPrefix(labels["goversion"], "go") {
			t.Errorf("kfbridge_build_info = %v %v", labels, m.GetGauge().GetValue())
		}
	}
}
