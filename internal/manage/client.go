package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// DefaultClientTimeout bounds a [Client.Request] whose context has no
// deadline; it exceeds the service's own [DefaultRequestTimeout] a little.
const DefaultClientTimeout = 35 * time.Second

// Client sends management requests over NATS. It is safe for concurrent
// use.
type Client struct {
	nc *nats.Conn
}

// NewClient returns a Client on nc.
func NewClient(nc *nats.Conn) *Client { return &Client{nc: nc} }

// Request sends req to wxkf.api.<appid>.<op> and returns the reply body
// (errcode 0). req is sent as is when it is a []byte or json.RawMessage,
// else encoded as JSON (nil sends {}). A failure reply is an [*Error],
// returned with the reply's body; no reply at all is [ErrNoService]; a bad
// appid or op is refused before sending.
func (c *Client) Request(ctx context.Context, appid, op string, req any) (json.RawMessage, error) {
	subject, err := Subject(appid, op)
	if err != nil {
		return nil, err
	}
	var body []byte
	switch r := req.(type) {
	case []byte:
		body = r
	case json.RawMessage:
		body = r
	case nil:
		body = []byte("{}")
	default:
		if body, err = json.Marshal(r); err != nil {
			return nil, fmt.Errorf("manage: %s: encode request: %w", op, err)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultClientTimeout)
		defer cancel()
	}
	msg, err := c.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: subject, Data: body})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w: %s", ErrNoService, subject)
	case err != nil:
		return nil, fmt.Errorf("manage: %s: %w", subject, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		e := &Error{Op: op, Description: msg.Header.Get(micro.ErrorHeader)}
		var a answer
		if json.Unmarshal(msg.Data, &a) == nil && a.ErrCode != 0 {
			e.Code, e.Msg = a.ErrCode, a.ErrMsg
		} else if n, err := strconv.Atoi(code); err == nil {
			e.Code, e.Msg = n, e.Description
		}
		return msg.Data, e
	}
	return msg.Data, nil
}
