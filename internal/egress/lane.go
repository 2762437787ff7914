package egress

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/budget"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// priorityGroup is the one priority group of the egress consumers: the
// server pins each consumer to one replica at a time.
const priorityGroup = "egress"

// headerPinID is the header in which the server names the pin a delivery
// was made under.
const headerPinID = "Nats-Pin-Id"

// laneName is the durable name of the consumer of partition p of n.
func laneName(p, n int) string { return fmt.Sprintf("egress-%d-%d", n, p) }

// A lane is one partition's durable consumer served by this replica: while the server
// pins the consumer here, every command it hands out is held by the lane
// until it is finished — running, queued behind its conversation's earlier
// commands, or parked until a retry — and its conversation's commands run
// one at a time, in stream order. Conversations do not wait for each
// other: the consumer hands out up to MaxPending commands, and the
// process's workers take the conversations in turns (see [workers]).
type lane struct {
	e    *Egress
	name string
	cons jetstream.Consumer
	pool *workers

	mu      sync.Mutex
	held    map[uint64]*entry // by stream sequence
	convs   map[string]*conv  // conversations with held commands
	pin     string            // the pin of the latest delivery
	last    time.Time         // the latest delivery
	gen     int               // counts pin changes
	catchUp bool              // a new pin: wait until no one else holds a command
	lost    bool              // the pin is gone (released): parked commands go back
	closing bool
	kick    chan struct{}  // closed to wake parked conversations (release, close)
	running sync.WaitGroup // conversations running: ready, in handling, storing a result or parked
	bg      sync.WaitGroup // catchUpLoop
}

// entry is one held command.
type entry struct {
	msg   jetstream.Msg          // its latest delivery
	md    *jetstream.MsgMetadata // msg's
	acked time.Time              // its latest delivery or progress ack
	seq   uint64                 // stream sequence
	dseq  uint64                 // consumer sequence of msg
	conv  *conv
	send  bool // a send command (by its subject's verb)
	// received is when it first arrived here: it was published before
	// (the reply budget's take relies on that; see budget.Tracker.SyncTakeN).
	received time.Time
	active   bool // a worker is handling it
	tries    int  // handlings so far in this replica
	// result is its delivered result that a handling could not store (see
	// [action]).
	result []byte
}

// conv is a conversation's held commands, by stream sequence.
type conv struct {
	key     string
	queue   []*entry
	running bool // ready, in handling, its result being stored or parked (see [lane.step])
	// res is the reply budget's reservation for the sends queued behind
	// the command in handling: used by the handling of the conversation's
	// current command only, one at a time (see [reservation]).
	res reservation
}

// sendsBehind counts the sends queued right behind the first of queue,
// up to the first command that is not a send, and at most limit.
func sendsBehind(queue []*entry, limit int) int {
	n := 0
	for _, en := range queue[1:] {
		if n == limit || !en.send {
			break
		}
		n++
	}
	return n
}

func newLane(e *Egress, name string, cons jetstream.Consumer, pool *workers) *lane {
	return &lane{e: e, name: name, cons: cons, pool: pool, held: map[uint64]*entry{}, convs: map[string]*conv{},
		kick: make(chan struct{})}
}

// workers are the goroutines of one [Egress.Run] that handle commands:
// Concurrency of them, so at most that many commands are in handling at
// once in the process. A conversation with a command to start waits in a
// FIFO of ready conversations (a slice, not a goroutine: with thousands
// of conversations held, a goroutine each blocked on a slot cost their
// stacks — 49 MB at 0 ms API latency — and a goroutine start for most
// conversations). A worker takes the conversation at the head, handles
// its next command, and, while others wait, puts it back at the tail:
// conversations take turns, one command each.
type workers struct {
	mu    sync.Mutex
	cond  sync.Cond
	ready []convTask // FIFO from ready[head:]
	head  int
	stop  bool
	done  sync.WaitGroup
}

// convTask is a conversation to work on, and its lane.
type convTask struct {
	l *lane
	c *conv
}

