package egress

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/textsplit"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// chineseText returns n bytes of numbered Chinese sentences (no two parts
// alike).
func chineseText(n int) string {
	var b strings.Builder
	sentence := []rune("这是一条很长的客服回复，用来检验长消息按句子拆分后依次送达")
	for i := 0; b.Len() < n-3; i++ {
		r := sentence[i%len(sentence)]
		if i%len(sentence) == len(sentence)-1 {
			r = '。'
		}
		if i%len(sentence) == 0 {
			b.WriteString(strconv.Itoa(i / len(sentence)))
		}
		b.WriteRune(r)
	}
	for b.Len() < n {
		b.WriteByte('.')
	}
	return b.String()
}

// validResult fails t when r breaks the result schema.
func validResult(t *testing.T, r events.ResultEvent) {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(r)
	if err := v.Validate(schemas.ResultEvent, raw); err != nil {
		t.Errorf("result %s fails its schema: %v", raw, err)
	}
}

// gatedAPI serves the simulator behind a handler that holds back the send
// request whose text is held until release is called — before it reaches
// WeChat, or with answer set, after WeChat took it, holding back its
// answer — and records the texts of send requests in arrival order.
type gatedAPI struct {
	answer  bool
	held    string
	gate    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	arrived []string
}

func newGatedAPI(t *testing.T, e *env, held string, answer bool) *gatedAPI {
	g := &gatedAPI{held: held, gate: make(chan struct{}), answer: answer}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/message/custom/") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct{ Text struct{ Content string } }
			json.Unmarshal(body, &m) //nolint:errcheck // an empty text is recorded as such
			g.mu.Lock()
			g.arrived = append(g.arrived, m.Text.Content)
			g.mu.Unlock()
			if m.Text.Content == g.held && g.answer {
				rec := httptest.NewRecorder()
				e.sim.Handler().ServeHTTP(rec, r)
				<-g.gate
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			if m.Text.Content == g.held {
				<-g.gate
			}
		}
		e.sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	t.Cleanup(g.release)
	e.cfg.APIBase = api.URL
	return g
}

func (g *gatedAPI) release() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedAPI) seen(text string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Contains(g.arrived, text)
}

// TestLongTextInParts: a 5000-byte Chinese text is sent as 3 parts, each
// valid UTF-8 of at most 2048 bytes, delivered in order, with one result
// that counts them, also to a sub-merchant's user (business send); a text
// of the limit goes out as one message, as before.
func TestLongTextInParts(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oU")
	e.interact("42", "oB")
	long := chineseText(5000)
	short := strings.Repeat("好", 682) + "xx" // 2048 bytes
	e.command("0", "oU", events.VerbSend, "long", text(long))
	e.command("0", "oU", events.VerbSend, "short", text(short))
	e.command("42", "oB", events.VerbSend, "business", text(long))
	res := e.results(3)
	if b := res["business"].Data; b.Outcome != events.OutcomeDelivered || b.Parts != 3 || b.PartsSent != 3 {
		t.Errorf("business: %+v, want delivered, parts 3, parts_sent 3", b)
	}
	var business []string
	for _, d := range e.sim.Delivered(appID) {
		var body struct{ Text struct{ Content string } }
		json.Unmarshal(d.Body, &body) //nolint:errcheck // checked by the join below
		if d.OpenID == "oB" && d.BusinessID == "42" {
			business = append(business, body.Text.Content)
		}
	}
	if len(business) != 3 || strings.Join(business, "") != long {
		t.Errorf("the sub-merchant's user received %d messages, want the 3 parts in order", len(business))
	}
	r := res["long"].Data
	if r.Outcome != events.OutcomeDelivered || r.Parts != 3 || r.PartsSent != 3 || r.Attempts != 3 {
		t.Errorf("long: %+v, want delivered, parts 3, parts_sent 3, attempts 3", r)
	}
	validResult(t, res["long"])
	if s := res["short"].Data; s.Outcome != events.OutcomeDelivered || s.Parts != 0 || s.PartsSent != 0 {
		t.Errorf("short: %+v, want delivered without parts", s)
	}
	raw, _ := json.Marshal(res["short"])
	if bytes.Contains(raw, []byte(`"parts`)) {
		t.Errorf("single-message result carries parts: %s", raw)
	}
	got := deliveredTexts(e, "oU")
	if len(got) != 4 {
		t.Fatalf("WeChat received %d messages, want 4 (3 parts, then the short text)", len(got))
	}
	for i, p := range got[:3] {
		if len(p) > 2048 || !utf8.ValidString(p) {
			t.Errorf("part %d: %d bytes, valid UTF-8 %v", i, len(p), utf8.ValidString(p))
		}
	}
	if strings.Join(got[:3], "") != long || got[3] != short {
		t.Error("WeChat received the parts out of order or changed")
	}
}

