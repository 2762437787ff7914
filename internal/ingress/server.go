package ingress

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/handover"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Config holds what a [Server] needs.
type Config struct {
	// Ingress holds listen address, limits and timeouts.
	Ingress config.Ingress
	// Apps lists the mini programs served; each needs a Token.
	Apps []config.App
	// JetStream stores pushes. Required.
	JetStream jetstream.JetStream
	// Ready reports whether NATS and the stream are usable (/readyz).
	// Nil always reports ready.
	Ready func(context.Context) error
	// Logger receives request logs; nil discards.
	Logger *slog.Logger
	// Registry receives the metrics served on /metrics; nil creates one
	// with the Go and process collectors.
	Registry telemetry.Registry
	// Now is the clock for timestamp checks and replies; nil uses time.Now.
	Now func() time.Time
	// Rand is the randomness of encrypted replies; nil uses crypto/rand.
	Rand io.Reader
	// Budget, when set, tracks reply budgets: each user message and
	// user_enter_tempsession grants its conversation's budget (a message
	// concurrently with its event's publish, an enter-session before it),
	// and the event carries data.reply_budget. Nil
	// tracks nothing (egress.reply_budget off).
	Budget *budget.Tracker
	// HandoverKV is the conversation bucket (handover.BucketName).
	// Required when an app hands messages over (apps[].handover).
	HandoverKV jetstream.KeyValue
	// TracerProvider, when set, records a server span per push (with the
	// publish as its child) and makes the event's traceparent that span's;
	// nil records none.
	TracerProvider trace.TracerProvider
}

// app is one served mini program.
type app struct {
	codec    *wxcodec.Codec
	handover *handover.App      // nil: the app never hands over
	previous prometheus.Counter // pushes that needed a previous token or key
}

// Server is the ingress HTTP server.
type Server struct {
	cfg      config.Ingress
	apps     map[string]*app
	pub      *Publisher
	ready    func(context.Context) error
	logger   *slog.Logger
	registry telemetry.Registry
	metrics  *metrics
	handover *handover.Handover
	now      func() time.Time
	rand     io.Reader
	engine   *gin.Engine
	admin    http.Handler
	conns    *connLimiter
	bodies   sync.Pool
	draining atomic.Bool
	budget   *budget.Tracker
	js       jetstream.JetStream
	in       *budget.Inbound // WXKF_IN, read by enter-session grants
	tracer   trace.Tracer    // nil: tracing off
}