func newWorkers(n int) *workers {
	w := &workers{}
	w.cond.L = &w.mu
	for range n {
		w.done.Go(w.loop)
	}
	return w
}

// run queues c as ready for its next command.
func (w *workers) run(l *lane, c *conv) {
	w.mu.Lock()
	w.ready = append(w.ready, convTask{l, c})
	w.mu.Unlock()
	w.cond.Signal()
}

// next waits for a ready conversation; ok is false once the run ended.
// With again set, t's conversation has more to do: it is handed back when
// no other conversation waits, else queued behind them.
func (w *workers) next(t convTask, again bool) (convTask, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if again {
		if w.head == len(w.ready) {
			return t, true
		}
		w.ready = append(w.ready, t)
	}
	for w.head == len(w.ready) {
		if w.stop {
			return convTask{}, false
		}
		w.cond.Wait()
	}
	t = w.ready[w.head]
	w.ready[w.head] = convTask{}
	w.head++
	if w.head == len(w.ready) {
		w.ready, w.head = w.ready[:0], 0
	} else if w.head >= 1024 && w.head*2 >= len(w.ready) {
		n := copy(w.ready, w.ready[w.head:])
		clear(w.ready[n:])
		w.ready, w.head = w.ready[:n], 0
	}
	return t, true
}

// loop handles ready conversations until the run ends.
//
// It first keeps its stack grown (see [stackHeld]).
func (w *workers) loop() {
	var frame [stackHeld]byte
	holdStack(frame[:])
	var t convTask
	again := false
	for {
		var ok bool
		if t, ok = w.next(t, again); !ok {
			return
		}
		again = t.l.step(t.c)
	}
}

// stackHeld is the stack a worker holds below its loop. A worker waits
// for its next conversation at a shallow depth; each GC then halves the
// stack of every waiting worker (it uses less than a quarter of it), and
// the next command's deep path — decoding, the HTTP client — grew it
// back, copying it each time: 5 % of the egress's CPU in
// BenchmarkEgressVsNaive. With 16 KiB of its 32 KiB stack in this frame,
// a waiting worker uses half its stack, and the GC leaves it alone.
const stackHeld = 16 << 10

// holdStack keeps its caller's frame, b, on the stack: the compiler can
// neither drop b nor move it to the heap.
//
//go:noinline
func holdStack(b []byte) {}

// close ends the workers once they are idle; every lane was closed before.
func (w *workers) close() {
	w.mu.Lock()
	w.stop = true
	w.mu.Unlock()
	w.cond.Broadcast()
	w.done.Wait()
}

// convKey is a command's conversation in its stored subject
// wxkf.outp.<partition>.<appid>.<bid>.<openid>.<verb>: the subject without
// its verb.
func convKey(subject string) string {
	if i := strings.LastIndexByte(subject, '.'); i > 0 {
		return subject[:i]
	}
	return subject
}

// add takes one delivery from the consumer (nats.go calls it from one
// goroutine per consumer).
func (l *lane) add(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		l.e.logger.Error("delivery without metadata dropped", "consumer", l.name, "err", err)
		return
	}
	pin, now := header(msg, headerPinID), time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = now
	if l.closing {
		_ = msg.Nak() // the next replica serving the consumer takes it
		return
	}
	if pin != "" && pin != l.pin {
		// The consumer was (re)pinned here: another replica may still hold
		// commands it got before. Nothing starts until they are finished or
		// handed back (see catchUpLoop).
		l.pin = pin
		l.gen++
		l.lost = false
		if !l.catchUp {
			l.catchUp = true
			l.bg.Add(1)
			go l.catchUpLoop()
		}
	}
	seq := md.Sequence.Stream
	if en := l.held[seq]; en != nil {
		// A redelivery of a command held here (a progress ack was late):
		// keep one entry, answer through the latest delivery.
		en.msg, en.md, en.dseq, en.acked = msg, md, md.Sequence.Consumer, now
		return
	}
	key := convKey(msg.Subject())
	c := l.convs[key]
	if c == nil {
		c = &conv{key: key}
		l.convs[key] = c
	}
	en := &entry{msg: msg, md: md, acked: now, seq: seq, dseq: md.Sequence.Consumer, conv: c, received: now,
		send: strings.HasSuffix(msg.Subject(), "."+events.VerbSend)}
	l.held[seq] = en
	// In stream order; a command handed back by another replica may arrive
	// after later ones of its conversation (they wait in catch-up).
	i := len(c.queue)
	for i > 0 && c.queue[i-1].seq > seq && !c.queue[i-1].active {
		i--
	}
	c.queue = slices.Insert(c.queue, i, en)
	l.e.metrics.held.Inc()
	if !l.catchUp && !c.running {
		l.start(c)
	}
}

