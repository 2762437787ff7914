package egress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// deliveredOnA starts one replica, opens the conversations oA and oB, and
// has the command id (a send of "first") delivered on oA.
func deliveredOnA(t *testing.T, id string) *env {
	t.Helper()
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oA")
	e.interact("0", "oB")
	e.command("0", "oA", events.VerbSend, id, text("first"))
	if r := e.allResults(1)[0].Data; r.Outcome != events.OutcomeDelivered {
		t.Fatalf("first = %+v", r)
	}
	return e
}

// TestReusedIDFailsDuplicate (issue 9.10): a command id reused with another
// conversation, another body or another verb fails with duplicate_id — it
// never borrows the first command's delivered result, nothing is sent, and
// the first command's record stays intact.
func TestReusedIDFailsDuplicate(t *testing.T) {
	e := deliveredOnA(t, "dup")
	// republish publishes with a fresh Nats-Msg-Id, as a bot reusing the id
	// after the stream's duplicate window does.
	republish := func(openid, verb string, data any, n int) {
		raw, _ := json.Marshal(data)
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "dup", "source": "/test",
			"type": "weixin.kf.command." + verb, "data": json.RawMessage(raw)})
		e.publish("0", openid, verb, fmt.Sprintf("dup-copy-%d", n), body, events.ContentType)
	}
	republish("oB", events.VerbSend, text("first"), 1)                                                                 // another conversation
	republish("oA", events.VerbSend, text("other body"), 2)                                                            // another body
	republish("oA", events.VerbTyping, map[string]any{"command": "Typing"}, 3)                                         // another verb
	republish("oA", events.VerbSend, map[string]any{"text": map[string]any{"content": "first"}, "msgtype": "text"}, 4) // the same command re-encoded
	all := e.allResults(4)                                                                                             // the re-encoded copy republishes the first result (deduplicated)
	if len(all) != 4 {
		t.Fatalf("%d results, want 4", len(all))
	}
	var reuses int
	for _, r := range all[1:] {
		d := r.Data
		if d.CommandID != "dup" || d.Outcome != events.OutcomeFailed || d.Reason != ReasonDuplicateID || d.ErrCode != CodeDuplicateID || d.Attempts != 0 {
			t.Errorf("reuse on %s (%s): %+v, want failed duplicate_id %d", d.OpenID, d.Verb, d, CodeDuplicateID)
		}
		if d.OpenID == "oB" {
			reuses++
		}
	}
	if reuses != 1 {
		t.Errorf("%d results on the other conversation, want 1", reuses)
	}
	if got := len(e.sim.Delivered(appID)); got != 1 {
		t.Errorf("WeChat received %d messages, want 1", got)
	}
	if got := len(e.sim.Typing(appID)); got != 0 {
		t.Errorf("WeChat received %d typing calls, want 0", got)
	}
	// The first command's record is intact: it is still bound to the
	// first command (a delivered send's record stays "sending", its result
	// in WXKF_RESULT is its record), and that result is still its own.
	kv, _ := e.js.KeyValue(t.Context(), SentBucket)
	entry, err := kv.Get(t.Context(), recordKey(appID, "dup"))
	if err != nil {
		t.Fatal(err)
	}
	var rec record
	json.Unmarshal(entry.Value(), &rec)
	wantSubject := events.OutboundPrefix + appID + ".0.oA." + events.VerbSend
	if rec.State != stateSending || rec.Subject != wantSubject || rec.Digest != dataDigest([]byte(mustJSON(text("first")))) || entry.Revision() != 1 {
		t.Errorf("first command's record = %s %s rev %d, want sending for %s, written once", rec.State, rec.Subject, entry.Revision(), wantSubject)
	}
	if first := all[0].Data; first.Outcome != events.OutcomeDelivered || first.OpenID != "oA" || first.CommandID != "dup" {
		t.Errorf("first command's result = %+v", first)
	}
	if got := e.streamMsgs(events.DeadLetterStreamName); got != 2 {
		t.Errorf("dead-letter stream holds %d, want 2 (the failed sends; typing is never dead-lettered)", got)
	}
}

