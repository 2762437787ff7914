package wxpush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxsim"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// PushConfig configures [RunPush] (wxsim push). The zero value sends one
// text push of the demo app to the demo ingress, as WeChat would.
type PushConfig struct {
	// URL is the ingress's base URL; pushes go to <URL>/wx/<appid>.
	// Default [demo.IngressURL].
	URL string
	// App is the mini program; empty fields default to the demo app.
	App App
	// Spec is the push to send. Kind defaults to "text", OpenID to
	// [demo.OpenID] and To to [demo.OriginalID]. When MsgID is empty each
	// message gets a random one ([NewMsgID]); otherwise the first push uses
	// it and the next ones count up from it. When CreateTime is 0 the pushes
	// of a run get CreateTimes one second apart that end now, so that
	// events (identified by sender, CreateTime and fields) differ too.
	Spec Spec
	// Count is the number of distinct pushes (default 1).
	Count int
	// Repeat sends each signed push this many times, byte for byte, as
	// WeChat's retries do (default 1).
	Repeat int
	// Attempts, AttemptTimeout and RetryInterval are the [Pusher]'s
	// delivery settings (default: WeChat's 3, 5 s and 5 s).
	Attempts       int
	AttemptTimeout time.Duration
	RetryInterval  time.Duration
	// SimURL is a running `wxsim serve` ([wxsim.SimURL]) told of every push, before
	// it is sent ([wxsim.RemoteRecorder]), so that its send windows open as WeChat's
	// would. "" tells no simulator; when nothing answers there, pushes
	// work all the same (failures are logged at Debug level).
	SimURL string
	// Logger receives a Debug record per attempt (default: discard).
	Logger *slog.Logger
}

// setTargetDefaults fills what push and load share: the ingress URL, the
// app and the push template default to the demo's.
func setTargetDefaults(url *string, app *App, spec *Spec) {
	if *url == "" {
		*url = demo.IngressURL
	}
	app.setDefaults()
	if spec.Kind == "" {
		spec.Kind = KindText
	}
	if spec.OpenID == "" {
		spec.OpenID = demo.OpenID
	}
	if spec.To == "" {
		spec.To = demo.OriginalID
	}
}

func (c *PushConfig) setDefaults() {
	setTargetDefaults(&c.URL, &c.App, &c.Spec)
	if c.Count == 0 {
		c.Count = 1
	}
	if c.Repeat == 0 {
		c.Repeat = 1
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem of c (after defaults) at once, each
// wrapped in [ErrInvalid].
func (c *PushConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if err := checkURL("url", c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.SimURL != "" {
		errs = append(errs, checkURL("sim url", c.SimURL))
	}
	errs = append(errs, c.App.validate(), checkSpec(&c.Spec, &c.App))
	if c.Count < 1 {
		bad("count %d: want at least 1", c.Count)
	}
	if c.Repeat < 1 {
		bad("repeat %d: want at least 1", c.Repeat)
	}
	if c.Count > 1 && c.Spec.MsgID != "" {
		if n, err := strconv.ParseInt(c.Spec.MsgID, 10, 64); err != nil || n < 0 || n > math.MaxInt64-int64(c.Count) {
			bad("msgid %q: with count > 1 it must be a decimal integer to count up from", c.Spec.MsgID)
		}
	}
	if c.Attempts < 1 {
		bad("attempts %d: want at least 1", c.Attempts)
	}
	if c.AttemptTimeout <= 0 {
		bad("attempt timeout %s: want positive", c.AttemptTimeout)
	}
	if c.RetryInterval < 0 {
		bad("retry interval %s: want 0 or more", c.RetryInterval)
	}
	return errors.Join(errs...)
}

// checkSpec validates the parts of a push template that the commands share.
func checkSpec(s *Spec, app *App) error {
	var errs []error
	if _, err := s.Message(); err != nil {
		errs = append(errs, err)
	}
	switch s.Format {
	case 0, wxcodec.FormatXML, wxcodec.FormatJSON:
	default:
		errs = append(errs, fmt.Errorf("%w: format %v", ErrInvalid, s.Format))
	}
	switch s.Mode {
	case 0, wxcodec.ModePlaintext:
	case wxcodec.ModeCompatible, wxcodec.ModeSafe:
		if app.EncodingAESKey == "" {
			errs = append(errs, fmt.Errorf("%w: %v mode needs the app's EncodingAESKey", ErrInvalid, s.Mode))
		}
	default:
		errs = append(errs, fmt.Errorf("%w: mode %v", ErrInvalid, s.Mode))
	}
	return errors.Join(errs...)
}

// RunPush sends cfg.Count distinct pushes, each cfg.Repeat times, one after
// the other with WeChat's delivery semantics ([Pusher]), and writes one
// line per send to w:
//
//	ok   kind=text format=xml mode=safe msgid=4242 status=200 attempts=1 answer=success
//
// With cfg.SimURL set, every push is reported to that simulator before it
// is sent.
// It returns an error wrapping [ErrNotDelivered] when any send was not
// delivered, [ErrInvalid] for a bad cfg, and ctx's error when ctx ends
// first (the send in flight is abandoned).
func RunPush(ctx context.Context, cfg PushConfig, w io.Writer) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	signer, err := NewSigner(cfg.URL, cfg.App)
	if err != nil {
		return err
	}
	opts := []Option{
		WithAttempts(cfg.Attempts),
		WithAttemptTimeout(cfg.AttemptTimeout),
		WithRetryInterval(cfg.RetryInterval),
		WithLogger(cfg.Logger),
	}
	if cfg.SimURL != "" {
		rec, err := wxsim.NewRemoteRecorder(cfg.SimURL, cfg.Logger)
		if err != nil {
			return err
		}
		opts = append(opts, WithRecorder(rec))
	}
	pusher, err := NewPusher(signer, opts...)
	if err != nil {
		return err
	}
	first, _ := strconv.ParseInt(cfg.Spec.MsgID, 10, 64) // checked by Validate when Count > 1
	start := time.Now()
	failed := 0
	for i := range cfg.Count {
		spec := cfg.Spec
		switch {
		case cfg.Spec.MsgID == "":
			spec.MsgID = NewMsgID()
		case cfg.Count > 1:
			spec.MsgID = strconv.FormatInt(first+int64(i), 10)
		}
		if spec.CreateTime == 0 {
			spec.CreateTime = start.Unix() - int64(cfg.Count-1-i)
		}
		req, err := signer.Sign(spec, time.Now())
		if err != nil {
			return err
		}
		for range cfg.Repeat {
			res, err := pusher.Push(ctx, req)
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if _, werr := io.WriteString(w, formatResult(req, res)); werr != nil {
				return fmt.Errorf("write result: %w", werr)
			}
			if err != nil {
				failed++
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d sends", ErrNotDelivered, failed, cfg.Count*cfg.Repeat)
	}
	return nil
}

// formatResult returns the line [RunPush] prints for one send.
func formatResult(req *Request, res Result) string {
	verdict := "ok  "
	if !res.Delivered {
		verdict = "FAIL"
	}
	msgID := req.Spec.MsgID
	if msgID == "" || req.Spec.IsEvent() {
		msgID = "-"
	}
	status := "-"
	if res.Status != 0 {
		status = strconv.Itoa(res.Status)
	}
	return fmt.Sprintf("%s kind=%s format=%v mode=%v msgid=%s status=%s attempts=%d answer=%s\n",
		verdict, req.Spec.Kind, req.Spec.Format, req.Spec.Mode, msgID, status, res.Attempts, res.Answer)
}
