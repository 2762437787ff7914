package telemetry

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestRemoteParentRoundTrip: a span started under a traceparent continues
// its trace with that span as parent, and its own traceparent is valid and
// names it; an invalid traceparent starts a new trace.
func TestRemoteParentRoundTrip(t *testing.T) {
	const in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tracer := Tracer(sdktrace.NewTracerProvider())
	_, span := tracer.Start(RemoteParent(context.Background(), in), "x")
	span.End()
	ro := span.(sdktrace.ReadOnlySpan)
	if got := ro.Parent().SpanID().String(); got != "00f067aa0ba902b7" || !ro.Parent().IsRemote() {
		t.Errorf("parent span id = %s (remote %v), want 00f067aa0ba902b7, remote", got, ro.Parent().IsRemote())
	}
	out := TraceParentOf(span)
	if !ValidTraceParent(out) || TraceID(out) != TraceID(in) || out[36:52] != ro.SpanContext().SpanID().String() || out[53:] != "01" {
		t.Errorf("TraceParentOf = %q, want trace %s and span %s, sampled", out, TraceID(in), ro.SpanContext().SpanID())
	}
	_, root := tracer.Start(RemoteParent(context.Background(), "00-bad"), "y")
	if root.(sdktrace.ReadOnlySpan).Parent().IsValid() || TraceID(TraceParentOf(root)) == TraceID(in) {
		t.Errorf("span under an invalid traceparent has a parent")
	}
	if Tracer(nil) != nil || TraceParentOf(trace.SpanFromContext(context.Background())) != "" {
		t.Errorf("Tracer(nil) or TraceParentOf(no span) is not empty")
	}
}
