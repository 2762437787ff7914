package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/handover"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// successBody is WeChat's "received, nothing to say" answer.
var successBody = []byte("success")

// verify answers WeChat's GET URL verification with the echostr.
func (s *Server) verify(c *gin.Context) {
	appid := c.Param("appid")
	a, ok := s.apps[appid]
	if !ok {
		s.reject(c, "", errUnknownApp)
		return
	}
	echo, err := a.codec.VerifyURL(wxcodec.ParseRawQuery(c.Request.URL.RawQuery))
	if err != nil {
		s.reject(c, appid, err)
		return
	}
	s.logger.Info("url verified", "appid", appid)
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(echo))
}

// push handles one POSTed push: verify, decode, publish, then answer.
func (s *Server) push(c *gin.Context) {
	appid := c.Param("appid")
	a, ok := s.apps[appid]
	if !ok {
		s.reject(c, "", errUnknownApp)
		return
	}
	if s.draining.Load() {
		// Not accepted: WeChat retries, possibly at another replica.
		s.reject(c, appid, errShuttingOff)
		return
	}
	s.metrics.inflight.Inc()
	defer s.metrics.inflight.Dec()
	var span trace.Span // nil: tracing off
	if s.tracer != nil {
		span = s.startSpan(c, appid)
		defer span.End()
	}

	bp := s.bodies.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			s.bodies.Put(bp)
		}
	}()
	body, err := readBody(c.Request, (*bp)[:0], s.cfg.MaxBodyBytes)
	*bp = body
	if err != nil {
		s.reject(c, appid, err)
		return
	}
	q := wxcodec.ParseRawQuery(c.Request.URL.RawQuery)
	if s.cfg.TimestampWindow > 0 {
		if err := wxcodec.CheckTimestamp(q.Timestamp, s.now(), s.cfg.TimestampWindow); err != nil {
			s.reject(c, appid, err)
			return
		}
	}
	p, err := a.codec.Decode(q, body)
	if err != nil {
		s.reject(c, appid, err)
		return
	}
	if p.Previous != 0 {
		a.previous.Inc()
	}
	in, err := events.NewInbound(appid, &p.Message)
	if err != nil {
		s.reject(c, appid, err)
		return
	}

	// A verified push: its connection is no longer evicted at the cap.
	s.conns.busy(c.Request.Context())
	// The publish must not die with the request: a client that hangs up
	// would otherwise leave the outcome unknown. The publisher bounds it
	// on its own (publish_timeout).
	ctx := context.WithoutCancel(c.Request.Context())
	s.grant(ctx, &in)
	tp := ""
	var pspan trace.Span
	if span != nil {
		// The event continues the ingress span: bots and the egress
		// answer under it. The publish is its child.
		tp = telemetry.TraceParentOf(span)
		span.SetAttributes(attribute.String("kfbridge.kind", kindLabel(in.Kind)))
		ctx, pspan = s.tracer.Start(ctx, "publish "+events.InboundStreamName, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", events.InboundStreamName)))
	} else {
		tp = s.traceParent(c.Request)
	}
	in.TraceParent = tp             // the envelope's attribute, equal to the header
	var decision *handover.Decision // nil: no handover decision for this push
	if a.handover != nil {
		decision = a.handover.Begin(ctx, &in, tp)
	}
	start := time.Now()
	ack, err := s.pub.PublishInbound(ctx, &in, tp)
	s.metrics.publish.Observe(time.Since(start).Seconds())
	if err != nil {
		decision.Abandon()
	}
	if pspan != nil {
		if err != nil {
			pspan.SetStatus(codes.Error, "publish failed")
		} else {
			pspan.SetAttributes(attribute.Bool("kfbridge.duplicate", ack.Duplicate))
		}
		pspan.End()
	}
	if err != nil && tooLargeForNATS(err) {
		// Never stored, and a retry would not fit either: 413 stops WeChat.
		s.reject(c, appid, fmt.Errorf("%w: %w", errEventTooLarge, err))
		return
	}
	if err != nil {
		s.metrics.push(appid, in.Kind, outcomeFailed)
		s.logger.Error("push not stored; WeChat will retry", "appid", appid, "subject", in.Subject, "event_id", in.ID, "err", err)
		status, _ := statusOf(errPublish)
		endSpan(span, outcomeFailed, status)
		c.Data(status, "text/plain; charset=utf-8", []byte("publish failed"))
		return
	}
	outcome := outcomePublished
	if ack.Duplicate {
		outcome = outcomeDuplicate
	}
	s.metrics.push(appid, in.Kind, outcome)
	endSpan(span, outcome, http.StatusOK)
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.Debug("push stored", "appid", appid, "subject", in.Subject, "event_id", in.ID,
			"event_type", in.Type, "mode", p.Mode.String(), "format", p.Format.String(), "seq", ack.Sequence, "duplicate", ack.Duplicate)
	}
	s.answer(c, a, q, &p, decision.Finish(ctx))
}