// start queues c for the workers. Locked.
func (l *lane) start(c *conv) {
	c.running = true
	l.running.Add(1)
	l.pool.run(l, c)
}

// step handles c's next command, on one of the workers, and reports
// whether c has another to start now. A conversation stops when it has
// no command left, or the lane is closing or catching up (whatever ends
// that starts it again); a parked command's conversation waits off the
// workers until the command is due, or the lane wants its commands back;
// one whose command's result is being stored waits off the workers until
// the write ends (see [lane.settle]).
//
// A conversation gives back the sends its reservation still holds (see
// [reservation]) before it stops, parks or hands its commands back, and
// when its next command is not a send: while it still runs, so that no
// take of its conversation here comes in between.
func (l *lane) step(c *conv) bool {
	l.mu.Lock()
	for (len(c.queue) == 0 || l.closing || l.catchUp) && c.res.holds() {
		res := c.res.detach()
		l.mu.Unlock()
		l.e.returnReserved(context.Background(), &res)
		l.mu.Lock()
	}
	if len(c.queue) == 0 || l.closing || l.catchUp {
		c.running = false
		if len(c.queue) == 0 {
			delete(l.convs, c.key)
		}
		l.mu.Unlock()
		l.running.Done()
		return false
	}
	en, kick := c.queue[0], l.kick
	en.active = true
	en.tries++
	if l.e.observing() {
		c.res.behind = sendsBehind(c.queue, budget.MessageSends-1)
	}
	msg, md, received, tries, retained := en.msg, en.md, en.received, en.tries, en.result
	l.mu.Unlock()

	act := l.e.handle(msg, md, received, tries, kick, retained, &c.res, func(act action) {
		// The handling ended when its result's write did: c goes on on a
		// worker, as after a handling that returned act.
		if l.settle(c, en, act, kick, true) {
			l.pool.run(l, c)
		}
	})
	if act.out == outStoring {
		return false // the worker is free; settle continues c
	}
	return l.settle(c, en, act, kick, false)
}

// settle ends a handling of en, c's first command, with act: it forgets
// en unless parked, acknowledges, terminates or parks it, and gives back
// the reservation's sends that no queued send will use. A park ends at
// its time or when kick (the lane's when the handling started) is closed.
// It reports whether c has more to do now (false when parked: its timer
// queues c again). Called back (see [Egress.handle]) it runs where the
// result's write ended, which must not wait for NATS: when sends are to go
// back, they go back on a goroutine of its own, which then goes on with c
// (and settle reports false).
func (l *lane) settle(c *conv, en *entry, act action, kick <-chan struct{}, calledBack bool) bool {
	l.mu.Lock()
	en.active = false
	if act.result != nil {
		en.result = act.result
	}
	handBack := act.out == outPark && (l.closing || l.lost) // released while it ran
	if act.out != outPark || handBack {
		// Forgotten before it is acknowledged, so that a catch-up never
		// counts as held here a command the server no longer counts.
		l.drop(en)
	}
	last := en.msg
	var res reservation // sends no queued send will use soon, given back
	if c.res.holds() && (len(c.queue) == 0 || !c.queue[0].send || act.out == outPark || act.out == outTaken) {
		res = c.res.detach()
	}
	l.mu.Unlock()
	if calledBack && res.holds() {
		// Given back before the conversation goes on (no take of its own
		// comes in between), off the callback's goroutine.
		go func() {
			l.e.returnReserved(context.Background(), &res)
			if l.conclude(c, last, act, handBack, kick) {
				l.pool.run(l, c)
			}
		}()
		return false
	}
	l.e.returnReserved(context.Background(), &res)
	return l.conclude(c, last, act, handBack, kick)
}

