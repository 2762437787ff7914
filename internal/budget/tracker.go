package budget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// Bucket is the KV bucket of the budgets: key <appid>.<bid>.<openid>, value
// a [State] in JSON.
const Bucket = "WXKF_BUDGET"

// TTL keeps a budget past the longest window (48 h from a message's
// CreateTime, written at or after it), with an hour for late pushes.
const TTL = MessageWindow + time.Hour

// maxTries bounds the compare-and-set rounds of one change.
const maxTries = 64

// maxCached bounds the revisions a [Tracker] remembers.
const maxCached = 1 << 16

// Config configures the bucket a [Tracker] keeps budgets in.
type Config struct {
	// Replicas of the bucket (1 for a single server, 3 in a cluster).
	Replicas int
	// Storage of the bucket.
	Storage jetstream.StorageType
	// MaxBytes caps the bucket (0: no cap). A full bucket refuses budgets
	// of new conversations (see the package documentation).
	MaxBytes int64
}

// Tracker keeps the reply budgets of every conversation in [Bucket],
// shared by every replica. It is safe for concurrent use.
type Tracker struct {
	kv    jetstream.KeyValue
	js    jetstream.JetStream // for the bucket's stream (see markerSeq)
	write WriteFunc           // nil: the KV's Create and Update

	// skipFor: how old a read of a conversation's pushes a take may rely
	// on instead of reading again (see [Tracker.SyncTakeN]); 0: never.
	skipFor time.Duration

	mu    sync.Mutex
	cache map[string]cached // key → the last revision this process read or wrote
}

// SkipFor is how long after a take read a conversation's pushes a take
// for a command received before that read may rely on it (see
// [Tracker.SyncTakeN]). It bounds what a user message stored in between
// can cost: such sends are counted in the window before it.
const SkipFor = time.Second

// cached is a budget as this process last read or wrote it.
type cached struct {
	rev   uint64
	state State
	// synced: state holds the grant of every push of the conversation
	// stored before this time (this process's clock; zero: not known).
	// It is when the latest read of the conversation's pushes whose grant
	// a take of this process wrote, on this revision or one it led to,
	// started.
	synced time.Time
}

// Open creates or updates [Bucket] and returns a Tracker on it.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Tracker, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "kfbridge: reply budgets of conversations",
		History: 1, TTL: TTL, Replicas: max(cfg.Replicas, 1), Storage: cfg.Storage, MaxBytes: cfg.MaxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", Bucket, err)
	}
	return &Tracker{kv: kv, js: js, skipFor: SkipFor, cache: map[string]cached{}}, nil
}

// WriteFunc stores value on subject (a key's subject in [Bucket],
// $KV.WXKF_BUDGET.<key>) on the condition that the subject's last sequence
// is lastSeq (0: the subject has no message), and returns the new
// sequence. A lost condition is an error matching jetstream.ErrKeyExists.
type WriteFunc func(ctx context.Context, subject string, value []byte, lastSeq uint64) (uint64, error)

// ConditionLost reports whether err is JetStream's refusal of a write
// whose expected last subject sequence did not hold: the lost condition
// that a [WriteFunc] reports as jetstream.ErrKeyExists.
func ConditionLost(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// WithWriter returns a Tracker on the same bucket that writes through w
// (the ingress's own publisher, cheaper than the KV's), with a cache of
// its own.
func (t *Tracker) WithWriter(w WriteFunc) *Tracker {
	return &Tracker{kv: t.kv, js: t.js, write: w, skipFor: t.skipFor, cache: map[string]cached{}}
}

// subjectPrefix starts the subject of every key of [Bucket].
const subjectPrefix = "$KV." + Bucket + "."

// key returns the bucket key of conversation c.
func key(c events.Conversation) (string, error) {
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrConversation, err)
	}
	return c.AppID + "." + c.BusinessID + "." + c.OpenID, nil
}

// Grant applies a push of conversation c that opens a window: trigger
// events.TriggerMessage or events.TriggerEnterSession, at its CreateTime,
// id its event id. A retry of a push already applied changes nothing (see
// [State]). It returns the budget after the push.
//
// The common case costs one round trip: a create for a conversation this
// process has not seen, an update on the revision it last saw otherwise;
// only when another replica changed the budget since is it read again.
func (t *Tracker) Grant(ctx context.Context, c events.Conversation, trigger string, at time.Time, id string) (State, error) {
	if trigger != events.TriggerMessage && trigger != events.TriggerEnterSession {
		return State{}, fmt.Errorf("%w: trigger %q", ErrInvalid, trigger)
	}
	return t.change(ctx, c, true, syncing{}, func(s *State) bool { return s.grant(trigger, at, id) })
}

