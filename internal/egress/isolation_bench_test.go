package egress

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// isolationCap bounds how long BenchmarkEgressIsolation waits for the
// commands it measures; those still undelivered are reported as "not
// within" the cap.
var isolationCap = flag.Duration("isolation.cap", 30*time.Second, "BenchmarkEgressIsolation: how long to wait for the measured commands")

// The two apps of the isolation scenarios.
const (
	isoAppA = "wx00000000000000a1"
	isoAppB = "wx00000000000000b2"
)

// BenchmarkEgressIsolation measures issue 11's isolation scenarios against
// the egress (default settings but the partition count: the default 1,
// where every conversation shares one consumer, and 4): how long commands of conversations that have
// nothing to wait for wait behind one that does. It is a measurement, not
// a pass/fail test: it fails only when the world cannot be set up.
//
//   - cross-app, a=paused: app A uses up its per-minute quota (10 sends,
//     delivered), then 40 more sends to 40 conversations are queued; the
//     first calls get 45011 and the egress pauses A for a minute, every
//     queued A command parked in its lane until the pause ends. Then
//     app B sends 8 commands to 8 fresh conversations.
//   - cross-app, a=idle: B's 8 commands alone, the reference.
//   - cross-app, a=paused, b=in-a-partitions: as a=paused, but B's 8
//     conversations are chosen among those hashed to a partition where an
//     A command waits (with few partitions, every partition holds one).
//   - same-app: one conversation of app A whose sends fail with WeChat's
//     -1 (transient: retried with backoff until the retry budget, 5 m,
//     ends); once it waits for its first retry, 4 conversations hashed to
//     its partition and 4 hashed elsewhere (with one partition: 8 in its
//     partition) send one command each.
//
// Every scenario starts once each partition's consumer has pulled (a
// running egress, not its start). Each measured command's delay is from
// just before its publish to its acceptance at the simulated send API
// (the simulator's clock); the benchmark logs each one, with its
// partition and what waits there, and
// reports how many were delivered within 1 s, 10 s, 100 s (the buckets
// the cap reaches) and the cap (-isolation.cap, default 30 s). Run each
// scenario once, with -v for every command's line (go test cuts a
// benchmark's log short without it):
//
//	go test -run '^$' -bench EgressIsolation -benchtime 1x -v ./internal/egress/
//	go test -run '^$' -bench 'EgressIsolation/same-app/partitions=4' -benchtime 1x -v \
//	    ./internal/egress/ -isolation.cap 6m
func BenchmarkEgressIsolation(b *testing.B) {
	for _, parts := range []int{1, 4} {
		for _, a := range []string{"paused", "idle"} {
			b.Run(fmt.Sprintf("cross-app/partitions=%d/a=%s", parts, a), func(b *testing.B) {
				for range b.N {
					crossApp(b, parts, a == "paused", false)
				}
			})
		}
		if parts > 8 {
			// B's fixed conversations miss A's partitions here: measure B
			// conversations that hash to them.
			b.Run(fmt.Sprintf("cross-app/partitions=%d/a=paused/b=in-a-partitions", parts), func(b *testing.B) {
				for range b.N {
					crossApp(b, parts, true, true)
				}
			})
		}
		b.Run(fmt.Sprintf("same-app/partitions=%d", parts), func(b *testing.B) {
			for range b.N {
				sameApp(b, parts)
			}
		})
	}
}

// isoWorld is one embedded JetStream, the simulator (two apps) behind an
// optional handler wrapper, and one egress with default settings but the
// partition count.
type isoWorld struct {
	b    *testing.B
	js   jetstream.JetStream
	sim  *wxsim.Sim
	eg   *Egress
	part func(appid, openid string) int
}

