package handover

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// ReplyPrefix starts the reply subject of every decision request. Bot
// accounts of the embedded server may publish under it (to answer) and
// never subscribe to it.
const ReplyPrefix = "_KFBRIDGE_DECIDE"

// asker sends decision requests and routes the answers: one subscription
// of its own, reply subjects routed by a counter.
type asker struct {
	nc *nats.Conn

	mu      sync.Mutex
	sub     *nats.Subscription // nil until the first request
	prefix  string             // reply subjects are prefix + counter
	next    uint64
	waiting map[uint64]chan *nats.Msg
}

func newAsker(nc *nats.Conn) *asker {
	return &asker{nc: nc, waiting: map[uint64]chan *nats.Msg{}}
}

// ask publishes body as a request on subject and returns the id and the
// channel its answer (or the server's no-responders status) arrives on.
func (a *asker) ask(subject string, body []byte, traceparent string) (uint64, chan *nats.Msg, error) {
	ch := make(chan *nats.Msg, 1)
	a.mu.Lock()
	if a.sub == nil {
		if err := a.subscribeLocked(); err != nil {
			a.mu.Unlock()
			return 0, nil, err
		}
	}
	a.next++
	id := a.next
	a.waiting[id] = ch
	prefix := a.prefix
	a.mu.Unlock()

	msg := &nats.Msg{Subject: subject, Reply: prefix + strconv.FormatUint(id, 10), Data: body, Header: nats.Header{}}
	msg.Header.Set(events.HeaderContentType, events.ContentType)
	if traceparent != "" {
		msg.Header.Set(events.HeaderTraceParent, traceparent)
	}
	if err := a.nc.PublishMsg(msg); err != nil {
		a.forget(id)
		return 0, nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	return id, ch, nil
}

// forget stops waiting for id's answer.
func (a *asker) forget(id uint64) {
	a.mu.Lock()
	delete(a.waiting, id)
	a.mu.Unlock()
}

// subscribeLocked subscribes to the answers. The caller holds a.mu.
func (a *asker) subscribeLocked() error {
	prefix := ReplyPrefix + "." + rand.Text() + "."
	sub, err := a.nc.Subscribe(prefix+"*", func(m *nats.Msg) { a.route(prefix, m) })
	if err != nil {
		return fmt.Errorf("subscribe to decisions: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("subscribe to decisions: %w", err)
	}
	a.sub, a.prefix = sub, prefix
	return nil
}

// route hands an answer to the request waiting for it; only the first
// answer to a request is routed, later ones are dropped.
func (a *asker) route(prefix string, m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(prefix):], 10, 64)
	if err != nil {
		return
	}
	a.mu.Lock()
	ch, ok := a.waiting[id]
	delete(a.waiting, id)
	a.mu.Unlock()
	if ok {
		ch <- m
	}
}

// close stops receiving answers.
func (a *asker) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sub == nil {
		return nil
	}
	err := a.sub.Unsubscribe()
	a.sub = nil
	return err
}
