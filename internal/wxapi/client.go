package wxapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/kfbridge/kfbridge/internal/telemetry"
)

// DefaultTimeout bounds one API call when the context has no earlier
// deadline.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds a JSON answer; media downloads have their own limit.
const maxAnswer = 1 << 20

// Client calls WeChat's API at a base URL.
type Client struct {
	base    string
	http    *http.Client
	timeout time.Duration
	tracer  trace.Tracer // nil: no spans
}

// Option configures a [Client].
type Option func(*Client) error

// WithHTTPClient sets the HTTP client (its Timeout is ignored; calls are
// bounded by [WithTimeout] and the context).
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error { c.http = h; return nil }
}

// WithTimeout bounds every call. Default [DefaultTimeout].
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("wxapi: timeout %v must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithTracerProvider records a client span per call (its op, the HTTP
// status and WeChat's errcode; never the URL, whose query holds the access
// token), a child of the span in the call's context, or of its
// [WithTraceParent]. The call's Traceparent header is then that span's.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Client) error { c.tracer = telemetry.Tracer(tp); return nil }
}

// New returns a client for the API at base (https://api.weixin.qq.com, or
// the simulator's address).
func New(base string, opts ...Option) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("wxapi: base URL %q: want http(s)://host", base)
	}
	c := &Client{
		base:    strings.TrimRight(base, "/"),
		timeout: DefaultTimeout,
		http: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 5 * time.Second,
			ForceAttemptHTTP2:   true,
			DisableCompression:  true, // WeChat answers small JSON, and media as they are
		}},
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Base returns the API base URL.
func (c *Client) Base() string { return c.base }

// okAnswer is WeChat's answer to a call that succeeded and returns nothing
// more, as it writes it.
const okAnswer = `{"errcode":0,"errmsg":"ok"}`

// answer is WeChat's common answer shape.
type answer struct {
	ErrCode *int   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// do sends req and decodes the JSON answer into out (which may be nil).
// Its errors carry none of req's secrets nor extra (see [redact]).
func (c *Client) do(ctx context.Context, op string, req *http.Request, out any, extra ...string) error {
	sec := secrets{req, extra}
	body, _, err := c.roundTrip(ctx, op, req, maxAnswer, sec)
	if err != nil {
		return err
	}
	return redact(decodeAnswer(op, body, out, sec), sec)
}

// decodeAnswer decodes WeChat's JSON answer; secrets are kept out of the
// excerpt of a body that is not JSON.
func decodeAnswer(op string, body []byte, out any, sec secrets) error {
	if out == nil && string(body) == okAnswer {
		return nil // every successful send and typing call: no decoding
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return &TransportError{Op: op, Written: true, Status: http.StatusOK, Err: fmt.Errorf("%w: %s", ErrBadResponse, excerpt(op, body, sec))}
	}
	if a.ErrCode != nil && *a.ErrCode != 0 {
		return &APIError{Op: op, Code: *a.ErrCode, Msg: a.ErrMsg}
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return &TransportError{Op: op, Written: true, Status: http.StatusOK, Err: fmt.Errorf("%w: %v", ErrBadResponse, err)}
		}
	}
	return nil
}

// roundTrip sends req, bounded by the client timeout, and returns the body
// of a 200 answer. It records whether the request was fully written. Its
// errors carry none of sec (see [secrets] and [redact]).
func (c *Client) roundTrip(ctx context.Context, op string, req *http.Request, limit int64, sec secrets) ([]byte, http.Header, error) {
	if c.tracer != nil {
		var span trace.Span
		ctx, span = c.startSpan(ctx, op, req)
		defer span.End()
		body, hdr, err := c.exchange(ctx, op, req, limit, sec)
		endCall(span, body, err)
		if err != nil {
			return nil, nil, redact(err, sec)
		}
		return body, hdr, nil
	}
	body, hdr, err := c.exchange(ctx, op, req, limit, sec)
	if err != nil {
		return nil, nil, redact(err, sec)
	}
	return body, hdr, nil
}

// startSpan starts the client span of one call, under the context's span
// or its traceparent, and makes its traceparent the call's.
func (c *Client) startSpan(ctx context.Context, op string, req *http.Request) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = telemetry.RemoteParent(ctx, traceParent(ctx))
	}
	ctx, span := c.tracer.Start(ctx, "wechat "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("kfbridge.wechat.op", op), attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname())))
	return WithTraceParent(ctx, telemetry.TraceParentOf(span)), span
}

