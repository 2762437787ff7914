package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestClusterFailover runs the bridge on a three-node JetStream cluster with
// R3 streams. While WeChat pushes at a steady rate (with its retries) and a
// bot's commands flow to a WeChat API answering in 50 ms, the node leading
// the streams is killed (SIGKILL) with work in flight, and restarted 15 s
// later. Every push answered success is stored exactly once; every command
// acknowledged by JetStream gets exactly one result; WeChat gets each
// command at most once, exactly once when delivered. The figures go to the
// log.
func TestClusterFailover(t *testing.T) {
	const (
		rate       = 100 * time.Millisecond // one push and one command each
		warmup     = 8 * time.Second
		downFor    = 15 * time.Second // the leader node stays down
		afterwards = 10 * time.Second // load after the restart
		pushUsers  = 20
		// One command per user every 10 s: a user message allows 5 sends,
		// and commands may queue for half a minute in the failover.
		cmdUsers = 100
	)
	st := newStack(t)
	nodes := map[string]*natsNode{}
	var urls []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		nodes[name] = st.startNATS(name, true)
	}
	for _, n := range nodes {
		n.waitHealthy(t, time.Minute)
		urls = append(urls, n.clientURL(t))
	}
	sim := st.startWeChat(50 * time.Millisecond)
	env := bridgeEnv("nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222", 3, nil)
	ing := st.startIngress("ingress", env)
	eg := st.startEgress("egress", env)
	ctx := t.Context()
	nc, js := connectNATS(t, urls...)
	ingressURL := endpoint(t, ing, ingressPort, "http")
	ingressAdminURL := endpoint(t, ing, ingressAdminPort, "http")
	egressURL := endpoint(t, eg, egressPort, "http")
	wx := newWeChat(t, ingressURL, endpoint(t, sim, wechatPort, "http"))

	// One node leads every stream and the command partitions' consumers.
	leader, err := streamLeader(ctx, js, events.InboundStreamName)
	if err != nil || leader == "" {
		t.Fatalf("leader of %s: %q, %v", events.InboundStreamName, leader, err)
	}
	gathered := gatherLeadership(t, nc, js, leader)

	// Steady load: a push and a command every 100 ms.
	l := &load{wx: wx, js: js, pusher: wx.pusher(t)}
	stopLoad := l.run(ctx, rate, pushUsers, cmdUsers)
	time.Sleep(warmup)

	// Kill the leader node while pushes and commands are in flight: once
	// the egress is handling a command, after a few commands queued in
	// their partitions, and while pushes go back to back (one alone takes
	// milliseconds, too little to be caught).
	k := newKiller(t)
	var outMsgs uint64
	var egressInflight float64
	waitFor(t, 20*time.Second, "commands in flight", func() bool {
		if m, err := scrape(ctx, egressURL); err == nil {
			egressInflight = m.sum("kfbridge_egress_inflight_commands")
		}
		if s, err := js.Stream(ctx, events.OutboundStreamName); err == nil {
			outMsgs = s.CachedInfo().State.Msgs
		}
		return egressInflight > 0 || outMsgs > 0
	})
	// The leaders are checked first, so that between the burst and the kill
	// there is only the start of the back-to-back pushes: a slow check on a
	// loaded machine once let the whole burst finish before the kill.
	for _, name := range []string{events.InboundStreamName, events.OutboundStreamName} {
		if l, err := streamLeader(ctx, js, name); err != nil || l != leader {
			t.Fatalf("before the kill %s is led by %q (%v), want %s", name, l, err, leader)
		}
	}
	// 5 each (a message's send allowance) for 4 users: ≥ 250 ms of work
	// per conversation at the simulator's 50 ms.
	if err := l.commandBurst(ctx, 4, 5); err != nil {
		t.Fatal(err)
	}
	stopPushing := l.backToBack(ctx, 2, pushUsers)
	killedAt := k.signal(t, nodes[leader].c) // when it died
	stopPushing()

	// Recovery: new leaders, then pushes and commands flow again.
	var newLeaders []string
	waitFor(t, 30*time.Second, "new stream leaders", func() bool {
		newLeaders = newLeaders[:0]
		for _, name := range []string{events.InboundStreamName, events.OutboundStreamName} {
			l, err := streamLeader(ctx, js, name)
			if err != nil || l == "" || l == leader {
				return false
			}
			newLeaders = append(newLeaders, l)
		}
		return true
	})
	elected := time.Since(killedAt)
	time.Sleep(time.Until(killedAt.Add(downFor)))
	restartedAt := time.Now()
	if err := nodes[leader].c.Start(ctx); err != nil {
		t.Fatalf("restart %s: %v", leader, err)
	}
	nodes[leader].waitHealthy(t, time.Minute)
	rejoined := time.Since(restartedAt)
	time.Sleep(afterwards)
	stopLoad()

	// Every acknowledged command gets its result.
	var results map[string][]events.ResultData
	drained := waitFor(t, 2*time.Minute, "a result for every acknowledged command", func() bool {
		results, err = readResults(ctx, js)
		if err != nil {
			return false
		}
		for _, c := range l.cmds {
			if c.err == nil && len(results[c.id]) == 0 {
				return false
			}
		}
		return true
	})

	// Pushes: each one answered success stored exactly once.
	// Read like the results above: the cluster may still be moving a
	// stream's leader ("no responders"), which is not a lost push.
	var stored []storedMsg
	waitFor(t, time.Minute, "the push stream to be readable", func() bool {
		stored, err = readStream(ctx, js, events.InboundStreamName)
		return err == nil
	})
	storedCount := map[string]int{}
	for _, m := range stored {
		storedCount[m.msgID]++
	}
	var delivered, notDelivered, attempts, retriedOK int
	for _, p := range l.pushes {
		if p.req == nil {
			t.Errorf("push not signed: %v", p.err)
			continue
		}
		id := demo.AppID + ":" + p.req.Spec.MsgID
		attempts += p.res.Attempts
		if p.err == nil {
			delivered++
			if p.res.Attempts > 1 {
				retriedOK++
			}
			if n := storedCount[id]; n != 1 {
				t.Errorf("push %s answered success, stored %d times", id, n)
			}
			continue
		}
		notDelivered++
		t.Logf("push %s not delivered: %+v, %v", id, p.res, p.err)
	}
	for id, n := range storedCount {
		if n > 1 {
			t.Errorf("push %s stored %d times", id, n)
		}
	}

	// Commands: one result each; WeChat got each at most once.
	atWeChat := map[string]int{}
	deliveredAtWeChat, err := wx.delivered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deliveredAtWeChat {
		atWeChat[deliveredText(d)]++
	}
	outcomes := map[string]int{}
	var acked, publishRetries, resultCount int
	for _, c := range l.cmds {
		publishRetries += c.tries - 1
		rs := results[c.id]
		resultCount += len(rs)
		if c.err != nil {
			if len(rs) > 1 || atWeChat[c.id] > 1 {
				t.Errorf("command %s (never acknowledged) has %d results and reached WeChat %d times", c.id, len(rs), atWeChat[c.id])
			}
			continue
		}
		acked++
		if len(rs) != 1 {
			t.Errorf("command %s has %d results, want 1: %+v", c.id, len(rs), rs)
			continue
		}
		r := rs[0]
		outcomes[strings.TrimSuffix(r.Outcome+"/"+r.Reason, "/")]++
		switch {
		case r.Outcome == events.OutcomeDelivered && atWeChat[c.id] != 1:
			t.Errorf("command %s delivered; WeChat got it %d times", c.id, atWeChat[c.id])
		case r.Outcome == events.OutcomeDelivered:
		case r.Reason == "maybe_delivered" && atWeChat[c.id] <= 1:
		default:
			t.Errorf("command %s: %+v (WeChat got it %d times), want delivered, or maybe_delivered at most once", c.id, r, atWeChat[c.id])
		}
	}

	// Work in flight at the leader when it died: pushes sent before and
	// answered after, commands published before whose result came after.
	var pushesCaught, cmdsCaught int
	for _, p := range l.pushes {
		if p.res.Attempts > 0 && p.started.Before(killedAt) && p.answered.After(killedAt) {
			pushesCaught++
		}
	}
	for _, c := range l.cmds {
		if rs := results[c.id]; c.err == nil && len(rs) == 1 && c.published.Before(killedAt) && rs[0].Time.After(killedAt) {
			cmdsCaught++
		}
	}
	if pushesCaught == 0 || cmdsCaught == 0 {
		t.Errorf("in flight at the kill: %d pushes, %d commands; want some of both", pushesCaught, cmdsCaught)
	}

	var slowest time.Duration
	for _, c := range l.cmds {
		if rs := results[c.id]; len(rs) == 1 && rs[0].Time.Sub(c.published) > slowest {
			slowest = rs[0].Time.Sub(c.published)
		}
	}

	// Recovery times, from the kill.
	firstPushOK, firstFreshPushOK := l.firstPushesAfter(killedAt)
	firstResult, firstFreshResult := firstResultsAfter(l.cmds, results, killedAt)
	m, err := scrape(ctx, ingressAdminURL)
	if err != nil {
		t.Fatal(err)
	}
	since := func(at time.Time) string {
		if at.IsZero() {
			return "never"
		}
		return at.Sub(killedAt).Round(time.Millisecond).String()
	}
	recovered := "never"
	if !firstFreshPushOK.IsZero() && !firstFreshResult.IsZero() {
		recovered = since(firstFreshPushOK)
		if firstFreshResult.After(firstFreshPushOK) {
			recovered = since(firstFreshResult)
		}
	}
	t.Logf("failover: recovered %s after the kill (a push sent after it stored at its first attempt, and a command published after it delivered)", recovered)
	t.Logf("failover: killed %s, leader of %s (%d stream and consumer leaders gathered on it), with %d pushes and %d commands in flight (%v commands in the egress, %d stored unacknowledged when the kill was decided)",
		leader, strings.Join([]string{events.InboundStreamName, events.OutboundStreamName}, ", "), gathered, pushesCaught, cmdsCaught, egressInflight, outMsgs)
	t.Logf("failover: the JetStream API named new leaders %v %s after the kill (it waits for a new meta leader too); first push answered success %s after it, first push sent after it answered success at once %s after it; first result %s after it, first result of a command published after it %s after it; node restarted %s after the kill, current again %s later; all results %s after the load stopped",
		newLeaders, elected.Round(time.Millisecond), since(firstPushOK), since(firstFreshPushOK), since(firstResult), since(firstFreshResult),
		restartedAt.Sub(killedAt).Round(time.Millisecond), rejoined.Round(time.Millisecond), drained.Round(time.Millisecond))
	t.Logf("failover: pushes sent %d, answered success %d (%d after WeChat retries), not delivered %d, attempts %d; stored %d; ingress published %v, duplicates dropped %v, publish failures answered 503: %v",
		len(l.pushes), delivered, retriedOK, notDelivered, attempts, len(stored),
		m.sum("kfbridge_ingress_pushes_total", `outcome="published"`), m.sum("kfbridge_ingress_pushes_total", `outcome="duplicate"`),
		m.sum("kfbridge_ingress_pushes_total", `outcome="publish_failed"`))
	t.Logf("failover: commands %d, acknowledged %d (publish retries %d), results %d, outcomes %v, at WeChat %d messages; slowest command %s from publish to result",
		len(l.cmds), acked, publishRetries, resultCount, outcomes, len(deliveredAtWeChat), slowest.Round(time.Millisecond))
}

