package wxsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kfbridge/kfbridge/internal/baseurl"
)

// Recorder learns of the pushes that reached the bridge, as WeChat's own
// servers know which users wrote: a [Sim] opens their send windows from
// them. [*Sim] and [*RemoteRecorder] implement it. Implementations must be
// safe for concurrent use.
type Recorder interface {
	// RecordInteraction records a push of kind from openid in the
	// conversation (appid, bid) at time at (zero: the recorder's now). See
	// [Sim.RecordInteraction] for the kinds.
	RecordInteraction(appid, bid, openid, kind string, at time.Time)
}

// remoteTimeout bounds one report to a remote simulator.
const remoteTimeout = 2 * time.Second

// RemoteRecorder reports interactions and user media to a running
// `wxsim serve` over its control endpoints ([PathInteraction],
// [PathMedia]). Reports are best effort: a failure (nothing listening,
// for example) is logged at Debug level and otherwise ignored, so pushes
// work without a simulator. Each report waits at most 2 s. A
// RemoteRecorder is safe for concurrent use.
type RemoteRecorder struct {
	base   string
	client *http.Client
	logger *slog.Logger
}

// NewRemoteRecorder returns a [RemoteRecorder] for the simulator at simURL
// (for example [SimURL]) that logs failures to logger (nil: discard).
// Errors wrap [ErrInvalid] for a URL that is not absolute http(s).
func NewRemoteRecorder(simURL string, logger *slog.Logger) (*RemoteRecorder, error) {
	if err := checkURL("sim url", simURL); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RemoteRecorder{
		base:   strings.TrimSuffix(simURL, "/"),
		client: &http.Client{Timeout: remoteTimeout},
		logger: logger,
	}, nil
}

// RecordInteraction posts the interaction to the simulator; at the zero
// time leaves the time to the simulator's clock.
func (r *RemoteRecorder) RecordInteraction(appid, bid, openid, kind string, at time.Time) {
	req := map[string]any{"appid": appid, "bid": bid, "openid": openid, "kind": kind}
	if !at.IsZero() {
		req["time"] = at
	}
	r.post(PathInteraction, req)
}

// AddUserMedia posts a user's medium to the simulator.
func (r *RemoteRecorder) AddUserMedia(appid, mediaID string, data []byte, contentType string) {
	r.post(PathMedia, mediaRequest{AppID: appid, MediaID: mediaID, ContentType: contentType, Data: data})
}

// post sends v as JSON to path and logs a failure.
func (r *RemoteRecorder) post(path string, v any) {
	if err := r.postErr(path, v); err != nil {
		r.logger.Debug("simulator not told", "url", r.base+path, "err", err)
	}
}

func (r *RemoteRecorder) postErr(path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %d %s", ErrStatus, resp.StatusCode, bytes.TrimSpace(answer))
	}
	return nil
}

// checkURL reports a simulator URL that [baseurl.Check] rejects,
// wrapped in [ErrInvalid] with the URL's name.
func checkURL(name, raw string) error {
	if err := baseurl.Check(raw); err != nil {
		return fmt.Errorf("%w: %s %q: %w", ErrInvalid, name, raw, err)
	}
	return nil
}
