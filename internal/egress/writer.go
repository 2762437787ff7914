package egress

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxBatch bounds the writes [writer] publishes back to back.
const maxBatch = 128

// writer stores the sent records, results and dead letters of one
// [Egress.Run]: the handlers hand it their messages; it publishes what
// queued while it was publishing back to back, asynchronously, without
// waiting between them, so that many handlers' writes share the client's
// socket writes and the server's reads; each handler then waits for its
// own write's ack (a slow ack holds no other write), or, with
// publishThen, leaves it to a callback. A lone write goes out at once.
type writer struct {
	js   jetstream.JetStream
	reqs chan *write

	mu    sync.Mutex
	thens map[*nats.Msg]func(error) // publishThen's writes whose ack is to come
}

// write is one message to store; once done is closed, f is its ack to come
// (or err says why it was not published). A write of publishThen (then
// set) has no done: its outcome goes to then.
type write struct {
	msg  *nats.Msg
	opts []jetstream.PublishOpt
	f    jetstream.PubAckFuture
	err  error
	done chan struct{}
	then func(error)
}

// errWriteTimeout says a write got no ack in time: like a synchronous
// publish that timed out, it may still be stored.
var errWriteTimeout = errors.New("no publish ack in time")

// newWriter returns a writer over its own JetStream context on nc, whose
// asynchronous publishes give up after timeout: every ack to come arrives
// or fails within it. maxPending bounds the writes whose ack is to come;
// a write beyond it waits for room (nats.go stalls it, then fails it).
func newWriter(nc *nats.Conn, timeout time.Duration, maxPending int) (*writer, error) {
	w := &writer{reqs: make(chan *write), thens: map[*nats.Msg]func(error){}}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(timeout), jetstream.WithPublishAsyncMaxPending(maxPending),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { w.acked(m, nil) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
				err = errWriteTimeout
			}
			w.acked(m, fmt.Errorf("publish %s: %w", m.Subject, err))
		}))
	if err != nil {
		return nil, err
	}
	w.js = js
	return w, nil
}

// publishThen stores msg, as publish does, without waiting: then gets the
// outcome, nil once the write is stored, exactly once, on the goroutine
// that learns it — the JetStream context's for acks, nats.go's for a
// timeout (holding the context's publisher lock), a no-responders retry or
// a reconnect, the writer's when the publish itself fails — so then must
// neither wait for NATS nor publish through the writer's context. It comes
// within the writer's timeout, give or take nats.go's retry of a publish
// that found no stream (250 ms). msg must be a message of its own, not
// published again before then is called.
func (w *writer) publishThen(msg *nats.Msg, then func(error)) {
	w.mu.Lock()
	w.thens[msg] = then
	w.mu.Unlock()
	w.reqs <- &write{msg: msg, then: then}
}

// acked hands m's outcome to its publishThen, if it has one.
func (w *writer) acked(m *nats.Msg, err error) {
	w.mu.Lock()
	then := w.thens[m]
	delete(w.thens, m)
	w.mu.Unlock()
	if then != nil {
		then(err)
	}
}

// publish stores msg (with opts, as [jetstream.JetStream.PublishMsg]
// takes them) and returns its stream sequence. It waits no longer than
// ctx allows, and for the ack no longer than the writer's timeout: the
// caller needs no timer of its own.
func (w *writer) publish(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (uint64, error) {
	wr := &write{msg: msg, opts: opts, done: make(chan struct{})}
	select {
	case w.reqs <- wr:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	<-wr.done // closed right after its publish
	if wr.err != nil {
		return 0, wr.err
	}
	select {
	case pa := <-wr.f.Ok():
		return pa.Sequence, nil
	case err := <-wr.f.Err():
		if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
			return 0, fmt.Errorf("publish %s: %w", msg.Subject, errWriteTimeout)
		}
		return 0, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run serves publish until stop is closed; every handler has finished
// by then.
func (w *writer) run(stop <-chan struct{}) {
	batch := make([]*write, 0, maxBatch)
	for {
		select {
		case wr := <-w.reqs:
			batch = append(batch[:0], wr)
		case <-stop:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case wr := <-w.reqs:
				batch = append(batch, wr)
			default:
				break more
			}
		}
		for _, wr := range batch {
			wr.f, wr.err = w.js.PublishMsgAsync(wr.msg, wr.opts...)
			if wr.err != nil {
				wr.err = fmt.Errorf("publish %s: %w", wr.msg.Subject, wr.err)
			}
			if wr.then == nil {
				close(wr.done)
			} else if wr.err != nil {
				w.acked(wr.msg, wr.err) // never sent: no ack will come
			}
		}
	}
}
