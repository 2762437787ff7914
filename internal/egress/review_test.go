package egress

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// publishAs publishes a structured command on any app's subject with the
// given Nats-Msg-Id and returns JetStream's ack.
func (e *env) publishAs(app, bid, openid, verb, id, msgID string, data any) *nats.Msg {
	e.t.Helper()
	raw, _ := json.Marshal(data)
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "/test",
		"type": "weixin.kf.command." + verb, "data": json.RawMessage(raw)})
	msg := nats.NewMsg(fmt.Sprintf("wxkf.out.%s.%s.%s.%s", app, bid, openid, verb))
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, msgID)
	msg.Header.Set("Content-Type", events.ContentType)
	return msg
}

// TestUnknownAppRepublishDoesNotJam: a command for an app this bridge does
// not serve, republished with the same id (another Nats-Msg-Id, as after the
// stream's duplicate window, or any redelivery), gets a second failed result
// and its partition goes on: a later valid command in the same partition is
// delivered. Before the fix the first failure wrote a sent record the second
// delivery could not create again, and the command was NAKed forever.
func TestUnknownAppRepublishDoesNotJam(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions = 1 })
	e.replica(nil)
	const bad = "wxunknownapp0001"
	for i := range 2 {
		m := e.publishAs(bad, "0", "oA", events.VerbSend, "X", fmt.Sprintf("m%d", i), text("x"))
		if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	e.interact("0", "oV")
	e.command("0", "oV", events.VerbSend, "valid", text("hi"))
	// One partition: "valid" is handed out only after both copies of X were
	// acknowledged. The copies' results share a Nats-Msg-Id, so the result
	// stream keeps one.
	res := e.results(2)
	if d := res["X"].Data; d.Reason != ReasonUnknownApp {
		t.Errorf("X: %+v, want unknown_app", d)
	}
	if d := res["valid"].Data; d.Outcome != events.OutcomeDelivered {
		t.Errorf("valid: %+v", d)
	}
}