// gatherLeadership makes node lead every stream and the egress's partition
// consumers (leader step-downs with a preferred server) and returns how
// many leaders it holds.
func gatherLeadership(t testing.TB, nc *nats.Conn, js jetstream.JetStream, node string) int {
	t.Helper()
	ctx := t.Context()
	var streams []string
	for name := range js.StreamNames(ctx).Name() {
		streams = append(streams, name)
	}
	sort.Strings(streams)
	for _, name := range streams {
		if err := moveStreamLeader(ctx, nc, js, name, node); err != nil {
			t.Fatalf("move the leader of %s: %v", name, err)
		}
	}
	out, err := js.Stream(ctx, events.OutboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	var consumers []string
	for info, err := range consumerInfos(ctx, out) {
		if err != nil {
			t.Fatal(err)
		}
		if info.Cluster == nil || info.Cluster.Leader != node {
			consumers = append(consumers, info.Name)
		}
	}
	for _, name := range consumers {
		if err := moveConsumerLeader(ctx, nc, events.OutboundStreamName, name, node); err != nil {
			t.Logf("move the leader of consumer %s: %v", name, err)
		}
	}
	held := 0
	waitFor(t, 30*time.Second, node+" leading every stream", func() bool {
		held = 0
		for _, name := range streams {
			if l, err := streamLeader(ctx, js, name); err != nil || l != node {
				return false
			}
			held++
		}
		for info, err := range consumerInfos(ctx, out) {
			if err == nil && info.Cluster != nil && info.Cluster.Leader == node {
				held++
			}
		}
		return true
	})
	return held
}

// load is a steady stream of WeChat pushes and bot commands.
type load struct {
	wx     *wechat
	js     jetstream.JetStream
	pusher *wxpush.Pusher

	wg     sync.WaitGroup // every push and publish
	mu     sync.Mutex
	pushes []*pushRecord
	cmds   []*cmdRecord
}

type pushRecord struct {
	req      *wxpush.Request
	started  time.Time
	answered time.Time
	res      wxpush.Result
	err      error
}

type cmdRecord struct {
	id        string
	published time.Time // when the first publish started
	tries     int
	err       error
}

// run sends one push and one command every interval until the returned
// stop is called; stop waits for every push and publish to end.
func (l *load) run(ctx context.Context, interval time.Duration, pushUsers, cmdUsers int) (stop func()) {
	done := make(chan struct{})
	var gen sync.WaitGroup
	gen.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			l.startPush(ctx, fmt.Sprintf("oIT-fo-push-%02d", n%pushUsers), fmt.Sprintf("push %d", n))
			c := &cmdRecord{id: fmt.Sprintf("fo-%04d", n)}
			l.mu.Lock()
			l.cmds = append(l.cmds, c)
			l.mu.Unlock()
			openid := fmt.Sprintf("oIT-fo-cmd-%02d", n%cmdUsers)
			l.wg.Go(func() { l.command(ctx, c, openid) })
		}
	})
	return func() {
		close(done)
		gen.Wait()
		l.wg.Wait()
	}
}