// conclude acknowledges, terminates, hands back or parks last, the
// delivery of c's command a handling ended with act, as [lane.settle]
// decided; it reports whether c has more to do now.
func (l *lane) conclude(c *conv, last jetstream.Msg, act action, handBack bool, kick <-chan struct{}) bool {
	switch {
	case handBack:
		_ = last.Nak() // the replica pinned next takes it
	case act.out == outAck:
		if err := last.Ack(); err != nil {
			l.e.logger.Warn("ack not sent; the command will be redelivered and its result republished", "subject", last.Subject(), "err", err)
		}
	case act.out == outTerm:
		_ = last.Term()
	case act.out == outTaken:
		// Another replica serves the consumer now: it gets the rest.
		l.release("taken over")
	default:
		// Parked: the conversation's later commands wait behind it; no
		// other conversation does. It is ready again when the command is
		// due, or at once when the lane is released or closing (step
		// then decides).
		go func() {
			t := time.NewTimer(act.wait)
			select {
			case <-t.C:
			case <-kick:
				t.Stop()
			}
			l.pool.run(l, c)
		}()
		return false
	}
	return true
}

// drop forgets en. Locked.
func (l *lane) drop(en *entry) {
	if l.held[en.seq] != en {
		return
	}
	delete(l.held, en.seq)
	c := en.conv
	if i := slices.Index(c.queue, en); i >= 0 {
		c.queue = slices.Delete(c.queue, i, i+1)
	}
	l.e.metrics.held.Dec()
}

// release hands back every held command that is not being handled, in
// stream order, so that the replica now serving the consumer gets them
// (it waits for them, see catchUpLoop), and wakes the parked conversations.
func (l *lane) release(why string) {
	l.mu.Lock()
	var back []*entry
	for _, en := range l.held {
		if !en.active {
			back = append(back, en)
		}
	}
	slices.SortFunc(back, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	for _, en := range back {
		l.drop(en)
	}
	for key, c := range l.convs {
		if len(c.queue) == 0 && !c.running {
			delete(l.convs, key)
		}
	}
	// Commands still in handling go back when their handling parks them;
	// the next delivery, under whatever pin, starts a catch-up.
	l.lost, l.pin = true, ""
	close(l.kick)
	l.kick = make(chan struct{})
	l.mu.Unlock()
	for _, en := range back {
		_ = en.msg.Nak()
	}
	if len(back) > 0 {
		l.e.logger.Info("commands handed back", "consumer", l.name, "count", len(back), "why", why)
	}
}

// catchUpLoop runs after the consumer was pinned here: until every command
// the consumer has handed out and not seen acknowledged is held here (the
// previous replica finished or handed back its own, or they were
// redelivered here after its AckWait), no conversation starts, so none
// overtakes a command still at the previous replica. Then the held
// commands start, each conversation in stream order.
func (l *lane) catchUpLoop() {
	defer l.bg.Done()
	wait := 20 * time.Millisecond
	logged := time.Now()
	for {
		l.mu.Lock()
		gen := l.gen
		if l.closing {
			l.catchUp = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		done, err := l.othersDone(gen)
		if err != nil {
			l.e.logger.Debug("consumer info", "consumer", l.name, "err", err)
		}
		if done {
			l.mu.Lock()
			if l.gen == gen { // else pinned anew since: ask again
				break // holding l.mu
			}
			l.mu.Unlock()
			continue
		}
		if time.Since(logged) > 10*time.Second {
			logged = time.Now()
			l.e.logger.Info("waiting for commands another replica holds before starting this consumer's", "consumer", l.name)
		}
		time.Sleep(wait) // polling the server, not ordering events
		wait = min(2*wait, 500*time.Millisecond)
	}
	l.catchUp = false
	for _, c := range l.convs {
		if !c.running && len(c.queue) > 0 {
			l.start(c)
		}
	}
	l.mu.Unlock()
}

// othersDone reports whether every command pending at the consumer is
// held here, judged by a fresh ConsumerInfo: the commands it counts as
// pending are those delivered up to its Delivered.Consumer sequence; a
// pin change since gen means asking again.
func (l *lane) othersDone(gen int) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.e.natsWait)
	defer cancel()
	info, err := l.cons.Info(ctx)
	if err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != gen {
		return false, nil
	}
	mine := 0
	for _, en := range l.held {
		if en.dseq <= info.Delivered.Consumer {
			mine++
		}
	}
	return info.NumAckPending <= mine, nil
}