// TestDataDigestKeepsNumbersAndRepeats: the digest ignores member order and
// space but not digits beyond float64's precision or repeated keys.
func TestDataDigestKeepsNumbersAndRepeats(t *testing.T) {
	same := [][2]string{
		{`{"a":1,"b":{"c":[1,2]}}`, ` { "b" : {"c":[1, 2]}, "a":1 } `},
		{`{"s":"\u00e9"}`, `{"s":"é"}`},
	}
	for _, p := range same {
		if dataDigest([]byte(p[0])) != dataDigest([]byte(p[1])) {
			t.Errorf("%s and %s differ, want the same digest", p[0], p[1])
		}
	}
	differ := [][2]string{
		{`{"n":12345678901234567890}`, `{"n":12345678901234567891}`},
		{`{"n":9007199254740993}`, `{"n":9007199254740992}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`{"a":1,"a":2}`, `{"a":2,"a":1}`},
	}
	for _, p := range differ {
		if dataDigest([]byte(p[0])) == dataDigest([]byte(p[1])) {
			t.Errorf("%s and %s share a digest, want different ones", p[0], p[1])
		}
	}
}

// TestLegacyRecordBindsItsConversation: a sent record written before
// records held their subject (no Subject) matches a later command with its
// id only on the conversation and verb its stored result names: on another
// conversation the id is a duplicate_id, not a borrowed "delivered".
func TestLegacyRecordBindsItsConversation(t *testing.T) {
	e := deliveredOnA(t, "old")
	// Turn its record into one an older release wrote: done, holding the
	// result, without subject and digest.
	kv, err := e.js.KeyValue(t.Context(), SentBucket)
	if err != nil {
		t.Fatal(err)
	}
	result, err := json.Marshal(e.allResults(1)[0])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(record{State: stateDone, Attempts: 1, Result: result})
	if _, err := kv.Put(t.Context(), recordKey(appID, "old"), b); err != nil {
		t.Fatal(err)
	}
	m := e.publishAs(appID, "0", "oB", events.VerbSend, "old", "old-copy-1", text("first"))
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	all := e.allResults(2)
	if d := all[1].Data; d.OpenID != "oB" || d.Reason != ReasonDuplicateID {
		t.Errorf("reuse on oB: %+v, want failed duplicate_id on oB", d)
	}
	// On its own conversation the legacy record is the command's: its
	// result is republished (deduplicated), nothing is sent again.
	m = e.publishAs(appID, "0", "oA", events.VerbSend, "old", "old-copy-2", text("first"))
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	e.interact("0", "oC")
	e.command("0", "oC", events.VerbSend, "after", text("x"))
	natstest.WaitFor(t, "the later command's result", func() bool { return e.streamMsgs(events.ResultStreamName) >= 3 })
	if got := len(e.sim.Delivered(appID)); got != 2 {
		t.Errorf("WeChat received %d messages, want 2 (first and after)", got)
	}
}

// TestSameMsgIDInsideDuplicateWindow documents what duplicate_id cannot
// see: a reused id published with the same Nats-Msg-Id (NewCommandMsg sets
// it to the command id) inside WXKF_OUT's duplicate window is dropped by
// JetStream — the publisher's PubAck says Duplicate — and only the first
// command gets a result.
func TestSameMsgIDInsideDuplicateWindow(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) { c.Partitions = 1 })
	e.replica(nil)
	e.interact("0", "oA")
	e.interact("0", "oB")
	var dups []bool
	for _, oid := range []string{"oA", "oB"} {
		m, err := events.NewCommandMsg(events.Conversation{AppID: appID, BusinessID: "0", OpenID: oid},
			events.VerbSend, "same", "/test", text("to "+oid), "")
		if err != nil {
			t.Fatal(err)
		}
		ack, err := e.js.PublishMsg(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		dups = append(dups, ack.Duplicate)
	}
	if dups[0] || !dups[1] {
		t.Errorf("PubAck.Duplicate = %v, want [false true]", dups)
	}
	// One partition: "after" is handled after anything stored before it.
	e.command("0", "oA", events.VerbSend, "after", text("x"))
	res := e.results(2)
	if d := res["same"].Data; d.OpenID != "oA" || d.Outcome != events.OutcomeDelivered {
		t.Errorf("same: %+v, want delivered on oA", d)
	}
	if got := e.streamMsgs(events.ResultStreamName); got != 2 {
		t.Errorf("%d results, want 2 (no result for the dropped copy)", got)
	}
	if got := len(e.sim.Delivered(appID)); got != 2 {
		t.Errorf("WeChat received %d messages, want 2 (same on oA, after)", got)
	}
}

// TestSentBucketCap (issue 9.17): WXKF_SENT has a byte cap. A bot flooding
// commands fills it; then commands without a record are not sent — never
// without their "sending" record — but retried and failed clearly when
// their budget ends, every command gets one result, no partition jams, and
// the bucket stays within its cap. Once records expire, others' commands
// are delivered again.
func TestSentBucketCap(t *testing.T) {
	const capBytes = 8 << 10 // a handful of ~1 KB records
	e := newEnv(t, wxsim.SimConfig{}, func(c *config.Egress) {
		c.RetryBudget = 2 * time.Second
		c.SentTTL = 4 * time.Second
	})
	e.streams = func(s *config.Streams) { s.MaxBytes.Sent = capBytes }
	e.replica(nil)
	const n = 30
	for i := range n {
		oid := fmt.Sprintf("oF%d", i)
		e.interact("0", oid)
		e.command("0", oid, events.VerbSend, fmt.Sprintf("flood-%d", i), text(strings.Repeat("x", 200)))
	}
	res := e.results(n)
	var delivered, full int
	for id, r := range res {
		switch d := r.Data; {
		case d.Outcome == events.OutcomeDelivered:
			delivered++
		case d.Reason == ReasonTransient && strings.Contains(d.ErrMsg, "is full") && d.Attempts == 0:
			full++
		case d.Reason == ReasonExpired && d.Attempts == 0:
			// Its budget ran out while it waited behind a full-bucket retry.
		default:
			t.Errorf("%s: %+v, want delivered or failed for the full bucket", id, d)
		}
	}
	if full == 0 {
		t.Errorf("no command met the full bucket (%d delivered): the cap does not hold", delivered)
	}
	if got := len(e.sim.Delivered(appID)); got != delivered {
		t.Errorf("WeChat received %d messages, %d results say delivered", got, delivered)
	}
	kvStream, err := e.js.Stream(t.Context(), "KV_"+SentBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := kvStream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxBytes != capBytes || info.State.Bytes > capBytes {
		t.Errorf("%s: cap %d, holds %d bytes, want cap %d held", SentBucket, info.Config.MaxBytes, info.State.Bytes, capBytes)
	}
	// The flood has stopped; once its records expire, commands are sent.
	natstest.WaitFor(t, "the flood's records to expire", func() bool {
		i, err := kvStream.Info(t.Context())
		return err == nil && i.State.Msgs == 0
	})
	e.interact("0", "oOther")
	e.command("0", "oOther", events.VerbSend, "other", text("hi"))
	natstest.WaitFor(t, "the other bot's command", func() bool { return len(e.sim.Delivered(appID)) == delivered+1 })
}

// TestDoneRecordFitsItsReserve: whatever the outcome and errmsg, a
// command's done record is no larger than the record written before its
// call, so a full bucket cannot refuse it.
func TestDoneRecordFitsItsReserve(t *testing.T) {
	done, err := newDoneSize()
	if err != nil {
		t.Fatal(err)
	}
	eg := &Egress{now: time.Now, done: done}
	for _, id := range []string{"a", strings.Repeat("<", events.MaxCommandIDLength), `"\` + "\u2028\xff\x01é",
		strings.Repeat("\u2028", events.MaxCommandIDLength/3)} {
		j := &job{cmd: events.Command{ID: id, Verb: events.VerbSend,
			Conversation: events.Conversation{AppID: appID, BusinessID: "0", OpenID: "oUser"}},
			rec: record{Subject: "wxkf.out." + appID + ".0.oUser.send", Digest: dataDigest([]byte(`{}`))}}
		bound, largest := eg.doneBound(j), 0
		for _, msg := range []string{"ok", strings.Repeat("<", 4000), strings.Repeat("\u2028", 2000), string([]byte{0xff, 0xfe}) + strings.Repeat("\x01", 3000)} {
			d := events.ResultData{CommandID: id, Verb: events.VerbSend, AppID: appID, BusinessID: "0", OpenID: "oUser",
				Outcome: events.OutcomeFailed, ErrCode: -1004, ErrMsg: cutErrMsg(msg), Attempts: 3,
				Reason: ReasonMaybeDelivered, MaybeDelivered: true, MediaID: strings.Repeat("m", 100), Time: time.Now().UTC()}
			body, err := json.Marshal(events.NewResult(d))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(record{State: stateDone, Attempts: 3, Retries: 5, Result: body, Subject: j.rec.Subject, Digest: j.rec.Digest})
			if len(b) > bound {
				t.Errorf("id %.8q…, errmsg %.8q…: done record %d bytes > reserve %d", id, msg, len(b), bound)
			}
			largest = max(largest, len(b))
		}
		// The reserve is what every record before the call is padded to:
		// not much more than the largest done record here, which has no
		// reply budget, budget_exceeded or traceparent, a shorter media id,
		// errcode and attempts (261 bytes in all).
		if bound > largest+300 {
			t.Errorf("id %.8q…: reserve %d bytes, largest done record %d", id, bound, largest)
		}
	}
}

// TestJSONLenMatchesEncoder: jsonLen, on which the done-record bound and
// errmsg cuts rest, is the length encoding/json gives a string's content,
// and cutErrMsg keeps that within maxErrMsg.
func TestJSONLenMatchesEncoder(t *testing.T) {
	for _, s := range []string{"", "ok", `a"b\c`, "\n\r\t\x01\x1f", "<a href=\"x\">&</a>", "中文消息", "\u2028\u2029",
		string([]byte{0xff, 'a', 0xc3}), strings.Repeat("<", 600), strings.Repeat("中", 400), "😀\x7f"} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jsonLen(s), len(b)-2; got != want {
			t.Errorf("jsonLen(%q) = %d, encoding/json writes %d", s, got, want)
		}
		if c := cutErrMsg(s); jsonLen(c) > maxErrMsg || (jsonLen(s) <= maxErrMsg && c != s) {
			t.Errorf("cutErrMsg(%.20q…) = %.20q… (%d bytes encoded)", s, c, jsonLen(c))
		}
	}
}
