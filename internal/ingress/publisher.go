package ingress

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// ErrNoAck reports a publish whose ack did not come within the
// Publisher's ack timeout: the message may or may not be stored.
var ErrNoAck = errors.New("ingress: no ack from JetStream in time")

// maxPooledBuffer keeps the rare huge push from pinning memory in the pool.
const maxPooledBuffer = 64 << 10

// Retries of a publish that found no stream listening (JetStream's answer
// while a stream leader is being elected), as jetstream.PublishMsg does.
const (
	noResponderRetries = 2
	noResponderWait    = 250 * time.Millisecond
)

// Publisher publishes events to JetStream and waits for the stream's ack.
// It is safe for concurrent use.
//
// It is JetStream's synchronous publish without its per-message costs:
// acks come back on one reply subscription of its own, routed by a counter
// in the reply subject, and are parsed without reflection; messages,
// headers and wait channels are reused.
type Publisher struct {
	nc   *nats.Conn
	bufs sync.Pool // *[]byte: event bodies
	msgs sync.Pool // *outMsg
	chs  sync.Pool // chan *nats.Msg

	ackTimeout time.Duration // 0: ctx alone bounds the wait
	timers     sync.Pool     // *time.Timer, stopped

	mu      sync.Mutex
	sub     *nats.Subscription // nil until the first publish
	prefix  string             // reply subjects are prefix + counter
	next    uint64
	waiting map[uint64]chan *nats.Msg
}

// outMsg is a reusable outgoing message with its header values.
type outMsg struct {
	msg         nats.Msg
	id, ct, tp  []string
	replyDigits []byte
}

// PublisherOption configures a [Publisher].
type PublisherOption func(*Publisher)

// WithAckTimeout bounds each wait for an ack to d, besides the context
// (cheaper than a context with a deadline per publish); on expiry the
// publish fails with [ErrNoAck].
func WithAckTimeout(d time.Duration) PublisherOption {
	return func(p *Publisher) { p.ackTimeout = d }
}

// NewPublisher returns a Publisher that publishes on js's connection.
func NewPublisher(js jetstream.JetStream, opts ...PublisherOption) *Publisher {
	p := &Publisher{
		nc:      js.Conn(),
		waiting: map[uint64]chan *nats.Msg{},
	}
	for _, o := range opts {
		o(p)
	}
	p.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	p.msgs.New = func() any {
		m := &outMsg{id: make([]string, 1), ct: []string{events.ContentType}, tp: make([]string, 1)}
		m.msg.Header = nats.Header{events.HeaderMsgID: m.id, events.HeaderContentType: m.ct}
		return m
	}
	p.chs.New = func() any { return make(chan *nats.Msg, 1) }
	return p
}

// PublishInbound stores in in the inbound stream and returns JetStream's
// ack; ack.Duplicate is true when the duplicate window already held its
// Nats-Msg-Id (a WeChat retry). traceparent, when not empty, is carried in
// the W3C traceparent header and as the event's traceparent attribute (in
// place of in.TraceParent). ctx, and the ack timeout if one is set, bound
// the wait for the ack: on expiry the outcome is unknown, and the caller
// must let WeChat retry (the retry is then absorbed by the Nats-Msg-Id if
// the first publish was stored).
func (p *Publisher) PublishInbound(ctx context.Context, in *events.Inbound, traceparent string) (PubAck, error) {
	if traceparent != "" && traceparent != in.TraceParent {
		ev := *in
		ev.TraceParent = traceparent
		in = &ev
	}
	traceparent = in.TraceParent
	bp := p.bufs.Get().(*[]byte)
	body := in.AppendJSON((*bp)[:0])
	m := p.msgs.Get().(*outMsg)
	m.msg.Subject, m.msg.Data = in.Subject, body
	m.id[0] = in.MsgID()
	if traceparent != "" {
		m.tp[0] = traceparent
		m.msg.Header[events.HeaderTraceParent] = m.tp
	} else {
		delete(m.msg.Header, events.HeaderTraceParent)
	}
	ack, err := p.publish(ctx, m)
	// The message was copied into the connection's buffer (or given up),
	// so it and the body can be reused.
	m.msg.Data = nil
	p.msgs.Put(m)
	if cap(body) <= maxPooledBuffer {
		*bp = body
		p.bufs.Put(bp)
	}
	if err != nil {
		return PubAck{}, fmt.Errorf("publish %s: %w", in.Subject, err)
	}
	return ack, nil
}

// publish sends m with a reply subject of its own and waits for the ack,
// retrying briefly while no stream listens. The ack timeout, if any,
// bounds the whole.
func (p *Publisher) publish(ctx context.Context, m *outMsg) (PubAck, error) {
	var expired <-chan time.Time
	if p.ackTimeout > 0 {
		t, _ := p.timers.Get().(*time.Timer)
		if t == nil {
			t = time.NewTimer(p.ackTimeout)
		} else {
			t.Reset(p.ackTimeout)
		}
		// Since Go 1.23 a stopped timer's channel holds no stale value, so
		// the timer can be reused.
		defer func() { t.Stop(); p.timers.Put(t) }()
		expired = t.C
	}
	for attempt := 0; ; attempt++ {
		ack, err := p.request(ctx, m, expired)
		if !errors.Is(err, nats.ErrNoResponders) {
			return ack, err
		}
		if attempt == noResponderRetries {
			return PubAck{}, jetstream.ErrNoStreamResponse
		}
		t := time.NewTimer(noResponderWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return PubAck{}, jetstream.ErrNoStreamResponse
		case <-expired:
			t.Stop()
			return PubAck{}, jetstream.ErrNoStreamResponse
		case <-t.C:
		}
	}
}

