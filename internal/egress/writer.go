package egress

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxBatch bounds the writes [writer] publishes back to back.
const maxBatch = 128

// writer stores the sent records and results of one [Egress.Run]: the
// handlers hand it their messages and wait for their acks; it publishes
// what queued while its previous writes were in flight back to back,
// without waiting between them, then waits for their acks together and
// hands each handler its own. Many handlers' writes so share the
// client's socket writes and the server's reads (a group commit); a lone
// write goes out at once.
type writer struct {
	js      jetstream.JetStream
	timeout time.Duration
	reqs    chan *write
}

// write is one message to store and, once done is closed, its outcome.
type write struct {
	msg  *nats.Msg
	opts []jetstream.PublishOpt
	seq  uint64
	err  error
	done chan struct{}
}

// errWriteTimeout says a write got no ack in time: like a synchronous
// publish that timed out, it may still be stored.
var errWriteTimeout = errors.New("no publish ack in time")

// newWriter returns a writer over its own JetStream context on nc (whose
// asynchronous publishes give up after timeout).
func newWriter(nc *nats.Conn, timeout time.Duration) (*writer, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(timeout))
	if err != nil {
		return nil, err
	}
	return &writer{js: js, timeout: timeout, reqs: make(chan *write)}, nil
}

// publish stores msg (with opts, as [jetstream.JetStream.PublishMsg]
// takes them) and returns its stream sequence.
func (w *writer) publish(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (uint64, error) {
	wr := &write{msg: msg, opts: opts, done: make(chan struct{})}
	select {
	case w.reqs <- wr:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case <-wr.done:
		return wr.seq, wr.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run serves publish until stop is closed; every handler has finished
// by then.
func (w *writer) run(stop <-chan struct{}) {
	batch := make([]*write, 0, maxBatch)
	futures := make([]jetstream.PubAckFuture, 0, maxBatch)
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
		futures = futures[:0]
		for _, wr := range batch {
			f, err := w.js.PublishMsgAsync(wr.msg, wr.opts...)
			if err != nil {
				wr.err = fmt.Errorf("publish %s: %w", wr.msg.Subject, err)
			}
			futures = append(futures, f)
		}
		timeout := time.NewTimer(w.timeout)
		expired := false
		for i, f := range futures {
			wr := batch[i]
			switch {
			case f == nil:
			case expired:
				wr.err = errWriteTimeout
			default:
				select {
				case pa := <-f.Ok():
					wr.seq = pa.Sequence
				case err := <-f.Err():
					wr.err = err
				case <-timeout.C:
					expired = true
					wr.err = errWriteTimeout
				}
			}
			close(wr.done)
		}
		timeout.Stop()
	}
}