// TestFailuresBeforeSendBackOffAndShareToken (issue 9.11): while the token
// endpoint fails, 20 commands back off further on every retry and share
// token fetches; they fail as transient — not maybe_delivered — with 0
// attempts when their budget ends.
func TestFailuresBeforeSendBackOffAndShareToken(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{TokenHTTP5xxRate: 1}, func(c *config.Egress) {
		c.Partitions = 32
		c.RetryMin, c.RetryMax = 50*time.Millisecond, time.Second
		c.RetryBudget = 3 * time.Second
	})
	e.replica(nil)
	const n = 20
	for i := range n {
		openid := fmt.Sprintf("oU%02d", i)
		e.interact("0", openid)
		e.command("0", openid, events.VerbSend, openid, text("hi"))
	}
	res := e.results(n)
	for id, r := range res {
		if d := r.Data; (d.Reason != ReasonTransient && d.Reason != ReasonExpired) || d.MaybeDelivered || d.Attempts != 0 {
			t.Errorf("%s = %+v, want failed transient (or expired) with 0 attempts", id, d)
		}
	}
	// Without backoff (every retry after RetryMin) each command would try
	// about 60 times in 3 s. Backing off from 50 ms doubling (jittered
	// -20%), a command tries at most 1+7 times in its budget; shared
	// fetches make it fewer.
	calls := e.sim.Calls().Total("/cgi-bin/stable_token")
	if calls > n*8 {
		t.Errorf("%d stable_token calls for %d commands in 3 s, want at most %d", calls, n, n*8)
	}
	t.Logf("%d stable_token calls for %d commands", calls, n)
}

// TestTokenTimeoutIsRetried (issue 9.11): a token fetch whose answer is
// lost is a failure before the send: retried, and then delivered — not
// maybe_delivered with 0 attempts.
func TestTokenTimeoutIsRetried(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{Latency: 5 * time.Second}, func(c *config.Egress) {
		c.CallTimeout = 300 * time.Millisecond
		c.RetryBudget = 20 * time.Second
	})
	e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "c1", text("hi"))
	natstest.WaitFor(t, "a token fetch", func() bool { return e.sim.Calls().Total("/cgi-bin/stable_token") >= 1 })
	if err := e.sim.SetFaults(wxsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	r := e.results(1)["c1"].Data
	if r.Outcome != events.OutcomeDelivered || r.Attempts != 1 {
		t.Errorf("c1 = %+v, want delivered on the first send attempt", r)
	}
}

// TestBadImagesFailAtOnce (issues 9.11, 9.12): an image URL on a private
// address is refused unless allowed, and an image that cannot be fetched
// for good (4xx, not an image, too large) fails with reason media at once,
// after one download, its errmsg quoting nothing of the response.
func TestBadImagesFailAtOnce(t *testing.T) {
	const inside = "internal-page-secret"
	var hits sync.Map // path → *atomic.Int32
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int32))
		c.(*atomic.Int32).Add(1)
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>"+inside+"</html>")
		case "/big.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(bytes.Repeat([]byte{1}, 4096))
		default:
			http.Error(w, inside, http.StatusNotFound)
		}
	}))
	t.Cleanup(images.Close)
	count := func(path string) int32 {
		if c, ok := hits.Load(path); ok {
			return c.(*atomic.Int32).Load()
		}
		return 0
	}
	image := func(u string) map[string]any {
		return map[string]any{"msgtype": "image", "image": map[string]any{"url": u}}
	}

	// Default policy: loopback is refused before any connection.
	strict := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.MediaFetch.Allow = nil })
	strict.replica(nil)
	strict.interact("0", "oU")
	strict.command("0", "oU", events.VerbSend, "private", image(images.URL+"/cat.png?sig=s"))
	r := strict.results(1)["private"].Data
	if r.Reason != ReasonMedia || r.ErrCode != CodeMedia || !strings.Contains(r.ErrMsg, "not a public address") || strings.Contains(r.ErrMsg, "sig=s") {
		t.Errorf("private = %+v, want media: not a public address, without the query", r)
	}
	if got := count("/cat.png"); got != 0 {
		t.Errorf("the loopback server got %d requests", got)
	}

	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
		c.MaxMediaBytes = 1024
		c.RetryBudget = time.Minute // a retry would show as a second download
	})
	e.replica(nil)
	e.interact("0", "oU")
	cases := map[string]string{"missing": "/missing.png", "page": "/page", "big": "/big.png"}
	for id, p := range cases {
		e.command("0", "oU", events.VerbSend, id, image(images.URL+p))
	}
	res := e.results(len(cases))
	for id, p := range cases {
		r := res[id].Data
		if r.Reason != ReasonMedia || r.ErrCode != CodeMedia || r.Attempts != 0 || strings.Contains(r.ErrMsg, inside) {
			t.Errorf("%s = %+v, want media -1005 at once, without the response", id, r)
		}
		if got := count(p); got != 1 {
			t.Errorf("%s downloaded %d times, want 1", id, got)
		}
	}
	if n := e.sim.Calls().Total("/cgi-bin/media/upload"); n != 0 {
		t.Errorf("%d uploads of what is not an image", n)
	}
}