// New validates cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.JetStream == nil {
		return nil, errors.New("ingress: JetStream is required")
	}
	// A body over the server's max_payload could never be stored; its
	// event is larger still (envelope, JSON escapes). Pushes whose event
	// does not fit are answered 413 one by one.
	if nc := cfg.JetStream.Conn(); nc != nil {
		if mp := nc.MaxPayload(); mp > 0 && cfg.Ingress.MaxBodyBytes > mp {
			return nil, fmt.Errorf("%w: ingress.max_body_bytes %d exceeds the NATS server's max_payload %d: such a push could never be stored; lower ingress.max_body_bytes (or raise max_payload)",
				config.ErrInvalid, cfg.Ingress.MaxBodyBytes, mp)
		}
	}
	s := &Server{
		cfg:      cfg.Ingress,
		apps:     make(map[string]*app, len(cfg.Apps)),
		js:       cfg.JetStream,
		in:       budget.NewInbound(cfg.JetStream),
		pub:      NewPublisher(cfg.JetStream, WithAckTimeout(cfg.Ingress.PublishTimeout)),
		ready:    cfg.Ready,
		logger:   cfg.Logger,
		registry: cfg.Registry,
		now:      cfg.Now,
		rand:     cfg.Rand,
		tracer:   telemetry.Tracer(cfg.TracerProvider),
		bodies:   sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }},
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Budget != nil {
		// Grants are written through the ingress's own publisher.
		s.budget = cfg.Budget.WithWriter(s.pub.PublishExpect)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	if s.registry == nil {
		s.registry = telemetry.NewRegistry()
	}
	maxConns := cfg.Ingress.MaxConns
	if maxConns == 0 {
		maxConns = defaultMaxConns()
	}
	s.cfg.MaxConns = maxConns
	s.conns = newConnLimiter(maxConns, nil)
	m, err := newMetrics(s.registry, s.conns.Open)
	if err != nil {
		return nil, fmt.Errorf("ingress metrics: %w", err)
	}
	s.metrics = m
	s.conns.onEvict = m.evicted.Inc
	s.handover, err = handover.New(handover.Config{Apps: cfg.Apps, JetStream: cfg.JetStream, KV: cfg.HandoverKV,
		Registry: s.registry, Logger: s.logger, Now: s.now})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range cfg.Apps {
		c, err := newCodec(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", a.AppID, err))
			continue
		}
		s.apps[a.AppID] = &app{codec: c, handover: s.handover.App(a.AppID),
			previous: m.previous.WithLabelValues(a.AppID)}
		if c.Accepts(wxcodec.ModePlaintext) {
			s.logger.Warn("app accepts plaintext pushes: their signature does not cover the body, so whoever sees one push URL can forge pushes for the timestamp window",
				"appid", a.AppID, "modes", a.AcceptedModes())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.engine, err = s.routes(); err != nil {
		return nil, err
	}
	s.admin = s.adminRoutes()
	return s, nil
}

// newCodec returns the codec of app a: its accepted modes and, during a
// rotation, its previous token and key.
func newCodec(a config.App) (*wxcodec.Codec, error) {
	var modes []wxcodec.Mode
	for _, name := range a.AcceptedModes() {
		m, err := wxcodec.ParseMode(name)
		if err != nil {
			return nil, err
		}
		modes = append(modes, m)
	}
	opts := []wxcodec.Option{wxcodec.WithModes(modes...)}
	if a.PreviousToken != "" || a.PreviousEncodingAESKey != "" {
		opts = append(opts, wxcodec.WithPrevious(a.PreviousToken.Value(), a.PreviousEncodingAESKey.Value()))
	}
	return wxcodec.New(a.AppID, a.Token.Value(), a.EncodingAESKey.Value(), opts...)
}

// routes are the public listener's: pushes, and /healthz for a load
// balancer in front.
func (s *Server) routes() (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Only configured proxies may name the client (X-Forwarded-For,
	// X-Real-IP); gin trusts every peer unless told otherwise.
	if err := r.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("ingress.trusted_proxies: %w", err)
	}
	r.HandleMethodNotAllowed = true
	r.GET("/wx/:appid", s.verify)
	r.POST("/wx/:appid", s.push)
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return r, nil
}

// adminRoutes are the admin listener's: health, readiness and metrics.
func (s *Server) adminRoutes() http.Handler {
	return telemetry.HealthHandler(s.registry, s.readyCheck)
}

// Handler returns the HTTP handler of the public listener: /wx/<appid>
// and /healthz.
func (s *Server) Handler() http.Handler { return s.engine }

// AdminHandler returns the HTTP handler of the admin listener: /healthz,
// /readyz and /metrics.
func (s *Server) AdminHandler() http.Handler { return s.admin }

// ListenAndServe listens on the configured push and admin addresses and
// serves both until ctx ends, then shuts down gracefully. When either
// server fails, it shuts down the other and returns the first error
// (joined with the other's, if any).
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("ingress listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("ingress admin listen: %w", err)
	}
	// Whichever server stops first (ctx ended, or it failed, e.g. on bad
	// TLS files) stops the other: a process serving only /readyz while
	// pushes are refused would look healthy.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- s.ServeAdmin(ctx, adminLn) }()
	go func() { errc <- s.Serve(ctx, ln) }()
	first := <-errc
	cancel()
	return errors.Join(first, <-errc)
}

// Serve serves pushes on ln until ctx ends. Then it stops accepting, lets
// in-flight requests finish (bounded by the configured shutdown timeout)
// and returns nil after a clean shutdown. At most ingress.max_conns
// connections are open at once (see [Config]); call it once per Server.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ln = s.conns.listener(ln)
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnState:         s.conns.connState,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if t := s.cfg.TLS; t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("ingress tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.logger.Info("ingress listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS.CertFile != "", "apps", len(s.apps),
		"max_conns", s.cfg.MaxConns)
	if err := s.serveUntil(ctx, "ingress", srv, ln, func() { s.draining.Store(true) }); err != nil {
		return err
	}
	s.logger.Info("ingress stopped")
	return nil
}

// ServeAdmin serves /healthz, /readyz and /metrics on ln until ctx ends,
// then shuts down and returns nil. /readyz answers 503 as soon as the push
// listener starts draining. Its connections are capped apart from the
// push listener's, so a flood there does not hide the process's health.
func (s *Server) ServeAdmin(ctx context.Context, ln net.Listener) error {
	limit := newConnLimiter(adminMaxConns, nil)
	srv := &http.Server{
		Handler:           s.admin,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		ConnState:         limit.connState,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.logger.Info("ingress admin listening", "addr", ln.Addr().String())
	return s.serveUntil(ctx, "ingress admin", srv, limit.listener(ln), func() {})
}

// serveUntil serves srv on ln until ctx ends or serving fails; when ctx
// ends it calls draining, then shuts srv down within the configured
// shutdown timeout. name ("ingress", "ingress admin") prefixes its errors.
func (s *Server) serveUntil(ctx context.Context, name string, srv *http.Server, ln net.Listener, draining func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s serve: %w", name, err)
	case <-ctx.Done():
	}
	draining()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s shutdown: %w", name, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s serve: %w", name, err)
	}
	return nil
}

// readyCheck fails once the push listener drains, else asks Config.Ready.
func (s *Server) readyCheck(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("shutting down")
	}
	return s.ready(ctx)
}