func newIsoWorld(b *testing.B, partitions, minuteQuota int, wrap func(http.Handler) http.Handler) *isoWorld {
	b.Helper()
	n := testworld.StartNATS(b)
	// The simulated minute starts with the run, so that a minute quota used
	// up here does not come back mid-measurement.
	base, start := time.Now().Truncate(time.Minute).Add(time.Minute), time.Now()
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{isoAppA: secret, isoAppB: secret},
		MinuteQuota: minuteQuota, DailyQuota: -1, Now: func() time.Time { return base.Add(time.Since(start)) }})
	if err != nil {
		b.Fatal(err)
	}
	h := sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	api := testworld.ServeAPI(b, h)
	d := config.Default()
	cfg := d.Egress
	cfg.APIBase, cfg.Partitions = api.URL, partitions
	apps := []config.App{{AppID: isoAppA, Secret: secret}, {AppID: isoAppB, Secret: secret}}
	reg := prometheus.NewRegistry()
	wx, err := wechat.New(b.Context(), wechat.Config{JS: n.JS, Egress: cfg, Streams: d.NATS.Streams, Apps: apps, Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	eg, err := New(Config{Egress: cfg, Streams: d.NATS.Streams, JS: n.JS, Apps: apps, Registry: reg,
		API: wx.API, Tokens: wx.Tokens, Fetcher: wx.Fetcher, Media: wx.Media})
	if err != nil {
		b.Fatal(err)
	}
	if err := eg.Setup(b.Context()); err != nil {
		b.Fatal(err)
	}
	// Measure a running egress, not its start: wait until every partition's
	// consumer has asked for commands.
	var mu sync.Mutex
	pulling := map[string]bool{}
	sub, err := n.NC.Subscribe("$JS.API.CONSUMER.MSG.NEXT."+events.OutboundStreamName+".*", func(m *nats.Msg) {
		mu.Lock()
		pulling[m.Subject] = true
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // the connection ends with the benchmark
	testworld.Run(b, "egress", eg.Run)
	waitCount(b, "every partition pulling", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(pulling) == partitions
	})
	return &isoWorld{b: b, js: n.JS, sim: sim, eg: eg, part: partitioner(b, partitions)}
}

// partitioner computes a conversation's partition with the server's own
// subject transform of [events.OutboundStream].
func partitioner(b *testing.B, partitions int) func(appid, openid string) int {
	b.Helper()
	tc := events.OutboundStream(partitions).SubjectTransform
	tr, err := server.NewSubjectTransform(tc.Source, tc.Destination)
	if err != nil {
		b.Fatal(err)
	}
	return func(appid, openid string) int {
		s, err := tr.Match(fmt.Sprintf("%s%s.0.%s.send", events.OutboundPrefix, appid, openid))
		if err != nil {
			b.Fatal(err)
		}
		p, err := strconv.Atoi(strings.Split(s, ".")[2])
		if err != nil {
			b.Fatalf("transformed subject %s: %v", s, err)
		}
		return p
	}
}

// send opens openid's window and publishes one text send, returning the
// simulated time just before the publish.
func (w *isoWorld) send(appid, openid, id string) time.Time {
	w.b.Helper()
	w.sim.RecordInteraction(appid, "0", openid, "text", w.sim.Now())
	data, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "/bench", "type": "weixin.kf.command.send", "data": text(id)})
	msg := nats.NewMsg(fmt.Sprintf("%s%s.0.%s.send", events.OutboundPrefix, appid, openid))
	msg.Data = data
	msg.Header.Set(nats.MsgIdHdr, id)
	at := w.sim.Now()
	if _, err := w.js.PublishMsg(w.b.Context(), msg); err != nil {
		w.b.Fatalf("publish %s: %v", id, err)
	}
	return at
}

// retrying reports whether command id of appid waits for a retry for reason.
func (w *isoWorld) retrying(appid, id, reason string) bool {
	w.b.Helper()
	rec, ok, err := w.eg.loadRecord(w.b.Context(), &job{key: recordKey(appid, id)})
	if err != nil {
		w.b.Fatal(err)
	}
	return ok && rec.State == stateRetry && rec.LastReason == reason
}