// TestLinkLongerThanLimitNotSent: a text whose mini-program link does not
// fit in the limit fails permanent with -1009 and nothing is sent.
func TestLinkLongerThanLimitNotSent(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oU")
	link := `<a href="http://www.qq.com" data-miniprogram-appid="` + appID + `" data-miniprogram-path="pages/index/index?q=` +
		strings.Repeat("x", 2100) + `">打开</a>`
	e.command("0", "oU", events.VerbSend, "link", text("请点击："+link))
	r := e.results(1)["link"]
	if d := r.Data; d.Outcome != events.OutcomeFailed || d.Reason != ReasonPermanent || d.ErrCode != CodeUnsplittable || d.Attempts != 0 || d.Parts != 0 {
		t.Errorf("result %+v, want failed permanent %d, no attempt", d, CodeUnsplittable)
	}
	validResult(t, r)
	if n := len(e.sim.Delivered(appID)); n != 0 {
		t.Errorf("WeChat received %d messages, want none", n)
	}
}

// TestPartsStopAtTheWindow: WeChat's window (5 replies after a user's
// message) takes 5 parts of a text of 7 or more; the 6th is refused
// (45047), the rest never sent, and the result says so.
func TestPartsStopAtTheWindow(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oU")
	long := chineseText(7 * 2000)
	parts, err := textsplit.Split(long, 2048)
	if err != nil || len(parts) < 7 {
		t.Fatalf("test text: %d parts, %v", len(parts), err)
	}
	e.command("0", "oU", events.VerbSend, "seven", text(long))
	r := e.results(1)["seven"]
	if d := r.Data; d.Outcome != events.OutcomeFailed || d.Reason != ReasonWindow || d.ErrCode != 45047 || d.Parts != len(parts) || d.PartsSent != 5 || d.Attempts != 6 {
		t.Errorf("result %+v, want failed window 45047, parts %d, parts_sent 5, attempts 6", d, len(parts))
	}
	validResult(t, r)
	if got := deliveredTexts(e, "oU"); !slices.Equal(got, parts[:5]) {
		t.Errorf("WeChat received %d messages, want the first 5 parts in order", len(got))
	}
}

// TestPartsRetryAfterTransientFailure: WeChat busy (HTTP 500) on part 2
// puts the command back; the retry goes on with part 2 and sends part 1
// no second time.
func TestPartsRetryAfterTransientFailure(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	long := chineseText(5000)
	parts, _ := textsplit.Split(long, 2048)
	var mu sync.Mutex
	failed := false
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/message/custom/") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			mu.Lock()
			fail := !failed && bytes.Contains(body, []byte(parts[1][:30]))
			failed = failed || fail
			mu.Unlock()
			if fail {
				http.Error(w, "busy", http.StatusInternalServerError)
				return
			}
		}
		e.sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	e.cfg.APIBase = api.URL
	e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "long", text(long))
	r := e.results(1)["long"].Data
	if r.Outcome != events.OutcomeDelivered || r.Parts != 3 || r.PartsSent != 3 || r.Attempts != 4 {
		t.Errorf("result %+v, want delivered, parts 3, parts_sent 3, attempts 4", r)
	}
	if got := deliveredTexts(e, "oU"); !slices.Equal(got, parts) {
		t.Errorf("WeChat received %d messages, want the 3 parts once each, in order", len(got))
	}
}

