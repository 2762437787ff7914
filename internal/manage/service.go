package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// Defaults of [Config].
const (
	// DefaultRequestTimeout bounds the handling of one request.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxMediaBytes bounds an image downloaded for media.upload (by
	// URL or object) and a medium media.get downloads: WeChat's images are
	// at most 2 MB by one of its documents, 10 MB by another (§11.12).
	DefaultMaxMediaBytes = 10 << 20
)

// Config holds what a [Service] needs.
type Config struct {
	// Conn is the NATS connection the service subscribes on. Required.
	Conn *nats.Conn
	// API calls WeChat. Required. It, Tokens, Store and Fetcher are the
	// process's shared WeChat parts (internal/wechat), which the egress
	// uses too.
	API *wxapi.Client
	// Tokens hands out the apps' access tokens, shared with egress.
	// Required.
	Tokens *token.Manager
	// Store is the object store WXKF_MEDIA: media.get stores downloads in
	// it, media.upload reads objects from it. Required.
	Store jetstream.ObjectStore
	// Fetcher downloads images by URL (bounded in time by the request),
	// from the destinations egress.media_fetch.allow allows. Required.
	Fetcher *mediafetch.Fetcher
	// Apps are the AppIDs the service answers for (each with a secret in
	// Tokens); requests for others fail with [CodeUnknownApp].
	Apps []string
	// RequestTimeout bounds one request. Default [DefaultRequestTimeout].
	RequestTimeout time.Duration
	// MaxMediaBytes bounds images and media (see [DefaultMaxMediaBytes]).
	MaxMediaBytes int64
	// Logger; nil discards.
	Logger *slog.Logger
	// Budget reads the conversations' reply budgets for budget.get; nil
	// (egress.reply_budget off) answers [CodeBudgetOff].
	Budget *budget.Tracker
	// JetStream reads the inbound stream (WXKF_IN) for budget.get, which
	// applies the grant of the conversation's latest stored user message
	// (the ingress stores none). Required with Budget.
	JetStream jetstream.JetStream
	// Now is the clock of reply-budget windows; nil uses time.Now.
	Now func() time.Time
}

// Service is the management service. Create it with [New], serve with
// [Service.Run].
type Service struct {
	cfg       Config
	apps      map[string]bool
	validator *schemas.Validator
	logger    *slog.Logger

	serving atomic.Bool // the endpoints are registered and not stopped

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inflight drops to 0
	inflight int

	in *budget.Inbound // WXKF_IN, read by budget.get
}

// Ready reports whether the service is serving requests (for /readyz).
func (s *Service) Ready(context.Context) error {
	if !s.serving.Load() {
		return errors.New("manage: management service not serving")
	}
	return nil
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("manage: Conn is required"))
	}
	if cfg.API == nil {
		errs = append(errs, errors.New("manage: API is required"))
	}
	if cfg.Tokens == nil {
		errs = append(errs, errors.New("manage: Tokens is required"))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("manage: Store is required"))
	}
	if cfg.Fetcher == nil {
		errs = append(errs, errors.New("manage: Fetcher is required"))
	}
	if cfg.Budget != nil && cfg.JetStream == nil {
		errs = append(errs, errors.New("manage: JetStream is required with Budget"))
	}
	if cfg.RequestTimeout < 0 || cfg.MaxMediaBytes < 0 {
		errs = append(errs, errors.New("manage: RequestTimeout and MaxMediaBytes must not be negative"))
	}
	apps := map[string]bool{}
	for _, a := range cfg.Apps {
		if err := events.CheckToken("appid", a); err != nil {
			errs = append(errs, fmt.Errorf("manage: %w", err))
		}
		apps[a] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxMediaBytes == 0 {
		cfg.MaxMediaBytes = DefaultMaxMediaBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("manage schemas: %w", err)
	}
	s := &Service{cfg: cfg, apps: apps, validator: v, logger: logger, in: budget.NewInbound(cfg.JetStream)}
	s.idle = sync.NewCond(&s.mu)
	return s, nil
}

// Run registers the micro service and its endpoints and serves requests
// until ctx ends; then it stops the service, waits for the requests in hand
// to be answered, and returns nil. It returns an error when the service
// cannot be registered.
func (s *Service) Run(ctx context.Context) error {
	svc, err := micro.AddService(s.cfg.Conn, micro.Config{
		Name:        ServiceName,
		Version:     ServiceVersion,
		Description: "kfbridge: sub-merchants, customer-service accounts and media of WeChat mini programs (wxkf.api.<appid>.<op>)",
		QueueGroup:  QueueGroup,
		Metadata:    map[string]string{"subjects": SubjectPrefix + "<appid>.<op>", "schemas": "https://kfbridge.dev/schemas/" + schemas.ContractVersion + "/api/"},
	})
	if err != nil {
		return fmt.Errorf("manage: add service: %w", err)
	}
	for _, op := range operations() {
		err := svc.AddEndpoint(endpointName(op.name),
			micro.HandlerFunc(func(r micro.Request) { s.serve(op, r) }),
			micro.WithEndpointSubject(SubjectPrefix+"*."+op.name),
			micro.WithEndpointMetadata(map[string]string{
				"op":             op.name,
				"request_schema": "https://kfbridge.dev/schemas/" + schemas.ContractVersion + "/" + op.request,
				"reply_schema":   "https://kfbridge.dev/schemas/" + schemas.ContractVersion + "/" + op.reply,
			}))
		if err != nil {
			return errors.Join(fmt.Errorf("manage: endpoint %s: %w", op.name, err), svc.Stop())
		}
	}
	// Ready means the server holds every endpoint's subscription: the
	// flush is a round trip behind them.
	fctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	err = s.cfg.Conn.FlushWithContext(fctx)
	cancel()
	if err != nil && ctx.Err() == nil {
		s.logger.Warn("management service: flush after subscribing", "err", err)
	}
	s.serving.Store(true)
	s.logger.Info("management service running", "service", ServiceName, "apps", len(s.apps))
	<-ctx.Done()
	s.serving.Store(false)
	err = svc.Stop()
	s.mu.Lock()
	for s.inflight > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	s.logger.Info("management service stopped")
	if err != nil {
		return fmt.Errorf("manage: stop: %w", err)
	}
	return nil
}

