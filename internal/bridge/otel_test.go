package bridge_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/bridge/bridgetest"
	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/playground"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// otlpReceiver is an in-process OTLP/HTTP collector: it decodes every
// POST /v1/traces (protobuf) and keeps the spans with their service name.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services map[string]bool
	bad      []string
}

func newOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	r := &otlpReceiver{services: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
		var in coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &in)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
			r.bad = append(r.bad, req.Method+" "+req.URL.Path+" "+req.Header.Get("Content-Type"))
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		for _, rs := range in.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					r.services[a.GetValue().GetStringValue()] = true
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				r.spans = append(r.spans, ss.GetSpans()...)
			}
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.GetAttributes() {
		if a.GetKey() == key {
			switch v := a.GetValue().GetValue().(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return strconv.FormatInt(v.IntValue, 10)
			}
			return a.GetValue().String()
		}
	}
	return ""
}

// traceParentOf is the traceparent naming span s.
func traceParentOf(s *tracepb.Span) string {
	return "00-" + hex.EncodeToString(s.GetTraceId()) + "-" + hex.EncodeToString(s.GetSpanId()) + "-01"
}

// TestOTLPSpans runs a bridge with span export to an in-process OTLP
// receiver, pushes a message carrying a tracing proxy's traceparent, lets
// the echo bot answer, stops the bridge (which flushes the spans) and
// checks one connected trace: the ingress's server span (a child of the
// proxy's), its publish, the egress's handling of the bot's reply (a child
// of the ingress span, whose traceparent the event carried), and the
// WeChat call under it — with the event's and the result's traceparent
// attribute equal to their header, and no secret, token, URL query or
// message text in any span.
func TestOTLPSpans(t *testing.T) {
	rcv, endpoint := newOTLPReceiver(t)
	cfg := bridgetest.Config(t, "http://127.0.0.1:1")
	cfg.Telemetry.OTLP.Endpoint = endpoint
	pg, err := playground.New(&cfg, playground.Options{SimListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	run, err := bridgetest.Run(t.Context(), &cfg, bridge.Options{Ingress: true, Egress: true, Extra: pg.Run, Name: "kfbridge-test"})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			run.Stop()
		}
	})
	_, js := natstest.ConnectURL(t, run.Endpoints.NATS)
	ctx := t.Context()

	// The echo bot reads new events only: push once its consumer is there.
	natstest.WaitFor(t, "the echo bot's consumer", func() bool {
		_, err := js.Consumer(ctx, events.InboundStreamName, "echobot")
		return err == nil
	})
	const openid, text = "oOtelUser-1", "a private message 42"
	const proxyTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	signer, err := wxpush.NewSigner("http://"+run.Endpoints.Ingress, wxpush.App{})
	if err != nil {
		t.Fatal(err)
	}
	req, err := signer.SignMessage(wxcodec.Message{ToUserName: demo.OriginalID, FromUserName: openid, MsgType: "text",
		MsgID: "7001", Content: text}, wxcodec.FormatXML, wxcodec.ModeSafe, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pg.Sim().RecordInteraction(demo.AppID, "0", openid, "text", time.Time{})
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Type", req.ContentType())
	hreq.Header.Set("Traceparent", proxyTrace)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %s", resp.Status)
	}

	// The event and the echo bot's reply's result, header and attribute.
	in := nextMsg(t, js, events.InboundStreamName)
	var ev events.InboundEvent
	if err := json.Unmarshal(in.Data(), &ev); err != nil {
		t.Fatal(err)
	}
	eventTP := in.Headers().Get(events.HeaderTraceParent)
	if ev.TraceParent == "" || ev.TraceParent != eventTP || ev.ID != "7001" {
		t.Errorf("event: traceparent attribute %q, header %q, id %q; want equal and set, id 7001", ev.TraceParent, eventTP, ev.ID)
	}
	var res events.ResultEvent
	var resultTP string
	results, err := js.OrderedConsumer(ctx, events.ResultStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for res.Data.Verb != events.VerbSend {
		m, err := results.Next(jetstream.FetchMaxWait(20 * time.Second))
		if err != nil {
			t.Fatalf("the echo bot's reply's result: %v", err)
		}
		if res, err = events.ParseResult(m.Data()); err != nil {
			t.Fatal(err)
		}
		resultTP = m.Headers().Get(events.HeaderTraceParent)
	}
	if res.Data.Outcome != events.OutcomeDelivered || res.TraceParent == "" || res.TraceParent != resultTP {
		t.Errorf("result: outcome %s, traceparent attribute %q, header %q; want delivered, equal and set", res.Data.Outcome, res.TraceParent, resultTP)
	}
	accessToken := ""
	if kv, err := js.KeyValue(ctx, token.BucketName); err == nil {
		if e, err := kv.Get(ctx, demo.AppID); err == nil {
			var rec struct {
				AccessToken string `json:"access_token"`
			}
			json.Unmarshal(e.Value(), &rec)
			accessToken = rec.AccessToken
		}
	}
	if accessToken == "" {
		t.Fatal("no access token in the token bucket")
	}

	// Shutdown flushes the batched spans.
	stopped = true
	if err := run.Stop(); err != nil {
		t.Fatalf("bridge.Run() = %v", err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bad) > 0 {
		t.Errorf("bad exports: %v", rcv.bad)
	}
	if !rcv.services["kfbridge-test"] {
		t.Errorf("service names %v, want kfbridge-test", rcv.services)
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range rcv.spans {
		byID[hex.EncodeToString(s.GetSpanId())] = s
	}
	find := func(what string, ok func(*tracepb.Span) bool) *tracepb.Span {
		t.Helper()
		for _, s := range rcv.spans {
			if ok(s) {
				return s
			}
		}
		var names []string
		for _, s := range rcv.spans {
			names = append(names, s.GetName()+"/"+s.GetKind().String())
		}
		t.Fatalf("no %s span among %v", what, names)
		return nil
	}
	parentOf := func(s *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(s.GetParentSpanId())] }

	ingress := find("ingress server", func(s *tracepb.Span) bool {
		return s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && attr(s, "kfbridge.outcome") == "published"
	})
	if traceParentOf(ingress) != eventTP {
		t.Errorf("event traceparent %s, want the ingress span's %s", eventTP, traceParentOf(ingress))
	}
	if got := hex.EncodeToString(ingress.GetTraceId()); got != proxyTrace[3:35] || hex.EncodeToString(ingress.GetParentSpanId()) != proxyTrace[36:52] {
		t.Errorf("ingress span trace %s parent %x, want the proxy's trace %s and span %s", got, ingress.GetParentSpanId(), proxyTrace[3:35], proxyTrace[36:52])
	}
	if attr(ingress, "kfbridge.appid") != demo.AppID || attr(ingress, "kfbridge.kind") != "text" {
		t.Errorf("ingress span attributes %v", ingress.GetAttributes())
	}
	publish := find("publish", func(s *tracepb.Span) bool { return s.GetKind() == tracepb.Span_SPAN_KIND_PRODUCER })
	if parentOf(publish) != ingress {
		t.Errorf("publish span's parent is not the ingress span")
	}
	handling := find("egress handling of the reply", func(s *tracepb.Span) bool {
		return s.GetKind() == tracepb.Span_SPAN_KIND_CONSUMER && attr(s, "kfbridge.verb") == events.VerbSend
	})
	if parentOf(handling) != ingress {
		t.Errorf("egress span's parent is not the ingress span (the bot copied the event's traceparent)")
	}
	if traceParentOf(handling) != resultTP || attr(handling, "kfbridge.outcome") != events.OutcomeDelivered {
		t.Errorf("result traceparent %s, want the egress span's %s; outcome attribute %q", resultTP, traceParentOf(handling), attr(handling, "kfbridge.outcome"))
	}
	call := find("WeChat send call", func(s *tracepb.Span) bool {
		return s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && parentOf(s) == handling && strings.Contains(attr(s, "kfbridge.wechat.op"), "send")
	})
	if attr(call, "http.response.status_code") == "" {
		t.Errorf("WeChat call span has no status: %v", call.GetAttributes())
	}
	for _, s := range []*tracepb.Span{publish, handling, call} {
		if !bytes.Equal(s.GetTraceId(), ingress.GetTraceId()) {
			t.Errorf("span %s is in trace %x, want %x", s.GetName(), s.GetTraceId(), ingress.GetTraceId())
		}
	}

	// Nothing secret, nor the user's words, in any span.
	forbidden := []string{demo.Secret, demo.Token, demo.EncodingAESKey, accessToken, "access_token", text, "echo: "}
	for _, s := range rcv.spans {
		all := s.GetName()
		for _, a := range s.GetAttributes() {
			all += " " + a.GetKey() + "=" + a.GetValue().String()
		}
		for _, e := range s.GetEvents() {
			all += " " + e.GetName()
		}
		all += " " + s.GetStatus().GetMessage()
		for _, f := range forbidden {
			if strings.Contains(all, f) {
				t.Errorf("span %s holds %q: %s", s.GetName(), f, all)
			}
		}
	}
}

// nextMsg returns the first message of stream.
func nextMsg(t *testing.T, js jetstream.JetStream, stream string) jetstream.Msg {
	t.Helper()
	c, err := js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("%s: %v", stream, err)
	}
	return m
}