// Get returns conversation c's budget (the zero State when it has none).
func (t *Tracker) Get(ctx context.Context, c events.Conversation) (State, error) {
	k, err := key(c)
	if err != nil {
		return State{}, err
	}
	s, _, _, err := t.read(ctx, k)
	return s, err
}

// Take spends one send of conversation c at now. When the window is closed
// or used up it spends nothing and returns the errcode WeChat would answer
// (45015 or 45047), with the budget as read.
func (t *Tracker) Take(ctx context.Context, c events.Conversation, now time.Time) (State, int, error) {
	return t.TakeN(ctx, c, 1, now)
}

// TakeN spends n sends of conversation c at once (a text sent in n parts),
// or none: when the window is closed, or holds fewer than n sends, it
// returns the errcode WeChat would answer to the first part it cannot
// take (45015 or 45047), with the budget as read.
func (t *Tracker) TakeN(ctx context.Context, c events.Conversation, n int, now time.Time) (State, int, error) {
	s, code, _, err := t.takeN(ctx, c, nil, syncing{}, n, now)
	return s, code, err
}

// SyncTakeN is [Tracker.TakeN] on the budget brought up to date with c's
// latest stored user message in the inbound stream in (see [Tracker.Live]),
// in the same compare-and-set: the egress's take before each send. It
// also reports whether it applied a grant.
//
// received is when the caller got the command it takes for (this
// process's clock; zero: unknown). Every push the command answers was
// stored before it was published, so before received: when a take of this
// process brought c's budget up to date with a read of c's pushes that
// started after received and less than [SkipFor] ago, and the
// compare-and-set on the revision it wrote succeeds, the read is not made
// again (a bot's replies to one message, received together, read the
// pushes once). Otherwise — another writer changed the budget, or the take
// would refuse or take fewer than n — the take reads the pushes and
// decides on a fresh budget, as without received. So relying on the read
// never refuses a send; what it can cost: a user message stored since the
// read (within SkipFor) is not applied to this take, which WeChat counts
// in the message's new window and this take in the window before it. The
// take then reports that earlier window (fewer sends left, an earlier
// end), and once the next read applies the new window the budget can
// show more sends left than WeChat's, until WeChat's 45047 corrects it.
func (t *Tracker) SyncTakeN(ctx context.Context, in jetstream.Stream, c events.Conversation, n int, now, received time.Time) (State, int, bool, error) {
	return syncTake(ctx, t, in, c, received, func(p *pending, sy syncing) (State, int, bool, error) {
		return t.takeN(ctx, c, p, sy, n, now)
	})
}

// syncing is what a change knows of the conversation's pushes: its f
// applies the grant of every push stored before at (zero: none known).
// With cachedOnly it must not read the budget again: a stale revision, or
// a change that writes nothing, fails with errStale instead.
type syncing struct {
	at         time.Time
	cachedOnly bool
}

// errStale: a change that was to rely on the cached budget found it stale.
var errStale = errors.New("budget: cached revision stale")

// syncTake runs take with the grant of c's latest stored push: with none
// and the cached budget when that budget was synced after received (see
// [Tracker.SyncTakeN]), else (or when the cached budget proves stale) with
// a read of c's pushes.
func syncTake[R any](ctx context.Context, t *Tracker, in jetstream.Stream, c events.Conversation, received time.Time,
	take func(*pending, syncing) (State, R, bool, error)) (State, R, bool, error) {
	k, err := key(c)
	if err != nil {
		var zero R
		return State{}, zero, false, err
	}
	if e, ok := t.cached(k); ok && !received.IsZero() && e.synced.After(received) && time.Since(e.synced) < t.skipFor {
		s, r, granted, err := take(nil, syncing{at: e.synced, cachedOnly: true})
		if !errors.Is(err, errStale) {
			return s, r, granted, err
		}
	}
	at := time.Now()
	p, err := t.latestGrant(ctx, in, c)
	if err != nil {
		var zero R
		return State{}, zero, false, err
	}
	return take(p, syncing{at: at})
}

func (t *Tracker) takeN(ctx context.Context, c events.Conversation, p *pending, sy syncing, n int, now time.Time) (State, int, bool, error) {
	if n < 1 {
		return State{}, 0, false, fmt.Errorf("%w: take %d sends", ErrInvalid, n)
	}
	code, granted := 0, false
	s, err := t.change(ctx, c, p != nil, sy, func(s *State) bool {
		granted = p.apply(s)
		if code = s.sendCode(now); code != 0 {
			return granted
		}
		if s.Remaining < n {
			code = CodeOutOfCount
			return granted
		}
		for range n {
			s.take()
		}
		return true
	})
	return s, code, granted, err
}