// TestUnknownAppMetricLabel (issue 9.13): a command for an appid that is
// not configured is counted under appid "unknown", never under the appid a
// bot chose.
func TestUnknownAppMetricLabel(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.reg = telemetry.NewRegistry()
	e.replica(nil)
	for i := range 3 {
		msg := nats.NewMsg(fmt.Sprintf("wxkf.out.wxattacker%d.0.oU.send", i))
		msg.Data = []byte(mustJSON(text("x")))
		msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("a%d", i))
		if _, err := e.js.PublishMsg(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range e.results(3) {
		if r.Data.Reason != ReasonUnknownApp {
			t.Errorf("%s = %+v", r.Data.CommandID, r.Data)
		}
	}
	labels := appidLabels(t, e.reg)
	if labels["unknown"] == 0 || len(labels) != 1 {
		t.Errorf("appid labels %v, want only \"unknown\"", labels)
	}
}

// appidLabels counts the series of every metric by their appid label.
func appidLabels(t *testing.T, reg *prometheus.Registry) map[string]int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "appid" {
					out[l.GetValue()]++
				}
			}
		}
	}
	return out
}

// TestNoSecretInResultsDeadLettersLogs (issue 9.2): transport failures of
// every call egress makes — answers lost after the request was written,
// connections reset, an error page echoing the request, a token endpoint
// that resets — end in results, dead letters and log lines that carry
// neither an access token the simulator issued nor the app secret.
func TestNoSecretInResultsDeadLettersLogs(t *testing.T) {
	for _, mode := range []string{"stable", "classic"} {
		t.Run(mode, func(t *testing.T) {
			var logs bytes.Buffer
			var logMu sync.Mutex
			e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
				c.Token.Mode = mode
				c.CallTimeout = 300 * time.Millisecond
				c.RetryBudget = time.Second
			})
			e.logger = slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var tokenFails atomic.Bool
			images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				w.Write(pngBytes(t))
			}))
			t.Cleanup(images.Close)
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				var to struct{ ToUser string }
				json.Unmarshal(body, &to)
				switch {
				case strings.HasSuffix(r.URL.Path, "token") && tokenFails.Load():
					reset(w)
				case to.ToUser == "oReset", strings.HasSuffix(r.URL.Path, "/media/upload"):
					reset(w)
				case to.ToUser == "oProxy":
					http.Error(w, "proxy cannot reach "+r.URL.String(), http.StatusBadGateway)
				case to.ToUser == "oSlow":
					<-r.Context().Done() // the answer never comes
				default:
					e.sim.Handler().ServeHTTP(w, r)
				}
			}))
			t.Cleanup(front.Close)
			e.cfg.APIBase = front.URL
			e.replica(nil)
			for _, u := range []string{"oOK", "oReset", "oProxy", "oSlow", "oImage"} {
				e.interact("0", u)
			}
			e.command("0", "oOK", events.VerbSend, "ok", text("fetches the token"))
			e.results(1)
			e.command("0", "oReset", events.VerbSend, "reset", text("x"))
			e.command("0", "oReset", events.VerbTyping, "reset-typing", map[string]any{"command": "Typing"})
			e.command("0", "oProxy", events.VerbSend, "proxy", text("x"))
			e.command("0", "oSlow", events.VerbSend, "slow", text("x"))
			e.command("0", "oImage", events.VerbSend, "upload", map[string]any{"msgtype": "image", "image": map[string]any{"url": images.URL + "/a.png"}})
			e.results(6)
			// The token stops working and cannot be fetched again.
			tokenFails.Store(true)
			e.sim.Advance(3 * time.Hour)
			e.command("0", "oOK", events.VerbSend, "no-token", text("x"))
			e.results(7)

			secrets := append(e.sim.IssuedTokens(), secret)
			if len(secrets) < 2 {
				t.Fatal("the simulator issued no token")
			}
			var haystack []string
			for _, m := range e.streamContents(events.ResultStreamName, 7) {
				haystack = append(haystack, "result: "+string(m.Data()))
			}
			for _, m := range e.streamContents(events.DeadLetterStreamName, 5) {
				h, _ := json.Marshal(m.Headers())
				haystack = append(haystack, "dead letter: "+string(h)+string(m.Data()))
			}
			logMu.Lock()
			for l := range strings.Lines(logs.String()) {
				haystack = append(haystack, "log: "+l)
			}
			logMu.Unlock()
			leaks := 0
			for _, h := range haystack {
				for _, s := range secrets {
					if strings.Contains(h, s) {
						leaks++
						if leaks <= 5 {
							t.Errorf("a secret in %.300s", h)
						}
					}
				}
			}
			if leaks > 0 {
				t.Errorf("%d leaks in %d results, dead letters and log lines", leaks, len(haystack))
			}
		})
	}
}

