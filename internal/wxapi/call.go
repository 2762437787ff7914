package wxapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Call calls one of WeChat's JSON APIs: method (GET or POST) on path with
// the access token and the query parameters query, and for POST the JSON
// body (nil sends none). It returns WeChat's answer as received when it
// is a JSON object whose errcode is absent or 0, an [*APIError] when its
// errcode is another, and a [*TransportError] when no such answer came.
//
// The typed methods ([Client.RegisterBusiness], [Client.KFList], …) are
// built on Call; use Call to pass WeChat's answer on unchanged, fields the
// typed results do not know included.
func (c *Client) Call(ctx context.Context, token, method, path string, query url.Values, body []byte) (json.RawMessage, error) {
	op := strings.TrimPrefix(path, "/cgi-bin/")
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("access_token", token)
	var rd io.Reader
	if method == http.MethodPost {
		rd = bytes.NewReader(body)
	}
	req, err := newRequest(op, method, c.base+path+"?"+q.Encode(), rd)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	sec := secrets{req: req}
	raw, _, err := c.roundTrip(ctx, op, req, maxAnswer, sec)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, redact(&TransportError{Op: op, Written: true, Status: http.StatusOK, Err: fmt.Errorf("%w: %s", ErrBadResponse, excerpt(op, raw, sec))}, sec)
	}
	if err := decodeAnswer(op, raw, nil, sec); err != nil {
		return nil, redact(err, sec)
	}
	return raw, nil
}

// callJSON calls with [Client.Call] and decodes the answer into out (which
// may be nil).
func (c *Client) callJSON(ctx context.Context, token, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("wxapi: %s: %w", path, err)
		}
	}
	raw, err := c.Call(ctx, token, method, path, query, body)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &TransportError{Op: strings.TrimPrefix(path, "/cgi-bin/"), Written: true, Status: http.StatusOK,
			Err: fmt.Errorf("%w: %v", ErrBadResponse, err)}
	}
	return nil
}
