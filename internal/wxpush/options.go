package wxpush

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// WeChat's delivery behaviour, the defaults of a [Pusher].
const (
	// DefaultAttempts is how often WeChat tries a push ("about three
	// tries" in total).
	DefaultAttempts = 3
	// DefaultAttemptTimeout is how long WeChat waits for an answer.
	DefaultAttemptTimeout = 5 * time.Second
	// DefaultRetryInterval is the time from the start of one attempt to
	// the start of the next.
	DefaultRetryInterval = 5 * time.Second
)

// Option configures a [Pusher].
type Option func(*options) error

type options struct {
	client   *http.Client
	attempts int
	timeout  time.Duration
	interval time.Duration
	logger   *slog.Logger
	recorder wxsim.Recorder // nil: none
}

// WithHTTPClient sends pushes with c instead of a client that does not
// follow redirects. Redirects that c follows are not what WeChat does.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: nil HTTP client", ErrInvalid)
		}
		o.client = c
		return nil
	}
}

// WithAttempts sets how many times a push is tried in total (at least 1;
// default [DefaultAttempts]).
func WithAttempts(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: attempts %d: want at least 1", ErrInvalid, n)
		}
		o.attempts = n
		return nil
	}
}

// WithAttemptTimeout sets how long one attempt waits for the complete
// answer (default [DefaultAttemptTimeout]).
func WithAttemptTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: attempt timeout %s: want positive", ErrInvalid, d)
		}
		o.timeout = d
		return nil
	}
}

// WithRetryInterval sets the time from the start of an attempt to the
// start of the next (default [DefaultRetryInterval]). An attempt that takes
// longer is followed at once by the next.
func WithRetryInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: retry interval %s: want 0 or more", ErrInvalid, d)
		}
		o.interval = d
		return nil
	}
}

// WithLogger logs every attempt at Debug level to l (default: nothing).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalid)
		}
		o.logger = l
		return nil
	}
}

// validate rejects conflicting options.
func (o *options) validate() error {
	if o.client.Timeout > 0 && o.client.Timeout < o.timeout {
		return fmt.Errorf("%w: HTTP client timeout %s is below the attempt timeout %s", ErrInvalid, o.client.Timeout, o.timeout)
	}
	return nil
}
