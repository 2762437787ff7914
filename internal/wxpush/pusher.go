package wxpush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Pusher delivers signed pushes the way WeChat does: each attempt waits at
// most the attempt timeout (5 s) for the answer; a push is delivered only
// when [Signer.CheckAnswer] accepts the answer; otherwise the identical
// request is sent again, each attempt starting the retry interval (5 s)
// after the previous one started, until the attempts (3) are used up. A
// Pusher is safe for concurrent use.
type Pusher struct {
	signer *Signer
	opts   options
}

// Result is the outcome of [Pusher.Push].
type Result struct {
	// Delivered is true when an attempt's answer was accepted.
	Delivered bool
	// Attempts is the number of attempts made.
	Attempts int
	// Status is the HTTP status of the last attempt, 0 when it got none.
	Status int
	// Answer says what the last attempt got: one of [AnswerSuccess],
	// [AnswerEmpty], [AnswerTransfer], [AnswerTransferEncrypted] when
	// delivered, else the quoted start of the body or what went wrong.
	Answer string
}

// NewPusher returns a [Pusher] that checks answers with s. Errors wrap
// [ErrInvalid] for a bad or conflicting option.
func NewPusher(s *Signer, opts ...Option) (*Pusher, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil Signer", ErrInvalid)
	}
	o := options{
		attempts: DefaultAttempts,
		timeout:  DefaultAttemptTimeout,
		interval: DefaultRetryInterval,
		logger:   slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.client == nil {
		o.client = &http.Client{
			// WeChat does not follow redirects: a 3xx is not a 200.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Pusher{signer: s, opts: o}, nil
}

// Push sends req until it is delivered or the attempts are used up, and
// returns what happened. The error is nil when the push was delivered;
// otherwise it wraps [ErrNotDelivered] and the last attempt's reason
// ([ErrStatus], [ErrTimeout], [ErrReply] or the transport error). When ctx
// ends, Push stops at once and returns ctx's error. With [WithRecorder],
// the push is reported to the recorder before the first attempt.
func (p *Pusher) Push(ctx context.Context, req *Request) (Result, error) {
	var res Result
	// WeChat knows of the user's message before it pushes it: the send
	// window opens first, so a fast bot's reply never races the push.
	p.record(req)
	for {
		start := time.Now()
		res.Attempts++
		status, answer, err := p.attempt(ctx, req)
		res.Status, res.Answer = status, answer
		if ctxErr := ctx.Err(); ctxErr != nil {
			return res, fmt.Errorf("push %s: %w", req.Spec.Kind, ctxErr)
		}
		p.opts.logger.Debug("push attempt", "kind", req.Spec.Kind, "msg_id", req.Spec.MsgID,
			"attempt", res.Attempts, "status", status, "answer", answer, "err", err)
		if err == nil {
			res.Delivered = true
			return res, nil
		}
		if res.Attempts >= p.opts.attempts {
			return res, fmt.Errorf("%w after %d attempts: %w", ErrNotDelivered, res.Attempts, err)
		}
		if wait := p.opts.interval - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return res, fmt.Errorf("push %s: %w", req.Spec.Kind, ctx.Err())
			case <-t.C:
			}
		}
	}
}

// attempt sends req once and checks the answer.
func (p *Pusher) attempt(ctx context.Context, req *Request) (status int, answer string, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return 0, err.Error(), err
	}
	hreq.Header.Set("Content-Type", req.ContentType())
	hreq.Header.Set("User-Agent", "wxsim")
	resp, err := p.opts.client.Do(hreq)
	if err != nil {
		answer, err = p.describe(ctx, err)
		return 0, answer, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if err != nil {
		_, err = p.describe(ctx, err)
		return resp.StatusCode, "reading the answer: " + err.Error(), err
	}
	answer, err = p.signer.CheckAnswer(req, resp.StatusCode, body)
	return resp.StatusCode, answer, err
}

// describe turns a transport error into an answer text and error; a
// deadline of the attempt becomes [ErrTimeout].
func (p *Pusher) describe(ctx context.Context, err error) (string, error) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", p.opts.timeout),
			fmt.Errorf("%w: %s", ErrTimeout, p.opts.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error(), err // without the long signed URL
	}
	return err.Error(), err
}