// TestPartsResumeFromRecord: a command whose record says part 1 was
// accepted and the rest is due goes on with part 2: part 1 is not sent
// again.
func TestPartsResumeFromRecord(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oU")
	long := chineseText(5000)
	parts, _ := textsplit.Split(long, 2048)
	kv, err := e.js.KeyValue(t.Context(), SentBucket)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(text(long))
	b, _ := json.Marshal(record{State: stateRetry, Attempts: 1, Parts: 3, PartsSent: 1, SentBytes: len(parts[0]),
		Subject: "wxkf.out." + appID + ".0.oU.send", Digest: dataDigest(data)})
	if _, err := kv.Put(t.Context(), recordKey(appID, "resumed"), b); err != nil {
		t.Fatal(err)
	}
	e.command("0", "oU", events.VerbSend, "resumed", text(long))
	r := e.results(1)["resumed"]
	if d := r.Data; d.Outcome != events.OutcomeDelivered || d.Parts != 3 || d.PartsSent != 3 || d.Attempts != 3 {
		t.Errorf("result %+v, want delivered, parts 3, parts_sent 3, attempts 3 (1 before)", d)
	}
	validResult(t, r)
	if got := deliveredTexts(e, "oU"); !slices.Equal(got, parts[1:]) {
		t.Errorf("WeChat received %d messages, want parts 2 and 3", len(got))
	}
}

// TestStopBetweenPartsHandsOver: a replica stopped while a text's part 2
// is on its way finishes that part, parks the command and hands it over;
// the next replica sends part 3 only. Every part reaches WeChat once, in
// order, and the command after it follows.
func TestStopBetweenPartsHandsOver(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions, c.RetryBudget = 1, time.Minute })
	long := chineseText(5000)
	parts, _ := textsplit.Split(long, 2048)
	g := newGatedAPI(t, e, parts[1], false)
	stop := e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "long", text(long))
	e.command("0", "oU", events.VerbSend, "after", text("after"))
	natstest.WaitFor(t, "part 2's send request", func() bool { return g.seen(parts[1]) })
	cons := lane0(t, e)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// The lane gives up its pin after it asked its commands back.
	natstest.WaitFor(t, "the stopping replica to unpin", func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && len(info.PriorityGroups) == 1 && info.PriorityGroups[0].PinnedClientID == ""
	})
	g.release()
	<-stopped
	if n := len(e.sim.Delivered(appID)); n != 2 {
		t.Fatalf("WeChat received %d messages before the handover, want parts 1 and 2", n)
	}
	e.replica(nil)
	res := e.results(2)
	if d := res["long"].Data; d.Outcome != events.OutcomeDelivered || d.Parts != 3 || d.PartsSent != 3 || d.Attempts != 3 {
		t.Errorf("long: %+v, want delivered, parts 3, parts_sent 3, attempts 3", d)
	}
	validResult(t, res["long"])
	if want := append(slices.Clone(parts), "after"); !slices.Equal(deliveredTexts(e, "oU"), want) {
		t.Errorf("WeChat received %d messages, want the 3 parts once each, then after", len(deliveredTexts(e, "oU")))
	}
}