// answer writes the passive reply: success, or transfer_customer_service
// for a user message handed over (encrypted in encrypted modes).
func (s *Server) answer(c *gin.Context, a *app, q wxcodec.Query, p *wxcodec.Push, transfer bool) {
	if !transfer || p.Message.MsgType == events.MsgTypeEvent {
		writeSuccess(c)
		return
	}
	now := s.now()
	reply := wxcodec.EncodeReply(p.Format, wxcodec.TransferReply(p.Message, now))
	if p.Mode != wxcodec.ModePlaintext {
		enc, err := a.codec.EncryptReplyFor(p, s.rand, reply, now.Unix(), q.Nonce)
		if err != nil {
			// The push is stored; an empty answer is still a valid "received".
			s.logger.Error("encrypt passive reply", "appid", a.codec.AppID(), "err", err)
			c.Data(http.StatusOK, "text/plain; charset=utf-8", successBody)
			return
		}
		reply = enc
	}
	ct := "application/xml; charset=utf-8"
	if p.Format == wxcodec.FormatJSON {
		ct = "application/json; charset=utf-8"
	}
	c.Data(http.StatusOK, ct, reply)
}

// writeSuccess answers "success", setting no header itself: net/http then
// declares the body text/plain; charset=utf-8 by sniffing it, and does not
// have to copy the header map, which counts at this rate.
func writeSuccess(c *gin.Context) {
	c.Status(http.StatusOK)
	c.Writer.Write(successBody)
}

// reject answers a request that was not published and says why in the log.
func (s *Server) reject(c *gin.Context, appid string, err error) {
	status, reason := statusOf(err)
	label := appid
	if label == "" {
		label = "unknown"
	}
	s.metrics.rejected.WithLabelValues(label, reason).Inc()
	if span := trace.SpanFromContext(c.Request.Context()); span.IsRecording() {
		span.SetAttributes(attribute.String("kfbridge.reason", reason))
		endSpan(span, "rejected", status)
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	s.logger.Log(c.Request.Context(), level, "push rejected",
		"appid", appid, "status", status, "reason", reason, "remote", c.ClientIP(), "err", err)
	c.Data(status, "text/plain; charset=utf-8", []byte(http.StatusText(status)+": "+reason))
}

// readBody reads at most limit bytes of r's body into buf.
func readBody(r *http.Request, buf []byte, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return buf, errTooLarge
	}
	body := http.MaxBytesReader(nil, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				return buf, errTooLarge
			}
			return buf, errors.Join(errReadBody, err)
		}
	}
}

// traceParent returns the request's W3C traceparent when it carries a
// well-formed one (a tracing reverse proxy in front), or starts a new trace.
func (s *Server) traceParent(r *http.Request) string {
	if tp := r.Header.Get("Traceparent"); telemetry.ValidTraceParent(tp) {
		return tp
	}
	return telemetry.NewTraceParent()
}

// startSpan starts the server span of a push to a configured app: a child
// of the request's traceparent (a tracing proxy in front) or a new trace.
// The request carries it from then on (reject finds it there).
func (s *Server) startSpan(c *gin.Context, appid string) trace.Span {
	r := c.Request
	ctx, span := s.tracer.Start(telemetry.RemoteParent(r.Context(), r.Header.Get("Traceparent")), "POST /wx/{appid}",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", http.MethodPost), attribute.String("http.route", "/wx/{appid}"),
			attribute.String("kfbridge.appid", appid)))
	c.Request = r.WithContext(ctx)
	return span
}

// endSpan sets a push's outcome and status on its span (nil: tracing off).
func endSpan(span trace.Span, outcome string, status int) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.String("kfbridge.outcome", outcome), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, outcome)
	}
}