// TakeUpTo spends as many of n sends of conversation c as its window holds
// at now (a text in parts whose budget policy sends what fits), and returns
// how many it took. It takes none and returns the errcode WeChat would
// answer (45015 or 45047) when the window is closed or used up.
func (t *Tracker) TakeUpTo(ctx context.Context, c events.Conversation, n int, now time.Time) (State, int, int, error) {
	s, took, code, _, err := t.takeUpTo(ctx, c, nil, syncing{}, n, now)
	return s, took, code, err
}

// SyncTakeUpTo is [Tracker.TakeUpTo] on the budget brought up to date as
// [Tracker.SyncTakeN] does (received as there), and reports whether it
// applied a grant.
func (t *Tracker) SyncTakeUpTo(ctx context.Context, in jetstream.Stream, c events.Conversation, n int, now, received time.Time) (State, int, int, bool, error) {
	type tookCode struct{ took, code int }
	s, r, granted, err := syncTake(ctx, t, in, c, received, func(p *pending, sy syncing) (State, tookCode, bool, error) {
		s, took, code, granted, err := t.takeUpTo(ctx, c, p, sy, n, now)
		return s, tookCode{took, code}, granted, err
	})
	return s, r.took, r.code, granted, err
}

func (t *Tracker) takeUpTo(ctx context.Context, c events.Conversation, p *pending, sy syncing, n int, now time.Time) (State, int, int, bool, error) {
	if n < 1 {
		return State{}, 0, 0, false, fmt.Errorf("%w: take %d sends", ErrInvalid, n)
	}
	code, took, granted := 0, 0, false
	s, err := t.change(ctx, c, p != nil, sy, func(s *State) bool {
		took = 0
		granted = p.apply(s)
		if code = s.sendCode(now); code != 0 {
			return granted
		}
		took = min(n, s.Remaining)
		if sy.cachedOnly && took < n {
			return false // fewer than n may only be decided on a fresh read
		}
		for range took {
			s.take()
		}
		return granted || took > 0
	})
	if err != nil {
		return s, 0, 0, false, err
	}
	return s, took, code, granted, nil
}

// Give returns n sends taken from the window that ends at expiresAt, for
// commands (or parts) WeChat did not deliver, up to the window's maximum,
// and reports how many it gave back. A window that changed since (a new
// push reset it, or it was corrected to zero) is left alone: none.
func (t *Tracker) Give(ctx context.Context, c events.Conversation, expiresAt time.Time, n int) (State, int, error) {
	gave := 0
	s, err := t.change(ctx, c, false, syncing{}, func(s *State) bool {
		gave = 0 // f runs again after a lost compare-and-set
		limit := MessageSends
		if s.Trigger == events.TriggerEnterSession {
			limit = SessionSends
		}
		if n < 1 || !s.ExpiresAt.Equal(expiresAt) || s.Remaining >= limit {
			return false
		}
		gave = min(s.Remaining+n, limit) - s.Remaining
		s.Remaining += gave
		return true
	})
	if err != nil {
		return s, 0, err
	}
	return s, gave, nil
}

// Exhaust corrects conversation c's budget after WeChat answered code
// (45015 or 45047) at now: nothing is left, and after 45015 the window is
// closed.
func (t *Tracker) Exhaust(ctx context.Context, c events.Conversation, code int, now time.Time) (State, error) {
	return t.change(ctx, c, false, syncing{}, func(s *State) bool {
		changed := s.Remaining != 0
		s.Remaining = 0
		if code == CodeOutOfWindow && s.ExpiresAt.After(now) {
			s.ExpiresAt, changed = now, true
		}
		return changed
	})
}

// CheckTyping returns the errcode WeChat would answer to a typing command
// (Typing or CancelTyping) of conversation c at now: 0, 45015, 45080 or
// 45081, with the budget as read.
func (t *Tracker) CheckTyping(ctx context.Context, c events.Conversation, command string, now time.Time) (State, int, error) {
	s, err := t.Get(ctx, c)
	if err != nil {
		return State{}, 0, err
	}
	return s, s.typingCode(command, now), nil
}

// SyncCheckTyping is [Tracker.CheckTyping] on the live budget (see
// [Tracker.Live]).
func (t *Tracker) SyncCheckTyping(ctx context.Context, in jetstream.Stream, c events.Conversation, command string, now time.Time) (State, int, error) {
	s, err := t.Live(ctx, in, c)
	if err != nil {
		return State{}, 0, err
	}
	return s, s.typingCode(command, now), nil
}

// Typed records a typing command of conversation c that WeChat accepted at
// now: Typing starts the typing state, CancelTyping ends it.
func (t *Tracker) Typed(ctx context.Context, c events.Conversation, command string, now time.Time) (State, error) {
	return t.change(ctx, c, false, syncing{}, func(s *State) bool {
		before := s.TypingUntil
		s.typed(command, now)
		return !before.Equal(s.TypingUntil)
	})
}

