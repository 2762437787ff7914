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
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/pkg/events"
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
	Registry *prometheus.Registry
	// Now is the clock for timestamp checks and replies; nil uses time.Now.
	Now func() time.Time
	// Rand is the randomness of encrypted replies; nil uses crypto/rand.
	Rand io.Reader
}

// app is one served mini program.
type app struct {
	codec    *wxcodec.Codec
	transfer bool
	previous prometheus.Counter // pushes that needed a previous token or key
}

// Server is the ingress HTTP server.
type Server struct {
	cfg      config.Ingress
	apps     map[string]*app
	pub      *events.Publisher
	ready    func(context.Context) error
	logger   *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	now      func() time.Time
	rand     io.Reader
	engine   *gin.Engine
	bodies   sync.Pool
	draining atomic.Bool
}

// New validates cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.JetStream == nil {
		return nil, errors.New("ingress: JetStream is required")
	}
	s := &Server{
		cfg:      cfg.Ingress,
		apps:     make(map[string]*app, len(cfg.Apps)),
		pub:      events.NewPublisher(cfg.JetStream, events.WithAckTimeout(cfg.Ingress.PublishTimeout)),
		ready:    cfg.Ready,
		logger:   cfg.Logger,
		registry: cfg.Registry,
		now:      cfg.Now,
		rand:     cfg.Rand,
		bodies:   sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }},
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
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
	m, err := newMetrics(s.registry)
	if err != nil {
		return nil, fmt.Errorf("ingress metrics: %w", err)
	}
	s.metrics = m
	var errs []error
	for _, a := range cfg.Apps {
		c, err := newCodec(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", a.AppID, err))
			continue
		}
		s.apps[a.AppID] = &app{codec: c, transfer: a.PassiveReply == config.ReplyTransfer,
			previous: m.previous.WithLabelValues(a.AppID)}
		if c.Accepts(wxcodec.ModePlaintext) {
			s.logger.Warn("app accepts plaintext pushes: their signature does not cover the body, so whoever sees one push URL can forge pushes for the timestamp window",
				"appid", a.AppID, "modes", a.AcceptedModes())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.engine = s.routes()
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

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.GET("/wx/:appid", s.verify)
	r.POST("/wx/:appid", s.push)
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.GET("/readyz", s.readyz)
	metrics := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	r.GET("/metrics", gin.WrapH(metrics))
	return r
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.engine }

// ListenAndServe listens on the configured address and serves until ctx
// ends, then shuts down gracefully.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("ingress listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends. Then it stops accepting, lets in-flight
// requests finish (bounded by the configured shutdown timeout) and returns
// nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
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
	s.logger.Info("ingress listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS.CertFile != "", "apps", len(s.apps))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ingress serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("ingress shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ingress serve: %w", err)
	}
	s.logger.Info("ingress stopped")
	return nil
}

func (s *Server) readyz(c *gin.Context) {
	if s.draining.Load() {
		c.String(http.StatusServiceUnavailable, "shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		c.String(http.StatusServiceUnavailable, "not ready: %v", err)
		return
	}
	c.String(http.StatusOK, "ready")
}