// endCall records a call's HTTP status and WeChat's errcode (not its
// errmsg, which may quote the request) on its span.
func endCall(span trace.Span, body []byte, err error) {
	var te *TransportError
	switch {
	case errors.As(err, &te):
		if te.Status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", te.Status))
		}
		span.SetStatus(codes.Error, "transport")
	case err != nil:
		span.SetStatus(codes.Error, "request")
	default:
		span.SetAttributes(attribute.Int("http.response.status_code", http.StatusOK))
		var a answer
		if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &a) == nil && a.ErrCode != nil {
			span.SetAttributes(attribute.Int("kfbridge.wechat.errcode", *a.ErrCode))
			if *a.ErrCode != 0 {
				span.SetStatus(codes.Error, "errcode "+strconv.Itoa(*a.ErrCode))
			}
		}
	}
}

// newRequest is http.NewRequest whose error names no URL (the URL holds the
// access token).
func newRequest(op, method, rawURL string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("wxapi: %s: %w", op, err)
	}
	return req, nil
}

func (c *Client) exchange(ctx context.Context, op string, req *http.Request, limit int64, sec secrets) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	})
	req = req.WithContext(ctx)
	if tp := traceParent(ctx); tp != "" {
		req.Header.Set("Traceparent", tp)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &TransportError{Op: op, Written: written.Load(), Err: err}
	}
	defer resp.Body.Close()
	body, err := readBody(resp, limit)
	if err != nil {
		return nil, nil, &TransportError{Op: op, Written: true, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &TransportError{Op: op, Written: true, Status: resp.StatusCode, Err: fmt.Errorf("%w: %s", ErrBadResponse, excerpt(op, body, sec))}
	}
	if int64(len(body)) > limit {
		return nil, nil, &TransportError{Op: op, Written: true, Status: resp.StatusCode, Err: fmt.Errorf("%w: answer over %d bytes", ErrBadResponse, limit)}
	}
	return body, resp.Header, nil
}

// tokenQuery is the query of a call with token: access_token=….
func tokenQuery(token string) string { return "access_token=" + url.QueryEscape(token) }

// readBody reads up to limit+1 bytes of resp's body (one more than limit
// shows an answer over it): into a buffer of its length when it has one
// (WeChat's answers are short; io.ReadAll starts at 512 bytes).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= limit {
		body := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit+1))
}