// change applies f to conversation c's budget with a compare-and-set on
// its revision, and returns the budget after it. f changes the State it is
// given and reports whether to write it. A change is first tried on the
// revision this process last saw (or, with guessNew, as the create of a
// new key when it saw none); a decision not to write is only taken on a
// fresh read, so a stale copy never refuses anything. sy says which pushes
// f's grant covers, and whether the change may read the budget (see
// [syncing]).
func (t *Tracker) change(ctx context.Context, c events.Conversation, guessNew bool, sy syncing, f func(*State) bool) (State, error) {
	k, err := key(c)
	if err != nil {
		return State{}, err
	}
	s, rev, fresh := State{}, uint64(0), false
	var synced time.Time // the pushes s holds the grants of (see cached)
	if e, ok := t.cached(k); ok {
		s, rev, synced = e.state, e.rev, e.synced
	} else if sy.cachedOnly {
		return State{}, errStale
	} else if !guessNew {
		if s, rev, _, err = t.read(ctx, k); err != nil {
			return State{}, err
		}
		fresh = true
	}
	for range maxTries {
		next := s.clone()
		lostCreate := false // a write on "no message" lost
		if !f(&next) {
			if fresh {
				t.markSynced(k, rev, sy.at)
				return next, nil
			}
		} else {
			nrev, err := t.store(ctx, k, next, rev)
			if err == nil {
				// What was written holds s's grants and f's.
				t.remember(k, nrev, next, later(synced, sy.at))
				return next, nil
			}
			if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return State{}, err
			}
			lostCreate = rev == 0
		}
		if sy.cachedOnly {
			return State{}, errStale
		}
		// Another writer was first, or the copy was stale: read again.
		synced = time.Time{}
		if s, rev, _, err = t.read(ctx, k); err != nil {
			return State{}, err
		}
		if rev == 0 && lostCreate && t.write != nil {
			// No key, yet a write on "no message" lost: the key's last
			// entry is a delete or purge marker, which the KV's Get
			// reports as no key (its Create writes on the marker; a
			// writer must be told the marker's sequence).
			if rev, err = t.markerSeq(ctx, k); err != nil {
				return State{}, err
			}
		}
		fresh = true
	}
	return State{}, fmt.Errorf("%w: budget of %s", ErrContended, k)
}

// read returns the stored budget of key k and its revision (0 and the zero
// State when there is none), remembering them.
func (t *Tracker) read(ctx context.Context, k string) (State, uint64, bool, error) {
	e, err := t.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		t.forget(k)
		return State{}, 0, false, nil
	}
	if err != nil {
		return State{}, 0, false, fmt.Errorf("get budget %s: %w", k, err)
	}
	var s State
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		// Not ours to trust: start over, the write replaces it.
		s = State{}
	}
	t.remember(k, e.Revision(), s, time.Time{})
	return s, e.Revision(), true, nil
}

// markerSeq returns the sequence of key k's last entry, a delete or
// purge marker when the KV reports no key (0: none). It looks the
// bucket's stream up each time: only a write that lost on a deleted key
// needs it.
func (t *Tracker) markerSeq(ctx context.Context, k string) (uint64, error) {
	st, err := t.js.Stream(ctx, "KV_"+Bucket)
	if err != nil {
		return 0, fmt.Errorf("get budget %s: %w", k, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, subjectPrefix+k)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get budget %s: %w", k, err)
	}
	return m.Sequence, nil
}

// store writes s as key k's value: a create when rev is 0, else an update
// on rev.
func (t *Tracker) store(ctx context.Context, k string, s State, rev uint64) (uint64, error) {
	val, err := json.Marshal(s)
	if err != nil {
		return 0, fmt.Errorf("encode budget: %w", err)
	}
	switch {
	case t.write != nil:
		rev, err = t.write(ctx, subjectPrefix+k, val, rev)
	case rev == 0:
		rev, err = t.kv.Create(ctx, k, val)
	default:
		rev, err = t.kv.Update(ctx, k, val, rev)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, err
		}
		return 0, fmt.Errorf("write budget %s: %w", k, err)
	}
	return rev, nil
}

func (t *Tracker) cached(k string) (cached, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.cache[k]
	return e, ok
}

func (t *Tracker) remember(k string, rev uint64, s State, synced time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.cache[k]; !ok && len(t.cache) >= maxCached {
		for old := range t.cache { // drop any one: a miss costs one read
			delete(t.cache, old)
			break
		}
	}
	t.cache[k] = cached{rev: rev, state: s.clone(), synced: synced}
}

// markSynced records that key k's budget at revision rev holds the grants of
// the pushes stored before at (a change that found nothing to write on a
// fresh read, with at's grant applied).
func (t *Tracker) markSynced(k string, rev uint64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.cache[k]; ok && e.rev == rev {
		e.synced = later(e.synced, at)
		t.cache[k] = e
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (t *Tracker) forget(k string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.cache, k)
}
