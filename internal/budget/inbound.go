package budget

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// InboundRefresh is how long [Inbound] keeps a lookup of WXKF_IN.
const InboundRefresh = time.Minute

// Inbound looks up the push stream WXKF_IN, whose latest pushes the
// budget's reads get ([Tracker.SyncTakeN], [Tracker.CatchUp],
// [Tracker.Live]). Its handle carries the stream's definition, which says
// how a get is made: a direct get when the stream allows them (one replica,
// see broker.DirectReads), else the leader's get through the JetStream
// API. A lookup is kept for [InboundRefresh], so a process that outlives a
// change of the definition (nats.streams.replicas) reads the new way within
// that time; until then its direct gets find no responder and fail as a
// budget read that NATS did not answer.
type Inbound struct {
	js  jetstream.JetStream
	now func() time.Time

	mu sync.Mutex
	in jetstream.Stream // nil until looked up
	at time.Time        // of the lookup
}

// NewInbound returns a lookup of WXKF_IN on js; nothing is requested
// before the first [Inbound.Stream].
func NewInbound(js jetstream.JetStream) *Inbound {
	return &Inbound{js: js, now: time.Now}
}

// Stream returns WXKF_IN's handle, looked up again once the last lookup is
// older than [InboundRefresh].
func (i *Inbound) Stream(ctx context.Context) (jetstream.Stream, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.now()
	if i.in != nil && now.Sub(i.at) < InboundRefresh {
		return i.in, nil
	}
	in, err := i.js.Stream(ctx, events.InboundStreamName)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.InboundStreamName, err)
	}
	i.in, i.at = in, now
	return in, nil
}