// progress sends a progress ack for every command held for at least
// about one period since its delivery or its last progress ack, so that none
// is redelivered while it runs, waits behind its conversation or is
// parked. Called every period, a command gets its first progress ack
// before it was held for two periods; commands finished sooner get none.
func (l *lane) progress(period time.Duration) {
	now := time.Now()
	l.mu.Lock()
	var msgs []jetstream.Msg
	for _, en := range l.held {
		if now.Sub(en.acked) >= period*9/10 {
			en.acked = now
			msgs = append(msgs, en.msg)
		}
	}
	// A pin kept while idle would keep the partition on this replica
	// forever (the pinned replica's pulls renew it): a lane idle for an
	// AckWait gives it up, so that the next command pins whichever
	// replica's pull is oldest, and partitions spread again over the
	// replicas that came since.
	idlePin := ""
	if l.pin != "" && len(l.held) == 0 && !l.catchUp && now.Sub(l.last) > 3*period {
		idlePin, l.pin = l.pin, ""
	}
	l.mu.Unlock()
	for _, m := range msgs {
		_ = m.InProgress()
	}
	if idlePin != "" {
		l.unpin(context.Background(), idlePin)
	}
}

// close stops the lane after its consumer stopped delivering: commands
// not being handled are handed back, the ones being handled finish, and
// the pin is given up so that another replica takes over at once.
func (l *lane) close(ctx context.Context) {
	l.mu.Lock()
	l.closing = true
	pin := l.pin
	l.mu.Unlock()
	l.release("shutdown")
	// Unpinned at once: the next replica's catch-up waits for the commands
	// still in handling here (they keep getting progress acks until Run
	// returns).
	l.unpin(ctx, pin)
	l.running.Wait()
	l.bg.Wait()
}

// unpin gives up the consumer's pin if it is still this replica's.
func (l *lane) unpin(ctx context.Context, pin string) {
	if pin == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, l.e.natsWait)
	defer cancel()
	info, err := l.cons.Info(ctx)
	if err != nil {
		return
	}
	for _, g := range info.PriorityGroups {
		if g.Group == priorityGroup && g.PinnedClientID == pin {
			if err := l.e.out.UnpinConsumer(ctx, l.name, priorityGroup); err != nil {
				l.e.logger.Debug("unpin", "consumer", l.name, "err", err)
			}
		}
	}
}

// consumeErr handles the consumer's errors: losing the pin hands back
// everything not being handled.
func (l *lane) consumeErr(_ jetstream.ConsumeContext, err error) {
	switch {
	case errors.Is(err, jetstream.ErrPinIDMismatch):
		l.e.logger.Info("consumer pinned to another replica", "consumer", l.name)
		l.release("pinned elsewhere")
	case errors.Is(err, jetstream.ErrNoHeartbeat):
	default:
		l.e.logger.Debug("consume", "consumer", l.name, "err", err)
	}
}
