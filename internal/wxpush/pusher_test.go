package wxpush

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// hang is an answer body that makes the fake ingress never answer.
const hang = "\x00hang"

// received is one request as the fake ingress saw it.
type received struct {
	method, path, rawQuery, contentType string
	body                                []byte
}

// fakeIngress is an httptest server that records every request and answers
// the n-th one (from 1) with answer(n).
type fakeIngress struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

// newFakeIngress starts a fake ingress and closes it when the test ends.
// answer returns the status and body of the n-th request; the body [hang]
// keeps the request open until the client gives up.
func newFakeIngress(tb testing.TB, answer func(n int) (int, string)) *fakeIngress {
	tb.Helper()
	f := &fakeIngress{}
	done := make(chan struct{})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), body})
		n := len(f.reqs)
		f.mu.Unlock()
		status, answer := answer(n)
		if answer == hang {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	tb.Cleanup(f.Close)
	tb.Cleanup(func() { close(done) }) // runs first: releases hung handlers
	return f
}

// requests returns a copy of the requests received so far.
func (f *fakeIngress) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.reqs...)
}

// answers returns an answer function that plays the given answers in
// order and repeats the last one.
func answers(list ...string) func(int) (int, string) {
	return func(n int) (int, string) {
		a := list[min(n, len(list))-1]
		status, body, _ := strings.Cut(a, " ")
		switch status {
		case "200":
			return http.StatusOK, body
		case "500":
			return http.StatusInternalServerError, body
		case "503":
			return http.StatusServiceUnavailable, body
		}
		return http.StatusOK, a
	}
}

func TestPusher(t *testing.T) {
	const (
		timeout  = 150 * time.Millisecond
		interval = 250 * time.Millisecond
	)
	tests := []struct {
		name          string
		answers       []string
		attempts      int
		wantDelivered bool
		wantAttempts  int
		wantStatus    int
		wantAnswer    string
		wantErr       []error
		minElapsed    time.Duration
	}{
		{name: "success", answers: []string{"200 success"}, attempts: 3,
			wantDelivered: true, wantAttempts: 1, wantStatus: 200, wantAnswer: AnswerSuccess},
		{name: "empty body", answers: []string{"200 "}, attempts: 3,
			wantDelivered: true, wantAttempts: 1, wantStatus: 200, wantAnswer: AnswerEmpty},
		{name: "retried on 500", answers: []string{"500 oops", "500 oops", "200 success"}, attempts: 3,
			wantDelivered: true, wantAttempts: 3, wantStatus: 200, wantAnswer: AnswerSuccess, minElapsed: 2 * interval},
		{name: "retried on a hang", answers: []string{hang, "200 success"}, attempts: 3,
			wantDelivered: true, wantAttempts: 2, wantStatus: 200, wantAnswer: AnswerSuccess, minElapsed: interval},
		{name: "retried on an abnormal reply", answers: []string{"200 ok", "200 success"}, attempts: 3,
			wantDelivered: true, wantAttempts: 2, wantStatus: 200, wantAnswer: AnswerSuccess},
		{name: "gives up on 503", answers: []string{"503 publish failed"}, attempts: 3,
			wantAttempts: 3, wantStatus: 503, wantAnswer: `"publish failed"`, wantErr: []error{ErrNotDelivered, ErrStatus}},
		{name: "gives up on hangs", answers: []string{hang}, attempts: 2,
			wantAttempts: 2, wantAnswer: "no answer within 150ms", wantErr: []error{ErrNotDelivered, ErrTimeout}, minElapsed: interval + timeout},
		{name: "gives up on abnormal replies", answers: []string{"200 <xml><MsgType>text</MsgType></xml>"}, attempts: 1,
			wantAttempts: 1, wantStatus: 200, wantAnswer: `abnormal reply "<xml><MsgType>text</MsgType></xml>": xml reply to a json push`, wantErr: []error{ErrNotDelivered, ErrReply}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ing := newFakeIngress(t, answers(tt.answers...))
			signer := newTestSigner(t, ing.URL)
			pusher, err := NewPusher(signer, WithAttempts(tt.attempts), WithAttemptTimeout(timeout), WithRetryInterval(interval))
			if err != nil {
				t.Fatal(err)
			}
			req, err := signer.Sign(Spec{Kind: KindText, Mode: wxcodec.ModeSafe, Format: wxcodec.FormatJSON,
				OpenID: demo.OpenID, To: demo.OriginalID, MsgID: NewMsgID()}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := pusher.Push(t.Context(), req)
			elapsed := time.Since(start)
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Push() error = %v, want %v", err, want)
				}
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Errorf("Push() error = %v, want nil", err)
			}
			want := Result{Delivered: tt.wantDelivered, Attempts: tt.wantAttempts, Status: tt.wantStatus, Answer: tt.wantAnswer}
			if res != want {
				t.Errorf("Push() = %+v, want %+v", res, want)
			}
			if elapsed < tt.minElapsed {
				t.Errorf("Push() took %s, want at least %s (attempts %s apart)", elapsed, tt.minElapsed, interval)
			}

			reqs := ing.requests()
			if len(reqs) != tt.wantAttempts {
				t.Fatalf("ingress got %d requests, want %d", len(reqs), tt.wantAttempts)
			}
			for i, r := range reqs {
				if r.method != http.MethodPost || r.path != "/wx/"+demo.AppID || r.contentType != "application/json" {
					t.Errorf("request %d: %s %s (%s), want POST /wx/%s (application/json)", i, r.method, r.path, r.contentType, demo.AppID)
				}
				if r.rawQuery != EncodeQuery(req.Query) || string(r.body) != string(req.Body) {
					t.Errorf("request %d is not the signed request byte for byte:\n%s\n%s", i, r.rawQuery, r.body)
				}
			}
		})
	}
}