func (p *Publisher) request(ctx context.Context, m *outMsg, expired <-chan time.Time) (PubAck, error) {
	id, ch, err := p.send(m)
	if err != nil {
		return PubAck{}, err
	}
	return p.await(ctx, id, ch, expired)
}

// send publishes m with a reply subject of its own and returns what
// [Publisher.await] waits on for its ack.
func (p *Publisher) send(m *outMsg) (uint64, chan *nats.Msg, error) {
	ch := p.chs.Get().(chan *nats.Msg)
	p.mu.Lock()
	if p.sub == nil {
		if err := p.subscribeLocked(); err != nil {
			p.mu.Unlock()
			return 0, nil, err
		}
	}
	p.next++
	id := p.next
	p.waiting[id] = ch
	p.mu.Unlock()

	m.replyDigits = strconv.AppendUint(append(m.replyDigits[:0], p.prefix...), id, 10)
	m.msg.Reply = string(m.replyDigits)
	if err := p.nc.PublishMsg(&m.msg); err != nil {
		p.forget(id, ch)
		return 0, nil, err
	}
	return id, ch, nil
}

// await waits for the ack of the message sent as id.
func (p *Publisher) await(ctx context.Context, id uint64, ch chan *nats.Msg, expired <-chan time.Time) (PubAck, error) {
	select {
	case resp := <-ch:
		p.chs.Put(ch)
		if len(resp.Data) == 0 && resp.Header.Get("Status") == "503" {
			return PubAck{}, nats.ErrNoResponders
		}
		return ParsePubAck(resp.Data)
	case <-ctx.Done():
		p.forget(id, ch)
		return PubAck{}, ctx.Err()
	case <-expired:
		p.forget(id, ch)
		return PubAck{}, fmt.Errorf("%w (%s)", ErrNoAck, p.ackTimeout)
	}
}

// forget stops waiting for id's ack. The channel is reused only if no ack
// can still arrive on it.
func (p *Publisher) forget(id uint64, ch chan *nats.Msg) {
	p.mu.Lock()
	_, pending := p.waiting[id]
	delete(p.waiting, id)
	p.mu.Unlock()
	if pending {
		p.chs.Put(ch)
	}
}

// subscribeLocked subscribes to the acks. The caller holds p.mu.
func (p *Publisher) subscribeLocked() error {
	prefix := p.nc.NewInbox() + "."
	sub, err := p.nc.Subscribe(prefix+"*", func(resp *nats.Msg) { p.route(prefix, resp) })
	if err != nil {
		return fmt.Errorf("subscribe to acks: %w", err)
	}
	// Acks arrive as fast as publishes; never drop them for slowness.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("subscribe to acks: %w", err)
	}
	p.sub, p.prefix = sub, prefix
	return nil
}

// route hands an ack to the publish waiting for it.
func (p *Publisher) route(prefix string, resp *nats.Msg) {
	id, err := strconv.ParseUint(resp.Subject[len(prefix):], 10, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	ch, ok := p.waiting[id]
	delete(p.waiting, id)
	p.mu.Unlock()
	if ok {
		ch <- resp // buffered, and only one ack per id is routed
	}
}

// Close stops receiving acks; publishes in flight fail by their context.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sub == nil {
		return nil
	}
	err := p.sub.Unsubscribe()
	p.sub = nil
	return err
}

// headerExpectedLastSubjSeq makes JetStream store a message only when its
// subject's last sequence is the given one (0: the subject has none).
const headerExpectedLastSubjSeq = "Nats-Expected-Last-Subject-Sequence"

// PublishExpect stores data on subject when the subject's last sequence in
// its stream is lastSeq (0: none), and returns the new sequence: a KV
// create or compare-and-set update without the KV client's costs. A lost
// condition is an error matching jetstream.ErrKeyExists. It is bounded
// like [Publisher.PublishInbound].
func (p *Publisher) PublishExpect(ctx context.Context, subject string, data []byte, lastSeq uint64) (uint64, error) {
	ack, err := p.publish(ctx, expectMsg(subject, data, lastSeq))
	return expectResult(subject, ack, err)
}

// expectMsg is the message of a conditional write.
func expectMsg(subject string, data []byte, lastSeq uint64) *outMsg {
	return &outMsg{msg: nats.Msg{Subject: subject, Data: data, Header: nats.Header{
		headerExpectedLastSubjSeq: {strconv.FormatUint(lastSeq, 10)}}}}
}

// expectResult is the outcome of a conditional write: its sequence, or
// an error that matches jetstream.ErrKeyExists for a lost condition.
func expectResult(subject string, ack PubAck, err error) (uint64, error) {
	if err != nil {
		if budget.ConditionLost(err) {
			return 0, fmt.Errorf("publish %s: %w: %w", subject, err, jetstream.ErrKeyExists)
		}
		return 0, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack.Sequence, nil
}