// checkPartitions compares the partitions computed for the stored commands
// of appid with the subjects the stream stored them under.
func (w *isoWorld) checkPartitions(appid string, openids []string) {
	w.b.Helper()
	s, err := w.js.Stream(w.b.Context(), events.OutboundStreamName)
	if err != nil {
		w.b.Fatal(err)
	}
	info, err := s.Info(w.b.Context(), jetstream.WithSubjectFilter("wxkf.outp.*."+appid+".>"))
	if err != nil {
		w.b.Fatal(err)
	}
	for _, o := range openids {
		subj := fmt.Sprintf("wxkf.outp.%d.%s.0.%s.send", w.part(appid, o), appid, o)
		if _, ok := info.State.Subjects[subj]; !ok {
			w.b.Fatalf("computed partition of %s is wrong: %s not among the stored subjects %v", o, subj, info.State.Subjects)
		}
	}
}

// measured is one command whose delay is measured.
type measured struct {
	appid, openid, note string
	published           time.Time
}

// measure waits up to the cap for the commands, logs each one's delay and
// reports the counts delivered within 1 s, 10 s and the cap.
func (w *isoWorld) measure(cmds []measured) {
	w.b.Helper()
	delays := make([]time.Duration, len(cmds))
	natstest.Poll(time.Now().Add(*isolationCap), func() bool {
		left := 0
		for i, c := range cmds {
			if delays[i] != 0 {
				continue
			}
			for _, m := range w.sim.Delivered(c.appid) {
				if m.OpenID == c.openid {
					delays[i] = max(m.Time.Sub(c.published), time.Nanosecond)
					break
				}
			}
			if delays[i] == 0 {
				left++
			}
		}
		return left == 0
	})
	within := func(limit time.Duration) (n int) {
		for _, d := range delays {
			if d != 0 && d <= limit {
				n++
			}
		}
		return n
	}
	for i, c := range cmds {
		delay := fmt.Sprintf("not within %v", *isolationCap)
		if delays[i] != 0 {
			delay = delays[i].Round(100 * time.Microsecond).String()
		}
		w.b.Logf("%s %-14s partition %3d: %-18s %s", c.appid, c.openid, w.part(c.appid, c.openid), delay, c.note)
	}
	w.b.Logf("delivered within 1s: %d/%d, within the %v cap: %d/%d", within(time.Second), len(cmds),
		*isolationCap, within(*isolationCap), len(cmds))
	w.b.ReportMetric(float64(within(time.Second)), "within-1s")
	if *isolationCap >= 10*time.Second {
		w.b.ReportMetric(float64(within(10*time.Second)), "within-10s")
	}
	if *isolationCap >= 100*time.Second {
		w.b.ReportMetric(float64(within(100*time.Second)), "within-100s")
	}
	w.b.ReportMetric(float64(within(*isolationCap)), "within-cap")
	w.b.ReportMetric(float64(len(cmds)), "commands")
}