// TestPusherRequest checks that the request carries a query the ingress's
// codec accepts.
func TestPusherRequest(t *testing.T) {
	ing := newFakeIngress(t, answers("200 success"))
	signer := newTestSigner(t, ing.URL)
	pusher, err := NewPusher(signer)
	if err != nil {
		t.Fatal(err)
	}
	req, err := signer.Sign(Spec{Kind: KindImage, Mode: wxcodec.ModeCompatible, OpenID: "oU", To: "gh_x", MsgID: "1", BusinessID: 3}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pusher.Push(t.Context(), req); err != nil {
		t.Fatalf("Push() error: %v", err)
	}
	r := ing.requests()[0]
	codec, err := wxcodec.New(demo.AppID, demo.Token, demo.EncodingAESKey, anyMode)
	if err != nil {
		t.Fatal(err)
	}
	q, err := parseRawQuery(r.rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	if q.EncryptType != "aes" || q.OpenID != "oU" || q.MsgSignature == "" || q.Signature == "" {
		t.Errorf("query %q lacks the safe-mode parameters", r.rawQuery)
	}
	push, err := codec.Decode(q, r.body)
	if err != nil {
		t.Fatalf("Decode() error: %v", err)
	}
	if push.Message.MsgType != KindImage || push.Message.BusinessID != "3" || push.Mode != wxcodec.ModeCompatible {
		t.Errorf("Decode() = %+v", push)
	}
}

func TestPusherConnectionRefused(t *testing.T) {
	ing := newFakeIngress(t, answers("200 success"))
	base := ing.URL
	ing.Close()
	pusher, req := textPusher(t, base, WithAttempts(2), WithRetryInterval(time.Millisecond))
	res, err := pusher.Push(t.Context(), req)
	if !errors.Is(err, ErrNotDelivered) || errors.Is(err, ErrTimeout) {
		t.Errorf("Push() error = %v, want %v and not %v", err, ErrNotDelivered, ErrTimeout)
	}
	if res.Attempts != 2 || res.Status != 0 || res.Delivered {
		t.Errorf("Push() = %+v, want 2 attempts without status", res)
	}
}

func TestPusherCanceled(t *testing.T) {
	ing := newFakeIngress(t, answers("500 no"))
	pusher, req := textPusher(t, ing.URL) // 5 s between attempts
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := pusher.Push(ctx, req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Push() error = %v, want %v", err, context.DeadlineExceeded)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Push() returned %s after ctx ended, want at once", d)
	}
}

// TestPusherTiming checks WeChat's schedule with the default settings on a
// fake clock: attempts start 5 s apart, a hanging attempt is cut at 5 s.
func TestPusherTiming(t *testing.T) {
	tests := []struct {
		name string
		rt   func(*http.Request) (*http.Response, error)
		want []time.Duration
	}{
		{
			name: "fast 503",
			rt: func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 503, Body: io.NopCloser(strings.NewReader("x")), Request: r}, nil
			},
			want: []time.Duration{0, 5 * time.Second, 10 * time.Second},
		},
		{
			name: "slow 503",
			rt: func(r *http.Request) (*http.Response, error) {
				time.Sleep(2 * time.Second)
				return &http.Response{StatusCode: 503, Body: io.NopCloser(strings.NewReader("x")), Request: r}, nil
			},
			want: []time.Duration{0, 5 * time.Second, 10 * time.Second},
		},
		{
			name: "hang",
			rt: func(r *http.Request) (*http.Response, error) {
				<-r.Context().Done()
				return nil, r.Context().Err()
			},
			want: []time.Duration{0, 5 * time.Second, 10 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var starts []time.Duration
				client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					starts = append(starts, time.Since(start))
					return tt.rt(r)
				})}
				pusher, req := textPusher(t, "http://ingress.test", WithHTTPClient(client))
				res, err := pusher.Push(t.Context(), req)
				if !errors.Is(err, ErrNotDelivered) {
					t.Errorf("Push() error = %v, want %v", err, ErrNotDelivered)
				}
				if res.Attempts != DefaultAttempts {
					t.Errorf("Push() attempts = %d, want %d", res.Attempts, DefaultAttempts)
				}
				if len(starts) != len(tt.want) {
					t.Fatalf("attempts started at %v, want %v", starts, tt.want)
				}
				for i := range starts {
					if starts[i] != tt.want[i] {
						t.Errorf("attempts started at %v, want %v", starts, tt.want)
						break
					}
				}
			})
		})
	}
}

