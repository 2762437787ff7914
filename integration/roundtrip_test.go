package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
	"github.com/kfbridge/kfbridge/schemas"
)

// TestRoundTrip follows pushes in every format, mode and kind through the
// real ingress and egress containers on one NATS container: WeChat's push →
// event on wxkf.in → a bot → commands on wxkf.out → the simulated WeChat
// API → results on wxkf.result.
func TestRoundTrip(t *testing.T) {
	st := newStack(t)
	natsNode := st.startNATS("nats", false)
	sim := st.startWeChat(0)
	// Every mode, which the demo app accepts only when listed (its key
	// alone means safe only).
	env := bridgeEnv("nats://nats:4222", 1, map[string]string{"KFBRIDGE_APPS_0_MODES": "plaintext,compatible,safe"})
	ing := st.startIngress("ingress", env)
	st.startEgress("egress", env)

	ctx := t.Context()
	_, js := connectNATS(t, natsNode.clientURL(t))
	wx := newWeChat(t, endpoint(t, ing, ingressPort, "http"), endpoint(t, sim, wechatPort, "http"))
	bot := startBot(t, js)

	// One conversation per format and mode, half of them with a
	// sub-merchant; in each, the user enters the session and sends every
	// kind, including an event that opens no window and a MsgType WeChat
	// might add later.
	kinds := []string{wxpush.KindUserEnterTempSession, wxpush.KindText, wxpush.KindImage,
		wxpush.KindMiniProgramPage, "video", wxpush.KindEventPrefix + wxpush.EventDebugDemo}
	type sent struct {
		req *wxpush.Request
		bid string
	}
	var pushes []sent
	pusher := wx.pusher(t)
	i := 0
	for _, format := range []wxcodec.Format{wxcodec.FormatXML, wxcodec.FormatJSON} {
		for _, mode := range []wxcodec.Mode{wxcodec.ModePlaintext, wxcodec.ModeCompatible, wxcodec.ModeSafe} {
			var bid int64
			if i%2 == 1 {
				bid = 42
			}
			i++
			openid := fmt.Sprintf("oIT-rt-%s-%s", format, mode)
			for _, kind := range kinds {
				spec := wxpush.Spec{Kind: kind, Format: format, Mode: mode, OpenID: openid, BusinessID: bid,
					Content: fmt.Sprintf("%s %s %s", kind, format, mode)}
				if !spec.IsEvent() {
					spec.MsgID = wxpush.NewMsgID()
				}
				req := wx.sign(t, spec)
				if err := wx.recordFirst(ctx, req); err != nil {
					t.Fatalf("tell the simulator: %v", err)
				}
				res, err := pusher.Push(ctx, req)
				if err != nil {
					t.Fatalf("Push(%s %s %s) = %+v, %v", kind, format, mode, res, err)
				}
				if res.Attempts != 1 || res.Answer != wxpush.AnswerSuccess {
					t.Errorf("Push(%s %s %s) = %+v, want success at the first attempt", kind, format, mode, res)
				}
				pushes = append(pushes, sent{req, fmt.Sprint(bid)})
			}
		}
	}
	// WeChat's retry of a push already stored: answered success, stored once.
	if res, err := pusher.Push(ctx, pushes[1].req); err != nil || res.Answer != wxpush.AnswerSuccess {
		t.Errorf("Push(retry) = %+v, %v, want success", res, err)
	}

	// Every push is one event with the data WeChat sent.
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var stored []storedMsg
	waitFor(t, 30*time.Second, "every push in WXKF_IN", func() bool {
		stored, err = readStream(ctx, js, events.InboundStreamName)
		return err == nil && len(stored) >= len(pushes)
	})
	if len(stored) != len(pushes) {
		t.Errorf("WXKF_IN holds %d events, want %d (one per push, the retry dropped)", len(stored), len(pushes))
	}
	bySubject := map[string]storedMsg{}
	for _, m := range stored {
		bySubject[m.subject] = m
	}
	for _, p := range pushes {
		checkEvent(t, validator, bySubject, p.req.Spec, p.bid)
	}

	// Every command the bot published ends in one delivered result, and
	// WeChat got each send once, in the order the bot published them.
	want := bot.wait(t, 6*5+6) // six conversations: five sends and one typing each
	var results map[string][]events.ResultData
	waitFor(t, time.Minute, "a result for every command", func() bool {
		results, err = readResults(ctx, js)
		return err == nil && len(results) >= len(want)
	})
	for _, c := range want {
		rs := results[c.id]
		if len(rs) != 1 || rs[0].Outcome != events.OutcomeDelivered {
			t.Errorf("results of %s = %+v, want one delivered", c.id, rs)
		}
	}
	resultMsgs, err := readStream(ctx, js, events.ResultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range resultMsgs {
		if err := validator.Validate(schemas.ResultEvent, m.data); err != nil {
			t.Errorf("result on %s does not match its schema: %v", m.subject, err)
		}
	}
	delivered, err := wx.delivered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotSends := map[string][]string{}
	for _, d := range delivered {
		key := d.BusinessID + "/" + d.OpenID
		gotSends[key] = append(gotSends[key], sendKey(d.MsgType, d.Body))
		wantPath := "/cgi-bin/message/custom/send"
		if d.BusinessID != "0" {
			wantPath = "/cgi-bin/message/custom/business/send"
		}
		if d.Path != wantPath {
			t.Errorf("send to %s/%s called %s, want %s", d.BusinessID, d.OpenID, d.Path, wantPath)
		}
	}
	wantSends := map[string][]string{}
	typings := 0
	for _, c := range want {
		if c.verb == events.VerbTyping {
			typings++
			continue
		}
		key := c.conv.BusinessID + "/" + c.conv.OpenID
		raw, _ := json.Marshal(c.data)
		wantSends[key] = append(wantSends[key], sendKey(c.data.(events.SendData).MsgType, raw))
	}
	for key, w := range wantSends {
		if got := gotSends[key]; strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("WeChat got for %s:\n\t%s\nwant, in this order:\n\t%s", key, strings.Join(got, "\n\t"), strings.Join(w, "\n\t"))
		}
	}
	if len(delivered) != len(want)-typings {
		t.Errorf("WeChat got %d messages, want %d", len(delivered), len(want)-typings)
	}
	typed, err := wx.typing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(typed) != typings {
		t.Errorf("WeChat got %d typing calls, want %d", len(typed), typings)
	}
	m, err := scrape(ctx, endpoint(t, ing, ingressAdminPort, "http"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("kfbridge_ingress_pushes_total", `outcome="duplicate"`); got != 1 {
		t.Errorf("ingress duplicates = %v, want 1 (the retry)", got)
	}
	t.Logf("round trip: %d pushes (%d formats × modes × %d kinds) + 1 retry → %d events; %d commands → %d results; WeChat got %d messages and %d typing calls",
		len(pushes), 6, len(kinds), len(stored), len(want), len(results), len(delivered), len(typed))
}

// sendKey identifies a send by its kind and its distinguishing field.
func sendKey(msgtype string, body []byte) string {
	var b struct {
		Text  *struct{ Content string } `json:"text"`
		Image *struct {
			MediaID string `json:"media_id"`
		} `json:"image"`
		MiniProgramPage *struct {
			ThumbMediaID string `json:"thumb_media_id"`
		} `json:"miniprogrampage"`
	}
	json.Unmarshal(body, &b)
	switch {
	case b.Text != nil:
		return msgtype + ":" + b.Text.Content
	case b.Image != nil:
		return msgtype + ":" + b.Image.MediaID
	case b.MiniProgramPage != nil:
		return msgtype + ":" + b.MiniProgramPage.ThumbMediaID
	}
	return msgtype
}

// checkEvent checks the event stored for the push spec.
func checkEvent(t *testing.T, v *schemas.Validator, bySubject map[string]storedMsg, spec wxpush.Spec, bid string) {
	t.Helper()
	m, err := spec.Message()
	if err != nil {
		t.Fatal(err)
	}
	kind, typ := m.MsgType, events.TypeMessagePrefix+m.MsgType
	if m.MsgType == "event" {
		kind, typ = m.Event, events.TypeEventPrefix+m.Event
	}
	subject := strings.Join([]string{"wxkf.in", demo.AppID, bid, spec.OpenID, kind}, ".")
	sm, ok := bySubject[subject]
	if !ok {
		t.Errorf("no event on %s (push %s %v %v)", subject, spec.Kind, spec.Format, spec.Mode)
		return
	}
	if err := v.Validate(schemas.InboundEvent, sm.data); err != nil {
		t.Errorf("event on %s does not match its schema: %v", subject, err)
	}
	ev, err := events.ParseInbound(sm.data)
	if err != nil {
		t.Fatalf("ParseInbound(%s) = %v", sm.data, err)
	}
	d := ev.Data
	if ev.Type != typ || ev.Subject != spec.OpenID || d.BusinessID != bid || d.MsgID != spec.MsgID || d.CreateTime != spec.CreateTime {
		t.Errorf("event on %s = type %s subject %s bid %s msg_id %s create_time %d, want %s %s %s %s %d",
			subject, ev.Type, ev.Subject, d.BusinessID, d.MsgID, d.CreateTime, typ, spec.OpenID, bid, spec.MsgID, spec.CreateTime)
	}
	if spec.MsgID != "" && sm.msgID != demo.AppID+":"+spec.MsgID {
		t.Errorf("Nats-Msg-Id of %s = %q, want %q", subject, sm.msgID, demo.AppID+":"+spec.MsgID)
	}
	var problem string
	switch spec.Kind {
	case wxpush.KindText:
		if d.Text == nil || d.Text.Content != m.Content {
			problem = "text content"
		}
	case wxpush.KindImage:
		if d.Image == nil || d.Image.MediaID != m.MediaID || d.Image.PicURL != m.PicURL {
			problem = "image"
		}
	case wxpush.KindMiniProgramPage:
		p := d.MiniProgramPage
		if p == nil || p.Title != m.Title || p.PagePath != m.PagePath || p.ThumbMediaID != m.ThumbMediaID || p.AppID != m.AppID {
			problem = "card"
		}
	case wxpush.KindUserEnterTempSession:
		if d.Event == nil || d.Event.Name != wxpush.KindUserEnterTempSession || d.Event.SessionFrom != m.SessionFrom {
			problem = "event"
		}
	case "video":
		if d.Extra["MediaId"] == nil || d.Extra["Detail"] == nil || d.Extra["Description"] == nil {
			problem = "extra fields"
		}
	default: // debug_demo
		if d.Event == nil || d.Event.Name != wxpush.EventDebugDemo || d.Extra["debug_str"] == nil {
			problem = "event and debug_str"
		}
	}
	if problem != "" {
		t.Errorf("event on %s: wrong %s: %s", subject, problem, sm.data)
	}
}

// botCommand is a command the test bot published.
type botCommand struct {
	id   string
	conv events.Conversation
	verb string
	data any
}

// bot answers pushes as a bot written in any language would: a durable
// consumer on WXKF_IN and commands on wxkf.out.
type bot struct {
	mu   sync.Mutex
	cmds []botCommand
	errs []error
}

// startBot runs the test bot until the test ends.
func startBot(t testing.TB, js jetstream.JetStream) *bot {
	t.Helper()
	ctx := t.Context()
	cons, err := js.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{
		Durable: "integration-bot", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait: 10 * time.Second, MaxAckPending: 1, // one push at a time: replies keep the pushes' order
	})
	if err != nil {
		t.Fatalf("bot consumer: %v", err)
	}
	b := &bot{}
	cc, err := cons.Consume(func(m jetstream.Msg) { b.answer(ctx, js, m) })
	if err != nil {
		t.Fatalf("bot consume: %v", err)
	}
	t.Cleanup(cc.Stop)
	return b
}

func (b *bot) answer(ctx context.Context, js jetstream.JetStream, m jetstream.Msg) {
	ev, err := events.ParseInbound(m.Data())
	if err != nil {
		b.fail(fmt.Errorf("bot: %w", err))
		m.Term()
		return
	}
	d := ev.Data
	conv := events.Conversation{AppID: d.AppID, BusinessID: d.BusinessID, OpenID: ev.Subject}
	var cmds []botCommand
	add := func(verb string, data any) {
		cmds = append(cmds, botCommand{id: fmt.Sprintf("%s-%d-%s", verb, len(cmds), ev.ID), conv: conv, verb: verb, data: data})
	}
	switch {
	case d.Event != nil && d.Event.Name == events.EventUserEnterTempSession:
		add(events.VerbSend, textCommand("welcome "+conv.OpenID))
	case d.Event != nil: // opens no window: nothing to say
	case d.Text != nil:
		add(events.VerbTyping, events.TypingData{Command: events.TypingOn})
		add(events.VerbSend, textCommand("echo: "+d.Text.Content))
	case d.Image != nil:
		add(events.VerbSend, events.SendData{MsgType: "image", Image: &events.SendImage{MediaID: d.Image.MediaID}})
	case d.MiniProgramPage != nil:
		p := d.MiniProgramPage
		add(events.VerbSend, events.SendData{MsgType: "miniprogrampage", MiniProgramPage: &events.SendMiniProgramPage{
			Title: "re: " + p.Title, PagePath: p.PagePath, ThumbMediaID: p.ThumbMediaID}})
	default:
		add(events.VerbSend, textCommand("got a "+d.MsgType))
	}
	for _, c := range cmds {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := publishCommand(pctx, js, c.conv, c.verb, c.id, c.data)
		cancel()
		if err != nil {
			b.fail(fmt.Errorf("bot: publish %s: %w", c.id, err))
			m.Nak()
			return
		}
	}
	b.mu.Lock()
	b.cmds = append(b.cmds, cmds...)
	b.mu.Unlock()
	m.Ack()
}

func (b *bot) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, err)
}

// wait waits until the bot published n commands and returns them.
func (b *bot) wait(t testing.TB, n int) []botCommand {
	t.Helper()
	var cmds []botCommand
	waitFor(t, 30*time.Second, fmt.Sprintf("the bot's %d commands", n), func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		cmds = append(cmds[:0], b.cmds...)
		return len(cmds) >= n || len(b.errs) > 0
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, err := range b.errs {
		t.Error(err)
	}
	if len(cmds) != n {
		t.Errorf("the bot published %d commands, want %d", len(cmds), n)
	}
	return cmds
}
