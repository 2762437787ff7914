package events

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxPooledBuffer keeps the rare huge push from pinning memory in the pool.
const maxPooledBuffer = 64 << 10

// Publisher publishes events to JetStream and waits for the stream's ack.
// It is safe for concurrent use.
type Publisher struct {
	js   jetstream.JetStream
	bufs sync.Pool
}

// NewPublisher returns a Publisher that publishes with js.
func NewPublisher(js jetstream.JetStream) *Publisher {
	return &Publisher{
		js:   js,
		bufs: sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }},
	}
}

// PublishInbound stores in in the inbound stream and returns JetStream's
// ack; ack.Duplicate is true when the duplicate window already held its
// Nats-Msg-Id (a WeChat retry). traceparent, when not empty, is carried in
// the W3C traceparent header. ctx bounds the wait for the ack: on its expiry
// the outcome is unknown, and the caller must let WeChat retry (the retry is
// then absorbed by the Nats-Msg-Id if the first publish was stored).
func (p *Publisher) PublishInbound(ctx context.Context, in *Inbound, traceparent string) (*jetstream.PubAck, error) {
	bp := p.bufs.Get().(*[]byte)
	body := in.AppendJSON((*bp)[:0])
	msg := &nats.Msg{
		Subject: in.Subject,
		Data:    body,
		Header: nats.Header{
			HeaderMsgID:       {in.MsgID()},
			HeaderContentType: {ContentType},
		},
	}
	if traceparent != "" {
		msg.Header[HeaderTraceParent] = []string{traceparent}
	}
	ack, err := p.js.PublishMsg(ctx, msg)
	// PublishMsg has written the body out (or given up) by the time it
	// returns, so the buffer can be reused.
	if cap(body) <= maxPooledBuffer {
		*bp = body
		p.bufs.Put(bp)
	}
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", in.Subject, err)
	}
	return ack, nil
}