// backToBack keeps workers pushes in flight, each worker sending its next
// push as soon as the previous one was answered, until stop is called (a
// push then in flight finishes first, with its retries).
func (l *load) backToBack(ctx context.Context, workers, users int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				p := l.newPush(fmt.Sprintf("oIT-fo-push-%02d", (w+i)%users), fmt.Sprintf("back to back %d/%d", w, i))
				if p.err != nil {
					return
				}
				l.push(ctx, p)
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// commandBurst publishes perUser commands for each of users new users at
// once, waiting for JetStream's acks.
func (l *load) commandBurst(ctx context.Context, users, perUser int) error {
	for u := range users {
		openid := fmt.Sprintf("oIT-fo-burst-%d", u)
		if err := l.wx.interact(ctx, "0", openid, wxpush.KindText); err != nil {
			return err
		}
		for i := range perUser {
			c := &cmdRecord{id: fmt.Sprintf("fo-burst-%d-%d", u, i), published: time.Now()}
			conv := events.Conversation{AppID: demo.AppID, BusinessID: "0", OpenID: openid}
			c.tries, c.err = publishUntilAcked(ctx, l.js, conv, c.id, textCommand(c.id), 5*time.Second)
			if c.err != nil {
				return c.err
			}
			l.mu.Lock()
			l.cmds = append(l.cmds, c)
			l.mu.Unlock()
		}
	}
	return nil
}

// startPush signs a text push from openid and sends it in a goroutine.
func (l *load) startPush(ctx context.Context, openid, content string) {
	if p := l.newPush(openid, content); p.err == nil {
		l.wg.Go(func() { l.push(ctx, p) })
	}
}

// newPush signs a text push from openid and records it.
func (l *load) newPush(openid, content string) *pushRecord {
	spec := textSpec(openid, content)
	spec.To = demo.OriginalID
	req, err := l.wx.signer.Sign(spec, time.Now())
	p := &pushRecord{req: req, err: err}
	l.mu.Lock()
	l.pushes = append(l.pushes, p)
	l.mu.Unlock()
	return p
}

func (l *load) push(ctx context.Context, p *pushRecord) {
	started := time.Now()
	res, err := l.pusher.Push(ctx, p.req)
	l.mu.Lock()
	defer l.mu.Unlock()
	p.started, p.answered, p.res, p.err = started, time.Now(), res, err
}

// command keeps the user's send window open, as its message would, and
// publishes one text command until JetStream acknowledges it.
func (l *load) command(ctx context.Context, c *cmdRecord, openid string) {
	conv := events.Conversation{AppID: demo.AppID, BusinessID: "0", OpenID: openid}
	started := time.Now()
	err := l.wx.interact(ctx, "0", openid, wxpush.KindText)
	tries := 0
	if err == nil {
		tries, err = publishUntilAcked(ctx, l.js, conv, c.id, textCommand(c.id), 30*time.Second)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c.published, c.tries, c.err = started, tries, err
}

// firstPushesAfter returns when the first push after t was answered
// success, and when the first push started after t was answered success at
// its first attempt.
func (l *load) firstPushesAfter(t time.Time) (first, fresh time.Time) {
	for _, p := range l.pushes {
		if p.err != nil || !p.answered.After(t) {
			continue
		}
		if first.IsZero() || p.answered.Before(first) {
			first = p.answered
		}
		if p.started.After(t) && p.res.Attempts == 1 && (fresh.IsZero() || p.answered.Before(fresh)) {
			fresh = p.answered
		}
	}
	return first, fresh
}

// firstResultsAfter returns when the first result after t was decided, and
// when the first result of a command published after t was.
func firstResultsAfter(cmds []*cmdRecord, results map[string][]events.ResultData, t time.Time) (first, fresh time.Time) {
	for _, c := range cmds {
		for _, r := range results[c.id] {
			if !r.Time.After(t) {
				continue
			}
			if first.IsZero() || r.Time.Before(first) {
				first = r.Time
			}
			if c.published.After(t) && (fresh.IsZero() || r.Time.Before(fresh)) {
				fresh = r.Time
			}
		}
	}
	return first, fresh
}