// crossApp runs the cross-app scenario, with app A paused or idle; collide
// picks B's conversations among those hashed to A's waiting partitions.
func crossApp(b *testing.B, partitions int, paused, collide bool) {
	const quota, queued, measuredN = 10, 40, 8
	w := newIsoWorld(b, partitions, quota, nil)
	waiting := map[int][]string{} // partition → A's commands waiting there
	if paused {
		for i := range quota {
			w.send(isoAppA, fmt.Sprintf("oUsed%02d", i), fmt.Sprintf("a-used-%d", i))
		}
		waitCount(b, "app A's quota used up", time.Minute, func() bool { return len(w.sim.Delivered(isoAppA)) == quota })
		var heads []string // the first A command of each partition: the one pulled
		var openids []string
		for i := range queued {
			o, id := fmt.Sprintf("oA%03d", i), fmt.Sprintf("a-%d", i)
			p := w.part(isoAppA, o)
			if len(waiting[p]) == 0 {
				heads = append(heads, id)
			}
			waiting[p] = append(waiting[p], id)
			openids = append(openids, o)
			w.send(isoAppA, o, id)
		}
		w.checkPartitions(isoAppA, openids)
		waitCount(b, "app A's queued sends paused for its quota", time.Minute, func() bool {
			for _, id := range heads {
				if !w.retrying(isoAppA, id, ReasonQuota) {
					return false
				}
			}
			return true
		})
		b.Logf("app A paused: %d sends queued in %d of %d partitions", queued, len(waiting), partitions)
	}
	var cmds []measured
	for i, j := 0, 0; i < measuredN; j++ {
		o := fmt.Sprintf("oB%03d", j)
		if collide && len(waiting[w.part(isoAppB, o)]) == 0 {
			continue
		}
		note := "partition free of A"
		if ids := waiting[w.part(isoAppB, o)]; len(ids) > 0 {
			note = fmt.Sprintf("behind A's %s", strings.Join(ids, ", "))
		}
		cmds = append(cmds, measured{appid: isoAppB, openid: o, note: note,
			published: w.send(isoAppB, o, fmt.Sprintf("b-%d", i))})
		i++
	}
	w.measure(cmds)
	if paused {
		// When A's queued sends went out, from B's first publish: they are
		// what B's blocked conversations wait for.
		var after []string
		for _, d := range w.sim.Delivered(isoAppA) {
			if id := d.OpenID; strings.HasPrefix(id, "oA") {
				after = append(after, d.Time.Sub(cmds[0].published).Round(time.Second).String())
			}
		}
		b.Logf("A's %d queued sends delivered so far, at (from B's first publish): %s", len(after), strings.Join(after, " "))
	}
}

// sameApp runs the same-app scenario: one conversation's sends fail
// transiently, and its partition neighbours wait.
func sameApp(b *testing.B, partitions int) {
	const victim, neighbours = "oVictim", 4
	var failed atomic.Int64
	w := newIsoWorld(b, partitions, -1, func(h http.Handler) http.Handler {
		return failSendsTo(victim, &failed, h)
	})
	w.send(isoAppA, victim, "victim")
	waitCount(b, "the victim's command waiting for a retry", time.Minute, func() bool {
		return w.retrying(isoAppA, "victim", ReasonTransient)
	})
	vp := w.part(isoAppA, victim)
	// With one partition every conversation is the victim's neighbour.
	wantSame, wantOther := neighbours, neighbours
	if partitions == 1 {
		wantSame, wantOther = 2*neighbours, 0
	}
	var same, other []string
	for i := 0; len(same) < wantSame || len(other) < wantOther; i++ {
		o := fmt.Sprintf("oN%05d", i)
		if w.part(isoAppA, o) == vp {
			if len(same) < wantSame {
				same = append(same, o)
			}
		} else if len(other) < wantOther {
			other = append(other, o)
		}
	}
	var cmds []measured
	for i, o := range slices.Concat(same, other) {
		note := "other partition"
		if i < len(same) {
			note = "victim's partition"
		}
		cmds = append(cmds, measured{appid: isoAppA, openid: o, note: note,
			published: w.send(isoAppA, o, fmt.Sprintf("n-%d", i))})
	}
	w.measure(cmds)
	b.Logf("victim %s in partition %d: %d send calls failed with -1 so far", victim, vp, failed.Load())
}

// failSendsTo answers every send call to openid with WeChat's transient
// {"errcode":-1} without passing it on, and passes everything else to h.
func failSendsTo(openid string, failed *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/cgi-bin/message/custom/") && strings.HasSuffix(r.URL.Path, "/send") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(rw, err.Error(), http.StatusBadRequest)
				return
			}
			var to struct {
				ToUser string `json:"touser"`
			}
			if json.Unmarshal(body, &to) == nil && to.ToUser == openid {
				failed.Add(1)
				rw.Header().Set("Content-Type", "application/json")
				io.WriteString(rw, `{"errcode":-1,"errmsg":"system error"}`) //nolint:errcheck // the client sees what it sees
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(rw, r)
	})
}