// serve answers one request.
func (s *Service) serve(op operation, r micro.Request) {
	s.mu.Lock()
	s.inflight++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.inflight--; s.inflight == 0 {
			s.idle.Broadcast()
		}
		s.mu.Unlock()
	}()
	start := time.Now()
	// Calls are not cut short by shutdown: a request in hand is answered.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	trace := telemetry.ChildTraceParent(r.Headers().Get(events.HeaderTraceParent))
	ctx = wxapi.WithTraceParent(ctx, trace)
	appid := appidOf(r.Subject())
	log := s.logger.With("op", op.name, "appid", appid, "trace_id", telemetry.TraceID(trace))

	body, err := s.handle(ctx, op, appid, r.Data())
	if err != nil {
		e := failure(op.name, err)
		ans, _ := json.Marshal(answer{ErrCode: e.Code, ErrMsg: e.Msg})
		if rerr := r.Error(strconv.Itoa(e.Code), headerSafe(e.Description), ans, jsonHeader()); rerr != nil {
			log.Warn("reply not sent", "err", rerr)
		}
		level := slog.LevelDebug
		if e.Code == CodeStore || e.Code == CodeUnreachable || e.Code == CodeMaybeApplied {
			level = slog.LevelWarn
		}
		log.Log(ctx, level, "management request failed", "errcode", e.Code, "err", e.Description, "seconds", time.Since(start).Seconds())
		return
	}
	if rerr := r.Respond(body, jsonHeader()); rerr != nil {
		log.Warn("reply not sent", "err", rerr)
		return
	}
	log.Debug("management request answered", "seconds", time.Since(start).Seconds())
}

// handle checks the app and the body, then runs the op.
func (s *Service) handle(ctx context.Context, op operation, appid string, data []byte) ([]byte, error) {
	if !s.apps[appid] {
		return nil, &Error{Code: CodeUnknownApp, Msg: "app " + appid + " is not configured in this bridge"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if err := s.validator.Validate(op.request, data); err != nil {
		var verr *schemas.ValidationError
		if errors.As(err, &verr) {
			return nil, invalid("%s", violations(verr))
		}
		return nil, err
	}
	return op.handle(s, ctx, appid, data)
}

// answer is the errcode and errmsg of a reply.
type answer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func jsonHeader() micro.RespondOpt {
	return micro.WithHeaders(micro.Headers{"Content-Type": {"application/json"}})
}

// headerSafe keeps a header value on one line.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// withToken runs call with the app's access token; when WeChat rejects the
// token it gets another from the shared manager and runs call once more.
func (s *Service) withToken(ctx context.Context, appid string, call func(ctx context.Context, tok string) error) error {
	tok, err := s.cfg.Tokens.Token(ctx, appid)
	if err != nil {
		return err
	}
	err = call(ctx, tok)
	if err == nil || wxapi.ClassOf(err) != wxapi.ClassToken {
		return err
	}
	if tok, err = s.cfg.Tokens.Invalidate(ctx, appid, tok); err != nil {
		return err
	}
	return call(ctx, tok)
}

// wechat calls a JSON API with the app's token and returns WeChat's
// answer with errcode and errmsg filled in.
func (s *Service) wechat(ctx context.Context, appid, method, path string, query url.Values, body []byte) ([]byte, error) {
	var raw json.RawMessage
	err := s.withToken(ctx, appid, func(ctx context.Context, tok string) error {
		var err error
		raw, err = s.cfg.API.Call(ctx, tok, method, path, query, body)
		return err
	})
	if err != nil {
		return nil, err
	}
	return normalize(raw)
}

// normalize adds errcode 0 and errmsg "ok" to a successful answer that has
// none (WeChat's examples for several of these APIs show none).
func normalize(raw json.RawMessage) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if _, ok := obj["errcode"]; !ok {
		obj["errcode"] = json.RawMessage("0")
	}
	if _, ok := obj["errmsg"]; !ok {
		obj["errmsg"] = json.RawMessage(`"ok"`)
	}
	return json.Marshal(obj)
}