// textPusher returns a pusher with opts to the ingress at base and a text
// push signed for it.
func textPusher(t *testing.T, base string, opts ...Option) (*Pusher, *Request) {
	t.Helper()
	signer := newTestSigner(t, base)
	pusher, err := NewPusher(signer, opts...)
	if err != nil {
		t.Fatal(err)
	}
	req, err := signer.Sign(Spec{Kind: KindText}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return pusher, req
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewPusherOptions(t *testing.T) {
	signer := newTestSigner(t, "http://127.0.0.1:8080")
	tests := []struct {
		name string
		opts []Option
	}{
		{"zero attempts", []Option{WithAttempts(0)}},
		{"zero timeout", []Option{WithAttemptTimeout(0)}},
		{"negative interval", []Option{WithRetryInterval(-time.Second)}},
		{"nil client", []Option{WithHTTPClient(nil)}},
		{"nil logger", []Option{WithLogger(nil)}},
		{"client timeout below attempt timeout", []Option{WithHTTPClient(&http.Client{Timeout: time.Second})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPusher(signer, tt.opts...); !errors.Is(err, ErrInvalid) {
				t.Errorf("NewPusher() error = %v, want %v", err, ErrInvalid)
			}
		})
	}
	if _, err := NewPusher(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewPusher(nil) error = %v, want %v", err, ErrInvalid)
	}
}

// parseRawQuery parses a raw query string into WeChat's parameters.
func parseRawQuery(raw string) (wxcodec.Query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return wxcodec.Query{}, err
	}
	return wxcodec.ParseQuery(v), nil
}