// postJSON posts body to path?query (query encoded); extra are secrets in
// the body, kept out of errors.
func (c *Client) postJSON(ctx context.Context, op, path, query string, body []byte, out any, extra ...string) error {
	req, err := newRequest(op, http.MethodPost, c.base+path+"?"+query, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return c.do(ctx, op, req, out, extra...)
}

// Token is an access token and its lifetime.
type Token struct {
	AccessToken string `json:"access_token"`
	// ExpiresIn is the lifetime in seconds WeChat answered (≤ 7200).
	ExpiresIn int `json:"expires_in"`
}

// StableToken calls POST /cgi-bin/stable_token. force asks for a new token
// (limited by WeChat: 20 a day, 30 s apart), invalidating the previous one.
func (c *Client) StableToken(ctx context.Context, appid, secret string, force bool) (Token, error) {
	body, err := json.Marshal(map[string]any{
		"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force,
	})
	if err != nil {
		return Token{}, err
	}
	var t Token
	if err := c.postJSON(ctx, "stable_token", "/cgi-bin/stable_token", "", body, &t, secret); err != nil {
		return Token{}, err
	}
	if t.AccessToken == "" {
		return Token{}, &TransportError{Op: "stable_token", Written: true, Status: 200, Err: fmt.Errorf("%w: no access_token", ErrBadResponse)}
	}
	return t, nil
}

// ClassicToken calls GET /cgi-bin/token. Each call invalidates the previous
// token after a short overlap: only one process may call it.
func (c *Client) ClassicToken(ctx context.Context, appid, secret string) (Token, error) {
	q := url.Values{"grant_type": {"client_credential"}, "appid": {appid}, "secret": {secret}}
	req, err := newRequest("token", http.MethodGet, c.base+"/cgi-bin/token?"+q.Encode(), nil)
	if err != nil {
		return Token{}, err
	}
	var t Token
	if err := c.do(ctx, "token", req, &t); err != nil {
		return Token{}, err
	}
	if t.AccessToken == "" {
		return Token{}, &TransportError{Op: "token", Written: true, Status: 200, Err: fmt.Errorf("%w: no access_token", ErrBadResponse)}
	}
	return t, nil
}

// SendRequest is a customer-service message to send.
type SendRequest struct {
	// ToUser is the user's openid.
	ToUser string
	// BusinessID selects the sub-merchant path when not "" or "0".
	BusinessID string
	// Message is WeChat's send body without touser and businessid, e.g.
	// {"msgtype":"text","text":{"content":"hi"}}.
	Message json.RawMessage
}

// isBusiness reports whether bid is a sub-merchant id.
func isBusiness(bid string) bool { return bid != "" && bid != "0" }

// Send posts a message: /cgi-bin/message/custom/send for the main account,
// /cgi-bin/message/custom/business/send with businessid for a sub-merchant.
func (c *Client) Send(ctx context.Context, token string, r SendRequest) error {
	body, err := sendBody(r.ToUser, r.BusinessID, r.Message)
	if err != nil {
		return err
	}
	op, path := "custom/send", "/cgi-bin/message/custom/send"
	if isBusiness(r.BusinessID) {
		op, path = "custom/business/send", "/cgi-bin/message/custom/business/send"
	}
	return c.postJSON(ctx, op, path, tokenQuery(token), body, nil)
}

// sendBody merges touser (and businessid as a number when it is one) into
// the message object.
func sendBody(touser, bid string, msg json.RawMessage) ([]byte, error) {
	msg = bytes.TrimSpace(msg)
	if len(msg) < 2 || msg[0] != '{' {
		return nil, fmt.Errorf("wxapi: send: message must be a JSON object")
	}
	var b bytes.Buffer
	b.WriteString(`{"touser":`)
	t, _ := json.Marshal(touser)
	b.Write(t)
	if isBusiness(bid) {
		b.WriteString(`,"businessid":`)
		b.WriteString(businessIDJSON(bid))
	}
	rest := bytes.TrimSpace(msg[1:])
	if len(rest) > 0 && rest[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(rest)
	return b.Bytes(), nil
}

// businessIDJSON writes a numeric BusinessId as a JSON number, as pushes
// carry it, and anything else as a string.
func businessIDJSON(bid string) string {
	for i := 0; i < len(bid); i++ {
		if bid[i] < '0' || bid[i] > '9' {
			s, _ := json.Marshal(bid)
			return string(s)
		}
	}
	return bid
}

// Typing posts /cgi-bin/message/custom/business/typing (the mini-program
// path) with command Typing or CancelTyping.
func (c *Client) Typing(ctx context.Context, token, touser, bid, command string) error {
	var b bytes.Buffer
	t, _ := json.Marshal(touser)
	cmd, _ := json.Marshal(command)
	fmt.Fprintf(&b, `{"touser":%s,"command":%s`, t, cmd)
	if isBusiness(bid) {
		fmt.Fprintf(&b, `,"businessid":%s`, businessIDJSON(bid))
	}
	b.WriteByte('}')
	return c.postJSON(ctx, "custom/business/typing", "/cgi-bin/message/custom/business/typing",
		tokenQuery(token), b.Bytes(), nil)
}

// Media is an uploaded temporary medium.
type Media struct {
	Type      string          `json:"type"`
	MediaID   string          `json:"media_id"`
	CreatedAt json.RawMessage `json:"created_at"` // number or string
}

// UploadImage uploads a temporary image (valid 3 days) with
// multipart/form-data, file part "media".
func (c *Client) UploadImage(ctx context.Context, token, filename, contentType string, data []byte) (Media, error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="media"; filename=%q`, filename))
	if contentType == "" {
		contentType = http.DetectContentType(data)
	}
	h.Set("Content-Type", contentType)
	part, err := w.CreatePart(h)
	if err != nil {
		return Media{}, err
	}
	part.Write(data)
	if err := w.Close(); err != nil {
		return Media{}, err
	}
	q := url.Values{"access_token": {token}, "type": {"image"}}
	req, err := newRequest("media/upload", http.MethodPost, c.base+"/cgi-bin/media/upload?"+q.Encode(), &b)
	if err != nil {
		return Media{}, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	var m Media
	if err := c.do(ctx, "media/upload", req, &m); err != nil {
		return Media{}, err
	}
	if m.MediaID == "" {
		return Media{}, &TransportError{Op: "media/upload", Written: true, Status: 200, Err: fmt.Errorf("%w: no media_id", ErrBadResponse)}
	}
	return m, nil
}

// GetMedia downloads a temporary medium by media id, up to limit bytes.
// WeChat answers the bytes on success and JSON on error.
func (c *Client) GetMedia(ctx context.Context, token, mediaID string, limit int64) ([]byte, string, error) {
	q := url.Values{"access_token": {token}, "media_id": {mediaID}}
	req, err := newRequest("media/get", http.MethodGet, c.base+"/cgi-bin/media/get?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	sec := secrets{req: req}
	body, hdr, err := c.roundTrip(ctx, "media/get", req, limit, sec)
	if err != nil {
		return nil, "", err
	}
	ct := hdr.Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "text/plain") || bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		if err := decodeAnswer("media/get", body, nil, sec); err != nil {
			return nil, "", redact(err, sec)
		}
		return nil, "", &TransportError{Op: "media/get", Written: true, Status: 200, Err: fmt.Errorf("%w: JSON without errcode", ErrBadResponse)}
	}
	return body, ct, nil
}
