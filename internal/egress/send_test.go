package egress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSendEveryType delivers every command type on both paths and checks
// the exact body WeChat received.
func TestSendEveryType(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	img := pngBytes(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	defer images.Close()
	store, err := e.js.ObjectStore(t.Context(), wechat.MediaStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutBytes(t.Context(), "cats/cat.png", img); err != nil {
		t.Fatal(err)
	}
	tok, err := e.apiClient().StableToken(t.Context(), appID, secret, false)
	if err != nil {
		t.Fatal(err)
	}
	uploaded, err := e.apiClient().UploadImage(t.Context(), tok.AccessToken, "a.png", "image/png", img)
	if err != nil {
		t.Fatal(err)
	}

	type tc struct {
		name    string
		data    map[string]any
		msgtype string
		check   func(t *testing.T, body map[string]any)
	}
	cases := []tc{
		{name: "text", data: text("你好 <a href=\"x\">link</a>"), msgtype: "text", check: func(t *testing.T, b map[string]any) {
			if b["text"].(map[string]any)["content"] != "你好 <a href=\"x\">link</a>" {
				t.Errorf("text = %v", b["text"])
			}
		}},
		{name: "image by media_id", data: map[string]any{"msgtype": "image", "image": map[string]any{"media_id": uploaded.MediaID}}, msgtype: "image",
			check: func(t *testing.T, b map[string]any) {
				if b["image"].(map[string]any)["media_id"] != uploaded.MediaID {
					t.Errorf("image = %v", b["image"])
				}
			}},
		{name: "image by url", data: map[string]any{"msgtype": "image", "image": map[string]any{"url": images.URL + "/x.png"}}, msgtype: "image"},
		{name: "image by object", data: map[string]any{"msgtype": "image", "image": map[string]any{"object": "cats/cat.png"}}, msgtype: "image"},
		{name: "link", data: map[string]any{"msgtype": "link", "link": map[string]any{"title": "T", "description": "D", "url": "https://example.com/a", "thumb_url": "https://example.com/t.jpg"}}, msgtype: "link",
			check: func(t *testing.T, b map[string]any) {
				if l := b["link"].(map[string]any); l["title"] != "T" || l["url"] != "https://example.com/a" || l["description"] != "D" {
					t.Errorf("link = %v", l)
				}
			}},
		{name: "miniprogrampage", data: map[string]any{"msgtype": "miniprogrampage", "miniprogrampage": map[string]any{"title": "Card", "pagepath": "pages/i?x=1", "thumb_media_id": uploaded.MediaID}}, msgtype: "miniprogrampage",
			check: func(t *testing.T, b map[string]any) {
				if p := b["miniprogrampage"].(map[string]any); p["pagepath"] != "pages/i?x=1" || p["thumb_media_id"] != uploaded.MediaID {
					t.Errorf("miniprogrampage = %v", p)
				}
			}},
		{name: "card thumbnail by url", data: map[string]any{"msgtype": "miniprogrampage", "miniprogrampage": map[string]any{"title": "Card", "pagepath": "pages/i", "thumb_url": images.URL + "/t.png"}}, msgtype: "miniprogrampage"},
	}
	var ids []string
	// A user message allows 5 sends: two users per path.
	user := func(bid string, i int) string { return fmt.Sprintf("oUser-%s-%d", bid, i/5) }
	for _, bid := range []string{"0", "42"} {
		e.interact(bid, user(bid, 0))
		e.interact(bid, user(bid, 5))
		for i, c := range cases {
			openid := user(bid, i)
			id := fmt.Sprintf("%s/%s", bid, c.name)
			e.command(bid, openid, events.VerbSend, id, c.data)
			ids = append(ids, id)
		}
	}
	results := e.results(len(ids))
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	delivered := map[string]wxsim.Delivered{} // by the touser and order of each conversation
	perUser := map[string]int{}
	all := e.sim.Delivered(appID)
	if len(all) != len(ids) {
		t.Fatalf("WeChat received %d messages, want %d", len(all), len(ids))
	}
	for _, d := range all {
		delivered[fmt.Sprintf("%s#%d", d.OpenID, perUser[d.OpenID])] = d
		perUser[d.OpenID]++
	}
	for i, id := range ids {
		r := results[id]
		if r.Data.Outcome != events.OutcomeDelivered || r.Data.ErrCode != 0 || r.Data.Attempts != 1 {
			t.Errorf("%s: result %+v", id, r.Data)
		}
		raw, _ := json.Marshal(r)
		if err := v.Validate(schemas.ResultEvent, raw); err != nil {
			t.Errorf("%s: result fails its schema: %v", id, err)
		}
		c := cases[i%len(cases)]
		bid := strings.SplitN(id, "/", 2)[0]
		// One conversation's commands arrive in publish order.
		d := delivered[fmt.Sprintf("%s#%d", user(bid, i%len(cases)), (i%len(cases))%5)]
		wantPath := "/cgi-bin/message/custom/send"
		if bid != "0" {
			wantPath = "/cgi-bin/message/custom/business/send"
		}
		if d.Path != wantPath || d.BusinessID != bid || d.MsgType != c.msgtype {
			t.Errorf("%s: delivered %s bid %s type %s", id, d.Path, d.BusinessID, d.MsgType)
		}
		var body map[string]any
		json.Unmarshal(d.Body, &body)
		if body["touser"] != user(bid, i%len(cases)) {
			t.Errorf("%s: touser = %v", id, body["touser"])
		}
		if bid != "0" && fmt.Sprint(body["businessid"]) != bid {
			t.Errorf("%s: businessid = %v", id, body["businessid"])
		}
		if _, has := body["businessid"]; bid == "0" && has {
			t.Errorf("%s: main path carries businessid", id)
		}
		if c.check != nil {
			c.check(t, body)
		}
		if strings.Contains(c.name, "by url") || strings.Contains(c.name, "by object") {
			if r.Data.MediaID == "" {
				t.Errorf("%s: result carries no uploaded media_id", id)
			}
		}
	}
	// Uploaded images are cached: the same URL and object again upload nothing.
	uploads := e.sim.Calls().Total("/cgi-bin/media/upload")
	e.interact("0", "oAgain")
	e.command("0", "oAgain", events.VerbSend, "again-url", cases[2].data)
	e.command("0", "oAgain", events.VerbSend, "again-object", cases[3].data)
	again := e.results(len(ids) + 2)
	for _, id := range []string{"again-url", "again-object"} {
		if r := again[id].Data; r.Outcome != events.OutcomeDelivered || r.MediaID == "" {
			t.Errorf("%s = %+v", id, r)
		}
	}
	if got := e.sim.Calls().Total("/cgi-bin/media/upload"); got != uploads {
		t.Errorf("%d more uploads for cached images", got-uploads)
	}
}

// TestFailureClasses: each failure class ends in one failed result with the
// errcode, at once and in the dead-letter stream for sends; the
// conversation goes on.
func TestFailureClasses(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oClosed")
	e.sim.Advance(49 * time.Hour) // oClosed's 48-hour window is over
	e.interact("0", "oOpen")
	// 1. outside the send window
	e.command("0", "oClosed", events.VerbSend, "window", text("hi"))
	// 2. malformed commands, then a good one in the same conversation
	e.publish("0", "oOpen", events.VerbSend, "bad-json", []byte(`{"msgtype":`), "")
	e.command("0", "oOpen", events.VerbSend, "bad-type", map[string]any{"msgtype": "voice", "voice": map[string]any{"media_id": "x"}})
	e.command("0", "oOpen", events.VerbSend, "two-kinds", map[string]any{"msgtype": "text", "text": map[string]any{"content": "a"}, "link": map[string]any{"title": "t", "url": "https://x"}})
	e.command("0", "oOpen", events.VerbSend, "good", text("still flowing"))
	e.publish("0", "oOpen", events.VerbSend, "bad-envelope",
		[]byte(`{"specversion":"1.0","id":"bad-envelope","type":"weixin.kf.command.send","time":"yesterday","data":{"msgtype":"text","text":{"content":"x"}}}`), events.ContentType)
	// 3. permanent: unknown media id
	e.command("0", "oOpen", events.VerbSend, "bad-media", map[string]any{"msgtype": "image", "image": map[string]any{"media_id": "nope"}})
	// 4. typing outside its 30 s rule is best effort: failed, not retried
	e.command("0", "oClosed", events.VerbTyping, "typing-closed", map[string]any{"command": "Typing"})

	res := e.results(8)
	want := map[string]struct {
		outcome, reason string
		code            int
	}{
		"window":        {events.OutcomeFailed, ReasonWindow, 45015},
		"bad-json":      {events.OutcomeFailed, ReasonMalformed, CodeMalformed},
		"bad-type":      {events.OutcomeFailed, ReasonMalformed, CodeMalformed},
		"two-kinds":     {events.OutcomeFailed, ReasonMalformed, CodeMalformed},
		"bad-envelope":  {events.OutcomeFailed, ReasonMalformed, CodeMalformed},
		"good":          {events.OutcomeDelivered, "", 0},
		"bad-media":     {events.OutcomeFailed, ReasonPermanent, 40007},
		"typing-closed": {events.OutcomeFailed, ReasonWindow, 45015},
	}
	for id, w := range want {
		r := res[id].Data
		if r.Outcome != w.outcome || r.Reason != w.reason || r.ErrCode != w.code {
			t.Errorf("%s: %s/%s/%d (%s), want %s/%s/%d", id, r.Outcome, r.Reason, r.ErrCode, r.ErrMsg, w.outcome, w.reason, w.code)
		}
	}
	if got := e.streamMsgs(events.DeadLetterStreamName); got != 6 {
		t.Errorf("dead-letter stream holds %d, want 6 (failed sends, not typing)", got)
	}
	s, _ := e.js.Stream(t.Context(), events.DeadLetterStreamName)
	m, err := s.GetLastMsgForSubject(t.Context(), "wxkf.dlq."+appID+".0.oClosed.send")
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(events.HeaderReason) != ReasonWindow || m.Header.Get(events.HeaderErrCode) != "45015" || m.Header.Get(events.HeaderOriginalSubject) != "wxkf.out."+appID+".0.oClosed.send" {
		t.Errorf("dead letter headers = %v", m.Header)
	}
}

// TestTransientRetries: WeChat busy (-1) and HTTP 5xx are retried with
// backoff until they pass, or fail as transient once the budget is spent —
// also when the budget ends while the command waits for its redelivery
// (the outcome does not depend on the machine's speed).
func TestTransientRetries(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{FailRate: 1}, nil)
	e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "flaky", text("hi"))
	natstest.WaitFor(t, "two failed send attempts", func() bool {
		return e.sim.Calls().Calls["/cgi-bin/message/custom/send"][-1] >= 2
	})
	if err := e.sim.SetFaults(wxsim.Faults{HTTP5xxRate: 0}); err != nil {
		t.Fatal(err)
	}
	r := e.results(1)["flaky"].Data
	if r.Outcome != events.OutcomeDelivered || r.Attempts < 2 {
		t.Errorf("result %+v, want delivered after retries", r)
	}

	e2 := newEnv(t, wxsim.SimConfig{HTTP5xxRate: 1}, func(c *config.Egress) { c.RetryBudget = 500 * time.Millisecond })
	e2.replica(nil)
	e2.interact("0", "oU")
	e2.command("0", "oU", events.VerbSend, "down", text("hi"))
	r = e2.results(1)["down"].Data
	if r.Outcome != events.OutcomeFailed || r.Reason != ReasonTransient || r.Attempts < 2 {
		t.Errorf("result %+v, want failed transient after several attempts", r)
	}
	if len(e2.sim.Delivered(appID)) != 0 {
		t.Error("a 502 counted as delivered")
	}
}

