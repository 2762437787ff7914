// Package wechat builds the WeChat parts that a kfbridge process shares
// between the egress and the management service: the API client, the
// access-token manager, the media object store and the fetcher of images by
// URL. The bridge builds them once, with [New], and hands each to both in
// their Config structs, so the process keeps one token per app, obeys one
// allow list for downloads and reads one object store.
//
// # Usage
//
//	wx, err := wechat.New(ctx, wechat.Config{JS: js, Egress: cfg.Egress, Streams: cfg.NATS.Streams, Apps: cfg.Apps})
//	eg, err := egress.New(egress.Config{..., API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Media: wx.Media})
//	mg, err := manage.New(manage.Config{..., API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Store: wx.Media})
//
// # Lifecycle
//
// [Parts] owns what it built, and none of it runs in the background: the
// token manager fetches on demand (a lookup it shares between callers ends
// within token.Config.LookupTimeout), the client and the fetcher hold only
// idle HTTP connections, and the object store is a JetStream handle. So
// there is nothing to start or stop: the parts live as long as the NATS
// connection they were built on, and the process closes that connection
// after the egress and the management service have stopped.
//
// # Concurrency
//
// Every part is safe for concurrent use; that is what sharing them needs.
//
// # Errors
//
// [New] names every missing or invalid field of [Config] at once, and wraps
// a failed bucket or store creation with its name.
package wechat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"go.opentelemetry.io/otel/trace"
)

// MediaStore is the object store of images: bots put images there for image
// commands and media.upload, media.get stores downloaded media there.
const MediaStore = "WXKF_MEDIA"

// mediaTTL is how long an object stays in [MediaStore].
const mediaTTL = 7 * 24 * time.Hour

// Config holds what [New] needs.
type Config struct {
	// JS is JetStream, where the token bucket and the media store live.
	// Required.
	JS jetstream.JetStream
	// Egress configures the calls to WeChat: API base, call timeout, token
	// mode and the allow list of image downloads.
	Egress config.Egress
	// Streams holds replicas, storage and the media store's size cap.
	Streams config.Streams
	// Apps are the mini programs; each needs a Secret for its tokens.
	Apps []config.App
	// Logger; nil discards.
	Logger *slog.Logger
	// Registry receives the token refresh counter; nil creates one. When
	// it holds the counter already, from an earlier New, New counts there.
	Registry prometheus.Registerer
	// Now is the clock of the token manager; nil uses time.Now.
	Now func() time.Time
	// TracerProvider, when set, records a client span per API call
	// (wxapi.WithTracerProvider); nil records none.
	TracerProvider trace.TracerProvider
}

// Parts are the shared WeChat parts of one process. Build them with [New].
type Parts struct {
	// API calls WeChat.
	API *wxapi.Client
	// Tokens hands out the apps' access tokens, shared through the
	// token.BucketName bucket with every replica.
	Tokens *token.Manager
	// Fetcher downloads images by URL from the destinations
	// egress.media_fetch allows.
	Fetcher *mediafetch.Fetcher
	// Media is the [MediaStore] object store.
	Media jetstream.ObjectStore
}

// New validates cfg, creates (or updates) the token bucket and the media
// store, and builds the parts. It is idempotent; every replica calls it at
// start, and parts built again with the same Registry count their token
// refreshes on the counter the first registered.
func New(ctx context.Context, cfg Config) (*Parts, error) {
	var errs []error
	if cfg.JS == nil {
		errs = append(errs, errors.New("wechat: JS is required"))
	}
	secrets := map[string]string{}
	for _, a := range cfg.Apps {
		if a.Secret.Value() == "" {
			errs = append(errs, fmt.Errorf("wechat: app %s has no secret", a.AppID))
			continue
		}
		secrets[a.AppID] = a.Secret.Value()
	}
	api, err := wxapi.New(cfg.Egress.APIBase, wxapi.WithTimeout(cfg.Egress.CallTimeout), wxapi.WithTracerProvider(cfg.TracerProvider))
	if err != nil {
		errs = append(errs, fmt.Errorf("wechat: egress.api_base, egress.call_timeout: %w", err))
	}
	fetcher, err := mediafetch.New(mediafetch.Config{Allow: cfg.Egress.MediaFetch.Allow})
	if err != nil {
		errs = append(errs, fmt.Errorf("wechat: egress.media_fetch: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	refreshes, err := counterVec(reg, prometheus.CounterOpts{
		Name: "kfbridge_egress_token_refreshes_total",
		Help: "Access tokens fetched from WeChat, by app and kind (stable, stable_forced, classic).",
	}, "appid", "kind")
	if err != nil {
		return nil, err
	}
	refreshFailures, err := counterVec(reg, prometheus.CounterOpts{
		Name: "kfbridge_egress_token_refresh_failures_total",
		Help: "Access token fetches from WeChat that failed (WeChat's error, timeout or network), by app.",
	}, "appid")
	if err != nil {
		return nil, err
	}

	storage := cfg.Streams.StorageType()
	kv, err := cfg.JS.CreateOrUpdateKeyValue(ctx, token.BucketConfig(cfg.Streams.Replicas, storage))
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", token.BucketName, err)
	}
	tokens, err := token.New(kv, api, secrets, token.Config{
		Mode: cfg.Egress.Token.Mode, ForceDailyCap: cfg.Egress.Token.ForceDailyCap, Logger: cfg.Logger, Now: cfg.Now,
		OnRefresh:       func(appid, kind string) { refreshes.WithLabelValues(appid, kind).Inc() },
		OnRefreshFailed: func(appid string) { refreshFailures.WithLabelValues(appid).Inc() },
	})
	if err != nil {
		return nil, fmt.Errorf("wechat: %w", err)
	}
	media, err := cfg.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: MediaStore, Description: "kfbridge: images for image commands and downloaded user media",
		TTL: mediaTTL, Replicas: cfg.Streams.Replicas, Storage: storage, MaxBytes: cfg.Streams.MaxBytes.Media,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", MediaStore, err)
	}
	return &Parts{API: api, Tokens: tokens, Fetcher: fetcher, Media: media}, nil
}

// counterVec registers a counter on reg, or returns the one a New before
// this one registered there (parts built twice on one registry count in one
// place).
func counterVec(reg prometheus.Registerer, opts prometheus.CounterOpts, labels ...string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(opts, labels)
	if err := reg.Register(c); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if !errors.As(err, &dup) {
			return nil, fmt.Errorf("wechat metrics: %w", err)
		}
		existing, ok := dup.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, fmt.Errorf("wechat metrics: %w", err)
		}
		return existing, nil
	}
	return c, nil
}
