package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// MessageGrant returns the budget a user message at at grants, as the
// event carries it (data.reply_budget) seen at now: [MessageSends] sends
// until at + [MessageWindow]. It does not depend on the budget before the
// message (a message resets the window), so the ingress computes it
// without reading the store, and stores nothing but the event: the egress
// applies the grant from it ([Tracker.SyncTakeN]).
func MessageGrant(at, now time.Time) events.ReplyBudget {
	s := State{}
	s.grant(events.TriggerMessage, at, "")
	return s.Granted(now)
}

// messageKinds are the message kinds WeChat documents (wechat-protocol.md
// §5): [Tracker.CatchUp] reads the latest push of each, besides the
// latest push of any kind.
var messageKinds = []string{events.KindText, events.KindImage, events.KindMiniProgramPage}

// pending is the grant of a conversation's latest stored user message:
// its CreateTime and event id.
type pending struct {
	at time.Time
	id string
}

// apply applies p (nil: nothing) to s, reporting whether s changed.
func (p *pending) apply(s *State) bool {
	return p != nil && s.grant(events.TriggerMessage, p.at, p.id)
}

// CatchUp applies to conversation c's budget the grant of its latest user
// message stored in the inbound stream in (WXKF_IN), as if the ingress had
// applied it: the ingress stores no budget for a user message (the grant
// is derived from the stored event). It reports whether a stored message
// carries a grant (found) and whether this call applied it (applied: it
// was not applied before).
//
// It reads the latest push on c's subjects of the documented message kinds
// and of any kind (one get each, concurrently, from the stream's leader),
// and applies the newest one that is a user message carrying
// data.reply_budget with the same idempotent grant as [Tracker.Grant]
// (keyed by event id and CreateTime): applying it twice, or after a newer
// push, changes nothing. [Tracker.SyncTakeN] needs these reads only when the
// latest push is not a message; the ingress runs it before an
// enter-session's grant, which depends on the window a message opened.
func (t *Tracker) CatchUp(ctx context.Context, in jetstream.Stream, c events.Conversation) (found, applied bool, err error) {
	if _, err := key(c); err != nil {
		return false, false, err
	}
	p, err := newestGrant(ctx, in, c)
	if err != nil || p == nil {
		return false, false, err
	}
	if _, err = t.change(ctx, c, false, syncing{}, func(s *State) bool {
		applied = p.apply(s)
		return applied
	}); err != nil {
		return false, false, err
	}
	return true, applied, nil
}

// subjectsOf returns the wildcard subject of every push of conversation c
// in WXKF_IN.
func subjectsOf(c events.Conversation) string {
	return "wxkf.in." + c.AppID + "." + c.BusinessID + "." + c.OpenID + ".*"
}

// newestGrant reads the latest push of c of each documented message kind
// and of any kind, and returns the grant of the newest user message among
// them (nil: none).
func newestGrant(ctx context.Context, in jetstream.Stream, c events.Conversation) (*pending, error) {
	all := subjectsOf(c)
	prefix := strings.TrimSuffix(all, "*")
	subjects := make([]string, 0, len(messageKinds)+1)
	subjects = append(subjects, all)
	for _, k := range messageKinds {
		subjects = append(subjects, prefix+k)
	}
	msgs := make([]*jetstream.RawStreamMsg, len(subjects))
	errs := make([]error, len(subjects))
	var wg sync.WaitGroup
	for i, subj := range subjects {
		wg.Go(func() {
			m, err := in.GetLastMsgForSubject(ctx, subj)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				err = nil
			}
			msgs[i], errs[i] = m, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("read latest pushes of %s: %w", all, err)
	}
	var (
		best   *pending
		latest uint64
	)
	for _, m := range msgs {
		if m == nil {
			continue
		}
		ev, ok := parseStored(m.Data)
		if !ok {
			continue
		}
		mat, ok := messageGrantOf(ev)
		if ok && (best == nil || mat.After(best.at) || mat.Equal(best.at) && m.Sequence > latest) {
			best, latest = &pending{at: mat, id: ev.ID}, m.Sequence
		}
	}
	return best, nil
}

// latestGrant returns the grant conversation c's stored pushes hold that
// its budget may not have applied yet, with one read when it can: the
// latest push on c's subjects. When that push is a user message, its grant
// (applying it is idempotent); when it is another push that is not older
// than the budget's latest trigger as this process last saw it, a message
// may be hidden behind it, and the reads of [Tracker.CatchUp] decide.
func (t *Tracker) latestGrant(ctx context.Context, in jetstream.Stream, c events.Conversation) (*pending, error) {
	k, err := key(c)
	if err != nil {
		return nil, err
	}
	m, err := in.GetLastMsgForSubject(ctx, subjectsOf(c))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read latest push of %s: %w", subjectsOf(c), err)
	}
	ev, ok := parseStored(m.Data)
	if !ok {
		return newestGrant(ctx, in, c)
	}
	if at, ok := messageGrantOf(ev); ok {
		return &pending{at: at, id: ev.ID}, nil
	}
	if e, ok := t.cached(k); ok && !ev.Time.IsZero() &&
		(ev.Time.Before(e.state.At) || ev.Time.Equal(e.state.At) && slices.Contains(e.state.IDs, ev.ID)) {
		return nil, nil // the trigger applied last is this push or newer
	}
	return newestGrant(ctx, in, c)
}

// Live returns conversation c's budget as bots see it live: the stored
// budget with the grant of c's latest stored user message applied (see
// [Tracker.latestGrant]), which the next take stores. It writes nothing.
func (t *Tracker) Live(ctx context.Context, in jetstream.Stream, c events.Conversation) (State, error) {
	k, err := key(c)
	if err != nil {
		return State{}, err
	}
	p, err := t.latestGrant(ctx, in, c)
	if err != nil {
		return State{}, err
	}
	s, _, _, err := t.read(ctx, k)
	if err != nil {
		return State{}, err
	}
	p.apply(&s)
	return s, nil
}

// parseStored decodes a stored event.
func parseStored(body []byte) (events.InboundEvent, bool) {
	ev, err := events.ParseInbound(body)
	return ev, err == nil
}

// messageGrantOf returns the CreateTime of a stored event
// when it is a user message whose data carries the message grant, as the
// ingress applies it (at is expires_at less the window: the ingress's
// clock when the push had no CreateTime).
func messageGrantOf(ev events.InboundEvent) (time.Time, bool) {
	if !strings.HasPrefix(ev.Type, events.TypeMessagePrefix) {
		return time.Time{}, false
	}
	b := ev.Data.ReplyBudget
	if b == nil || b.Trigger != events.TriggerMessage || b.ExpiresAt.IsZero() {
		return time.Time{}, false
	}
	return b.ExpiresAt.Add(-MessageWindow), true
}