// TestQuotaPausesTheApp: 45011 pauses every send of the app, without
// calling WeChat, until the minute is over (here longer than the budget).
func TestQuotaPausesTheApp(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{MinuteQuota: 1}, nil)
	e.replica(nil)
	for _, u := range []string{"oA", "oB", "oC"} {
		e.interact("0", u)
	}
	e.command("0", "oA", events.VerbSend, "first", text("1"))
	res := e.results(1)
	if res["first"].Data.Outcome != events.OutcomeDelivered {
		t.Fatalf("first = %+v", res["first"].Data)
	}
	e.command("0", "oB", events.VerbSend, "over", text("2"))
	res = e.results(2)
	if r := res["over"].Data; r.Reason != ReasonQuota || r.ErrCode != 45011 {
		t.Fatalf("over = %+v, want quota 45011", r)
	}
	calls := e.sim.Calls().Total("/cgi-bin/message/custom/send")
	e.command("0", "oC", events.VerbSend, "paused", text("3"))
	res = e.results(3)
	if r := res["paused"].Data; r.Reason != ReasonQuota {
		t.Errorf("paused = %+v, want quota", r)
	}
	if got := e.sim.Calls().Total("/cgi-bin/message/custom/send"); got != calls {
		t.Errorf("WeChat was called %d more times during the pause", got-calls)
	}
}