// reset answers with a TCP reset and no HTTP answer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestStraySubjectsNotStored: WXKF_OUT stores command subjects only
// (wxkf.out.<appid>.<bid>.<openid>.<verb>): a bot's publish on wxkf.out.…
// with fewer or more tokens fails, where the stream (on wxkf.out.>) used
// to store it where no consumer read it, holding its bytes against the
// stream's cap for MaxAge. Setup narrows a stream of that older definition
// and removes the strays it holds (no consumer would ever read them: with
// two partitions each filters on its own), and no result is published for
// them.
func TestStraySubjectsNotStored(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions = 2 })
	old := events.OutboundStream(2)
	old.Subjects = []string{events.OutboundSubjects}
	if _, err := e.js.CreateStream(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"wxkf.out.x", "wxkf.out.x.y.z.w.v"} {
		if _, err := e.js.Publish(t.Context(), subj, []byte("{}")); err != nil {
			t.Fatalf("the older stream refused %s: %v", subj, err)
		}
	}
	e.newEgress(e.js)
	out, err := e.js.Stream(t.Context(), events.OutboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	if s := out.CachedInfo().Config.Subjects; len(s) != 1 || s[0] != "wxkf.out.*.*.*.*" {
		t.Fatalf("stream subjects %q", s)
	}
	if n := e.streamMsgs(events.OutboundStreamName); n != 0 {
		t.Fatalf("%d messages left in WXKF_OUT after setup, want the strays removed", n)
	}
	e.replica(nil)
	for _, subj := range []string{"wxkf.out.x", "wxkf.out." + appID + ".0.oU", "wxkf.out." + appID + ".0.oU.send.x"} {
		// No retries: nats.go retries a publish no stream answered.
		if _, err := e.js.Publish(t.Context(), subj, []byte(`{"msgtype":"text","text":{"content":"x"}}`), jetstream.WithRetryAttempts(0)); err == nil {
			t.Errorf("publish on %s stored", subj)
		}
	}
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "c1", text("c1"))
	if r := e.results(1)["c1"].Data; r.Outcome != events.OutcomeDelivered {
		t.Fatalf("c1 = %+v", r)
	}
	natstest.WaitFor(t, "WXKF_OUT empty", func() bool { return e.streamMsgs(events.OutboundStreamName) == 0 })
	if n := e.streamMsgs(events.ResultStreamName); n != 1 {
		t.Errorf("%d results, want c1's only", n)
	}
}