// TestDeadReplicaBetweenParts: a replica dies while WeChat's answer to
// part 2 is held back (WeChat took it). The replica that takes the command
// over sends nothing: part 1 is recorded as accepted, part 2 may have been
// delivered (maybe_delivered, parts_sent 1), and part 3 is not sent after
// it. No part reaches WeChat twice; the next command follows.
func TestDeadReplicaBetweenParts(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions, c.RetryBudget = 1, time.Minute })
	long := chineseText(5000)
	parts, _ := textsplit.Split(long, 2048)
	g := newGatedAPI(t, e, parts[1], true)
	victimConn, err := nats.Connect(e.nc.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	e.replica(victimConn)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "long", text(long))
	e.command("0", "oU", events.VerbSend, "after", text("after"))
	natstest.WaitFor(t, "part 2's send request", func() bool { return g.seen(parts[1]) })
	victimConn.Close() // it dies: no progress acks, no ack
	e.replica(nil)
	res := e.results(2)
	if d := res["long"].Data; d.Outcome != events.OutcomeFailed || d.Reason != ReasonMaybeDelivered || d.Parts != 3 || d.PartsSent != 1 {
		t.Errorf("long: %+v, want maybe_delivered, parts 3, parts_sent 1", d)
	}
	validResult(t, res["long"])
	if d := res["after"].Data; d.Outcome != events.OutcomeDelivered {
		t.Errorf("after: %+v", d)
	}
	g.release()
	if got := deliveredTexts(e, "oU"); !slices.Equal(got, []string{parts[0], parts[1], "after"}) {
		t.Errorf("WeChat received %d messages (%.12q), want parts 1 and 2 once each, then after", len(got), got)
	}
}

// lane0 is the consumer of the one partition.
func lane0(t *testing.T, e *env) jetstream.Consumer {
	t.Helper()
	out, err := e.js.Stream(t.Context(), events.OutboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := out.Consumer(t.Context(), laneName(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	return cons
}

// TestPartsDoneRecordFitsItsReserve: the done record of a text sent in
// parts — its result and record counting parts — fits the reserve its
// records before the calls are padded to (so the bucket at its cap still
// takes it), and a command sent as one message keeps its reserve.
func TestPartsDoneRecordFitsItsReserve(t *testing.T) {
	done, err := newDoneSize()
	if err != nil {
		t.Fatal(err)
	}
	eg := &Egress{now: time.Now, done: done}
	j := &job{cmd: events.Command{ID: strings.Repeat("<", events.MaxCommandIDLength), Verb: events.VerbSend,
		Conversation: events.Conversation{AppID: appID, BusinessID: "0", OpenID: "oUser"}},
		rec: record{Subject: "wxkf.out." + appID + ".0.oUser.send", Digest: dataDigest([]byte(`{}`))}}
	single := eg.doneBound(j)
	j.rec.Parts = 1 << 16
	bound := eg.doneBound(j)
	d := events.ResultData{CommandID: j.cmd.ID, Verb: events.VerbSend, AppID: appID, BusinessID: "0", OpenID: "oUser",
		Outcome: events.OutcomeFailed, ErrCode: -1004, ErrMsg: cutErrMsg(strings.Repeat("<", 4000)), Attempts: 1 << 17,
		Reason: ReasonMaybeDelivered, MaybeDelivered: true, Parts: 1 << 16, PartsSent: 1<<16 - 1, Time: time.Now().UTC(),
		BudgetCut: events.BudgetPolicyTruncate}
	body, err := json.Marshal(events.NewResult(d))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(record{State: stateDone, Attempts: 1 << 17, Retries: 5, Result: body, Subject: j.rec.Subject,
		Digest: j.rec.Digest, Parts: 1 << 16, PartsSent: 1<<16 - 1, SentBytes: 64 << 20})
	if len(b) > bound {
		t.Errorf("done record of a text in parts: %d bytes > reserve %d", len(b), bound)
	}
	if bound-single > 160 {
		t.Errorf("parts add %d bytes to the reserve, want at most 160", bound-single)
	}
	j.rec.Parts = 0
	if got := eg.doneBound(j); got != single {
		t.Errorf("reserve of a single send %d, want %d", got, single)
	}
}