// TestTokenRejectedIsRefreshedOnce: a token invalidated behind the bridge's
// back (a leaked-token force refresh) makes the send fail with 40001; the
// bridge forces one refresh and the retry is delivered.
func TestTokenRejectedIsRefreshedOnce(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "warm", text("1"))
	e.results(1)
	// Someone else forces a new stable token: ours is now invalid (the
	// call returns once the simulator has revoked it).
	if _, err := e.apiClient().StableToken(t.Context(), appID, secret, true); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls().ForcedRefreshes; n != 1 {
		t.Fatalf("%d forced refreshes before the send, want 1", n)
	}
	e.command("0", "oU", events.VerbSend, "after", text("2"))
	r := e.results(2)["after"].Data
	if r.Outcome != events.OutcomeDelivered || r.Attempts != 2 {
		t.Errorf("after = %+v, want delivered on the 2nd attempt", r)
	}
	if n := e.sim.Calls().Count("/cgi-bin/message/custom/send", 40001); n != 1 {
		t.Errorf("%d sends rejected with 40001, want 1", n)
	}
}

// TestRecordPreventsResend: a command id already recorded as done is not
// sent again (its result is republished); one recorded as sending — its
// replica died mid-call — fails as maybe_delivered without a resend.
func TestRecordPreventsResend(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "once", text("1"))
	first := e.results(1)["once"]

	kv, err := e.js.KeyValue(t.Context(), SentBucket)
	if err != nil {
		t.Fatal(err)
	}
	// The bot publishes the same id again after the duplicate window: the
	// stream keeps it (a new Nats-Msg-Id), the record stops the resend.
	msg := fmt.Sprintf(`{"specversion":"1.0","id":"once","type":"weixin.kf.command.send","data":%s}`, mustJSON(text("1")))
	e.publish("0", "oU", events.VerbSend, "once-again-after-window", []byte(msg), "")
	b, _ := json.Marshal(record{State: stateSending, Attempts: 1})
	if _, err := kv.Put(t.Context(), recordKey(appID, "crashed"), b); err != nil {
		t.Fatal(err)
	}
	e.command("0", "oU", events.VerbSend, "crashed", text("2"))
	e.command("0", "oU", events.VerbSend, "next", text("3"))
	res := e.results(3) // "once" is republished and deduplicated
	if got := len(e.sim.Delivered(appID)); got != 2 {
		t.Errorf("WeChat received %d messages, want 2 (once, next)", got)
	}
	if r := res["crashed"].Data; r.Reason != ReasonMaybeDelivered || !r.MaybeDelivered {
		t.Errorf("crashed = %+v", r)
	}
	if res["once"].Time != first.Time {
		t.Error("the republished result differs from the first")
	}
	if n := e.streamMsgs(events.ResultStreamName); n != 3 {
		t.Errorf("result stream holds %d, want 3", n)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestDeliveredResultStoredAfterOutage: a delivered send's result is its
// record. When the result cannot be stored after WeChat's answer (here
// WXKF_RESULT is gone while the call is in flight), the send is not failed
// maybe_delivered and not sent again: the done record keeps the result for
// any replica, the lane keeps it for the next try, and once the stream is
// back the result is stored, delivered, once.
func TestDeliveredResultStoredAfterOutage(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{Latency: 300 * time.Millisecond}, func(c *config.Egress) {
		c.RetryMin, c.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	})
	e.replica(nil)
	e.interact("0", "oU")
	e.command("0", "oU", events.VerbSend, "c1", text("1"))
	natstest.WaitFor(t, "the send call", func() bool {
		return slices.ContainsFunc(e.sim.Calls().Answering, func(c wxsim.APICall) bool { return c.Path == "/cgi-bin/message/custom/send" })
	})
	if err := e.js.DeleteStream(t.Context(), events.ResultStreamName); err != nil {
		t.Fatal(err)
	}
	kv, err := e.js.KeyValue(t.Context(), SentBucket)
	if err != nil {
		t.Fatal(err)
	}
	natstest.WaitFor(t, "the done record written after the failed result publish", func() bool {
		entry, err := kv.Get(t.Context(), recordKey(appID, "c1"))
		var rec record
		return err == nil && json.Unmarshal(entry.Value(), &rec) == nil && rec.State == stateDone
	})
	if _, err := e.js.CreateStream(t.Context(), events.ResultStream()); err != nil {
		t.Fatal(err)
	}
	r := e.results(1)["c1"].Data
	if r.Outcome != events.OutcomeDelivered || r.Attempts != 1 || r.MaybeDelivered {
		t.Errorf("c1 = %+v, want delivered after 1 attempt", r)
	}
	if got := len(e.sim.Delivered(appID)); got != 1 {
		t.Errorf("WeChat received %d messages, want 1", got)
	}
}
