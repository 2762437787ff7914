package budget

import (
	"context"
	"errors"
	"fmt"
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
// without reading the store and writes the grant concurrently with the
// event's publish.
func MessageGrant(at, now time.Time) events.ReplyBudget {
	s := State{}
	s.grant(events.TriggerMessage, at, "")
	return s.Granted(now)
}

// messageKinds are the message kinds WeChat documents (wechat-protocol.md
// §5): [Tracker.CatchUp] reads the latest push of each, besides the
// latest push of any kind.
var messageKinds = []string{events.KindText, events.KindImage, events.KindMiniProgramPage}

// CatchUp applies to conversation c's budget the grant of its latest user
// message stored in the inbound stream in (WXKF_IN), as the ingress would
// have: the ingress writes a message's grant concurrently with publishing
// its event, so a command published on seeing the event may find the
// grant not stored yet. It reports whether a stored message carries a
// grant (found: the budget now holds it, so the caller decides again on
// it) and whether this call applied it (applied: the ingress's write was
// not stored yet, or failed).
//
// It reads the latest push on c's subjects of the documented message kinds
// and of any kind (one get each, concurrently, from the stream's leader),
// and applies the newest one that is a user message carrying
// data.reply_budget with the same idempotent grant as the ingress (keyed
// by event id and CreateTime): applying it twice, or after a newer push,
// changes nothing. Callers run it only before refusing or counting a send
// as over budget, so the common path costs nothing.
func (t *Tracker) CatchUp(ctx context.Context, in jetstream.Stream, c events.Conversation) (found, applied bool, err error) {
	if _, err := key(c); err != nil {
		return false, false, err
	}
	prefix := "wxkf.in." + c.AppID + "." + c.BusinessID + "." + c.OpenID + "."
	subjects := make([]string, 0, len(messageKinds)+1)
	subjects = append(subjects, prefix+"*")
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
		return false, false, fmt.Errorf("read latest pushes of %s: %w", prefix+"*", err)
	}
	var (
		at     time.Time
		id     string
		latest uint64
	)
	for _, m := range msgs {
		if m == nil {
			continue
		}
		mat, mid, ok := messageGrantOf(m.Data)
		if ok && (!found || mat.After(at) || mat.Equal(at) && m.Sequence > latest) {
			found, at, id, latest = true, mat, mid, m.Sequence
		}
	}
	if !found {
		return false, false, nil
	}
	_, err = t.change(ctx, c, false, func(s *State) bool {
		applied = s.grant(events.TriggerMessage, at, id)
		return applied
	})
	if err != nil {
		return false, false, err
	}
	return true, applied, nil
}

// messageGrantOf returns the CreateTime and event id of a stored event
// when it is a user message whose data carries the message grant, as the
// ingress applies it (at is expires_at less the window: the ingress's
// clock when the push had no CreateTime).
func messageGrantOf(body []byte) (time.Time, string, bool) {
	ev, err := events.ParseInbound(body)
	if err != nil || !strings.HasPrefix(ev.Type, events.TypeMessagePrefix) {
		return time.Time{}, "", false
	}
	b := ev.Data.ReplyBudget
	if b == nil || b.Trigger != events.TriggerMessage || b.ExpiresAt.IsZero() {
		return time.Time{}, "", false
	}
	return b.ExpiresAt.Add(-MessageWindow), ev.ID, true
}
