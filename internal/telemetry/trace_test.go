package telemetry

import (
	"strings"
	"testing"
)

func TestTraceParent(t *testing.T) {
	tests := []struct {
		tp   string
		want bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false}, // version ff is invalid
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false}, // zero trace id
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false}, // zero span id
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false}, // upper case
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidTraceParent(tt.tp); got != tt.want {
			t.Errorf("ValidTraceParent(%q) = %v, want %v", tt.tp, got, tt.want)
		}
	}
	a, b := NewTraceParent(), NewTraceParent()
	if !ValidTraceParent(a) || a == b || !strings.HasSuffix(a, "-01") {
		t.Errorf("NewTraceParent() = %q, %q", a, b)
	}
	parent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	child := ChildTraceParent(parent)
	if TraceID(child) != TraceID(parent) || child == parent || !ValidTraceParent(child) {
		t.Errorf("ChildTraceParent(%q) = %q: want the same trace, a new span", parent, child)
	}
	if c := ChildTraceParent("garbage"); !ValidTraceParent(c) {
		t.Errorf("ChildTraceParent(garbage) = %q, want a new trace", c)
	}
	if TraceID("garbage") != "" {
		t.Error("TraceID of an invalid value is not empty")
	}
}

func TestNewRegistry(t *testing.T) {
	mfs, err := NewRegistry().Gather()
	if err != nil || len(mfs) == 0 {
		t.Errorf("Gather() = %d families, %v", len(mfs), err)
	}
}
