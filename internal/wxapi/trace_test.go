package wxapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// TestClientSpans: with a tracer provider, each call is a client span (op,
// status, errcode) under the context's traceparent, the call's Traceparent
// header names that span, and no span holds the token or the URL.
func TestClientSpans(t *testing.T) {
	var gotTP []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTP = append(gotTP, r.Header.Get("Traceparent"))
		if strings.Contains(r.URL.Path, "typing") {
			w.Write([]byte(`{"errcode":45015,"errmsg":"response out of time limit"}`))
			return
		}
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer hs.Close()
	exp := tracetest.NewInMemoryExporter()
	c, err := wxapi.New(hs.URL, wxapi.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	if err != nil {
		t.Fatal(err)
	}
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const token = "SECRET-ACCESS-TOKEN"
	ctx := wxapi.WithTraceParent(t.Context(), parent)
	if err := c.Send(ctx, token, wxapi.SendRequest{ToUser: "oU", Message: []byte(`{"msgtype":"text","text":{"content":"hi"}}`)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Typing(ctx, token, "oU", "", "Typing"); err == nil {
		t.Fatal("Typing: want errcode 45015")
	}
	spans := exp.GetSpans()
	if len(spans) != 2 || len(gotTP) != 2 {
		t.Fatalf("%d spans, %d calls; want 2", len(spans), len(gotTP))
	}
	for i, s := range spans {
		if s.SpanKind != trace.SpanKindClient || s.Parent.SpanID().String() != parent[36:52] || s.SpanContext.TraceID().String() != parent[3:35] {
			t.Errorf("span %s: kind %v parent %s trace %s; want a client span under %s", s.Name, s.SpanKind, s.Parent.SpanID(), s.SpanContext.TraceID(), parent)
		}
		if want := "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"; gotTP[i] != want {
			t.Errorf("call %d Traceparent %q, want its span's %q", i, gotTP[i], want)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes {
			attrs[string(a.Key)] = a.Value.String()
			if strings.Contains(a.Value.String(), token) || strings.Contains(a.Value.String(), "access_token") {
				t.Errorf("span %s attribute %s = %s holds the token", s.Name, a.Key, a.Value.String())
			}
		}
		if attrs["kfbridge.wechat.op"] == "" || attrs["http.response.status_code"] != "200" {
			t.Errorf("span %s attributes %v", s.Name, attrs)
		}
		if i == 1 && (attrs["kfbridge.wechat.errcode"] != "45015" || s.Status.Code.String() != "Error") {
			t.Errorf("refused call's span: errcode %q status %v", attrs["kfbridge.wechat.errcode"], s.Status)
		}
	}
}
