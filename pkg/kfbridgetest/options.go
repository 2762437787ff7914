package kfbridgetest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// Option configures a [Bridge] started by [New] or [Start].
type Option func(*options) error

type options struct {
	logger      *slog.Logger
	format      wxcodec.Format
	mode        wxcodec.Mode
	waitTimeout time.Duration
	botUser     string
	botPassword string
	replyBudget string
}

// WithLogger sends the bridge's logs to l (default: discarded).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalid)
		}
		o.logger = l
		return nil
	}
}

// WithPushFormat sends the pushes in format f (XML or JSON) and mode m
// (plaintext, compatible or safe) instead of WeChat's default, XML in
// safe mode; the bridge accepts mode m from the app, as with the app's
// modes set to m alone in its configuration.
func WithPushFormat(f wxcodec.Format, m wxcodec.Mode) Option {
	return func(o *options) error {
		if f != wxcodec.FormatXML && f != wxcodec.FormatJSON {
			return fmt.Errorf("%w: push format %v", ErrInvalid, f)
		}
		switch m {
		case wxcodec.ModePlaintext, wxcodec.ModeCompatible, wxcodec.ModeSafe:
		default:
			return fmt.Errorf("%w: push mode %v", ErrInvalid, m)
		}
		o.format, o.mode = f, m
		return nil
	}
}

// WithWaitTimeout bounds [Bridge.WaitDelivered], [Bridge.WaitResult] and
// [Bridge.Results] when their context has no deadline (default 30 s).
func WithWaitTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: wait timeout %v", ErrInvalid, d)
		}
		o.waitTimeout = d
		return nil
	}
}

// WithBotUser makes the embedded NATS server require authentication and
// gives the bot the account a production bridge gives it (nats.embedded.users
// with role bot): it may publish commands, request the management API and
// pull from the durable consumers named user on WXKF_IN and WXKF_RESULT,
// which the bridge creates; nothing else. [Bridge.NATSOptions] then holds
// the credentials. The user "kfbridgetest" is the harness's own.
func WithBotUser(user, password string) Option {
	return func(o *options) error {
		if user == "" || password == "" {
			return fmt.Errorf("%w: bot user and password are required", ErrInvalid)
		}
		if user == harnessUser {
			return fmt.Errorf("%w: bot user %q is the harness's own", ErrInvalid, user)
		}
		o.botUser, o.botPassword = user, password
		return nil
	}
}

// WithReplyBudget sets the bridge's egress.reply_budget: "observe" (the
// default: budgets tracked, over-budget sends made and marked), "enforce"
// (over-budget sends refused before WeChat with reason budget) or "off".
// Events and results carry reply_budget unless it is "off".
func WithReplyBudget(mode string) Option {
	return func(o *options) error {
		switch mode {
		case "observe", "enforce", "off":
		default:
			return fmt.Errorf("%w: reply budget %q: want observe, enforce or off", ErrInvalid, mode)
		}
		o.replyBudget = mode
		return nil
	}
}

func newOptions(opts []Option) (options, error) {
	o := options{
		logger:      slog.New(slog.DiscardHandler),
		format:      wxcodec.FormatXML,
		mode:        wxcodec.ModeSafe,
		waitTimeout: 30 * time.Second,
	}
	var errs []error
	for _, opt := range opts {
		if opt == nil {
			errs = append(errs, fmt.Errorf("%w: nil Option", ErrInvalid))
			continue
		}
		if err := opt(&o); err != nil {
			errs = append(errs, err)
		}
	}
	return o, errors.Join(errs...)
}
