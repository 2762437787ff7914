package telemetry

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/buildinfo"
)

// TracerName is the instrumentation scope of kfbridge's spans.
const TracerName = "github.com/kfbridge/kfbridge"

// NewTracerProvider returns a tracer provider that batches spans and
// exports them over OTLP/HTTP (protobuf) to <endpoint>/v1/traces, as
// service. Its Shutdown flushes what is batched; the caller bounds it with
// its context. Nothing is sent until a span ends: an unreachable collector
// costs dropped spans and a log line of the exporter, never a request.
func NewTracerProvider(ctx context.Context, endpoint, service string) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.version", buildinfo.Read().Version),
	)
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// Tracer returns kfbridge's tracer of tp, or nil when tp is nil: the parts
// skip all span work then (tracing off costs a nil check).
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(TracerName)
}

// RemoteParent returns ctx with the span context of the traceparent tp as
// remote parent, or ctx itself when tp is not valid (a span started from it
// then starts a new trace).
func RemoteParent(ctx context.Context, tp string) context.Context {
	if !ValidTraceParent(tp) {
		return ctx
	}
	var sc trace.SpanContextConfig
	hex.Decode(sc.TraceID[:], []byte(tp[3:35]))
	hex.Decode(sc.SpanID[:], []byte(tp[36:52]))
	var flags [1]byte
	hex.Decode(flags[:], []byte(tp[53:55]))
	sc.TraceFlags = trace.TraceFlags(flags[0])
	sc.Remote = true
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(sc))
}

// TraceParentOf returns the traceparent of span's context, or "" when it
// has none.
func TraceParentOf(span trace.Span) string {
	sc := span.SpanContext()
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}
