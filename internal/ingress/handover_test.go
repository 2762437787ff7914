package ingress

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
	"github.com/kfbridge/kfbridge/schemas"
)

// responder answers decision requests as a bot would, by the openid of
// the conversation: oTransfer {"transfer":true}, oKeep {"transfer":false},
// oBad an unreadable answer, oLate {"transfer":true} only once the test
// released it (after the push was answered); nobody answers oNone.
type responder struct {
	asked   atomic.Int64
	release chan struct{}
	mu      sync.Mutex
	bodies  [][]byte
	headers []nats.Header
}

func startResponder(t *testing.T, e *env) *responder {
	t.Helper()
	nc, err := nats.Connect(e.js.Conn().ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r := &responder{release: make(chan struct{}, 16)}
	for _, openid := range []string{"oTransfer", "oKeep", "oBad", "oLate"} {
		_, err := nc.Subscribe(events.DecidePrefix+"*.*."+openid, func(m *nats.Msg) {
			r.asked.Add(1)
			r.mu.Lock()
			r.bodies = append(r.bodies, bytes.Clone(m.Data))
			r.headers = append(r.headers, m.Header)
			r.mu.Unlock()
			switch openid {
			case "oTransfer":
				m.Respond([]byte(`{"transfer":true}`))
			case "oKeep":
				m.Respond([]byte(`{"transfer":false}`))
			case "oBad":
				m.Respond([]byte(`yes please`))
			case "oLate":
				<-r.release
				m.Respond([]byte(`{"transfer":true}`))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(r.release) })
	return r
}

// pushAndCheck sends spec through the handler as WeChat would and returns
// the answer as WeChat reads it (wxpush.Answer…), failing on an answer
// WeChat would not accept.
func pushAndCheck(t *testing.T, e *env, signer *wxpush.Signer, spec wxpush.Spec) string {
	t.Helper()
	req, err := signer.Sign(spec, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, req.URL, bytes.NewReader(req.Body))
	r.Header.Set("Content-Type", req.ContentType())
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, r)
	answer, err := signer.CheckAnswer(req, rec.Code, rec.Body.Bytes())
	if err != nil {
		t.Fatalf("push %+v answered %s: %v", spec, answer, err)
	}
	return answer
}

// TestHandoverMatrix: every mode × format × encryption mode, with a
// responder answering transfer, keep, unreadable, late or not at all: each
// user message gets the passive reply its decision calls for (exactly as
// WeChat reads it), events get success and nobody is asked about them, and
// every push is stored.
func TestHandoverMatrix(t *testing.T) {
	rules := config.HandoverRuleSet{Keywords: []string{"人工"}, Regexps: []string{`(?i)\bagent\b`}, Business: []string{"42"}}
	for _, mode := range []string{config.HandoverNever, config.HandoverAlways, config.HandoverRules, config.HandoverBot} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				c.Apps[0].Handover = config.Handover{Mode: mode, Deadline: time.Second}
				if mode == config.HandoverRules {
					c.Apps[0].Handover.Rules = rules
				}
			})
			r := startResponder(t, e)
			signer, err := wxpush.NewSigner("http://ingress", wxpush.App{AppID: testAppID, Token: testToken, EncodingAESKey: testKey})
			if err != nil {
				t.Fatal(err)
			}
			var stored uint64
			n := 0
			for _, f := range []wxcodec.Format{wxcodec.FormatXML, wxcodec.FormatJSON} {
				for _, wm := range []wxcodec.Mode{wxcodec.ModePlaintext, wxcodec.ModeCompatible, wxcodec.ModeSafe} {
					transfer := wxpush.AnswerTransfer
					if wm != wxcodec.ModePlaintext {
						transfer = wxpush.AnswerTransferEncrypted
					}
					for _, tc := range []struct {
						openid, content string
						bid             int64
						want            map[string]string // by mode; missing: success
					}{
						{"oTransfer", "hello", 0, map[string]string{config.HandoverAlways: transfer, config.HandoverBot: transfer}},
						{"oKeep", "我要人工", 0, map[string]string{config.HandoverAlways: transfer, config.HandoverRules: transfer}},
						{"oBad", "an Agent please", 0, map[string]string{config.HandoverAlways: transfer, config.HandoverRules: transfer}},
						{"oLate", "hello", 42, map[string]string{config.HandoverAlways: transfer, config.HandoverRules: transfer}},
						{"oNone", "hello", 0, map[string]string{config.HandoverAlways: transfer}},
					} {
						n++
						spec := wxpush.Spec{Kind: wxpush.KindText, Format: f, Mode: wm, OpenID: tc.openid, To: "gh_97417a04a28d",
							BusinessID: tc.bid, Content: tc.content, MsgID: fmt.Sprint(7_000_000 + n)}
						want := tc.want[mode]
						if want == "" {
							want = wxpush.AnswerSuccess
						}
						got := pushAndCheck(t, e, signer, spec)
						if tc.openid == "oLate" && mode == config.HandoverBot {
							r.release <- struct{}{}
						}
						if got != want {
							t.Errorf("%s %s %s: answered %s, want %s", f, wm, tc.openid, got, want)
						}
						stored++
						if want != wxpush.AnswerSuccess && mode != config.HandoverAlways {
							stored++ // the transferred event
						}
						// An event: never transferred, nobody asked.
						asked := r.asked.Load()
						spec = wxpush.Spec{Kind: "user_enter_tempsession", Format: f, Mode: wm, OpenID: tc.openid, To: "gh_97417a04a28d"}
						spec.CreateTime = fixedNow.Unix() + int64(n)
						if got := pushAndCheck(t, e, signer, spec); got != wxpush.AnswerSuccess {
							t.Errorf("event answered %s, want success", got)
						}
						if r.asked.Load() != asked {
							t.Errorf("a bot was asked about an event")
						}
						stored++
					}
				}
			}
			if got := e.count(t); got != stored {
				t.Errorf("stream holds %d events, want %d", got, stored)
			}
			wantAsked := int64(0)
			if mode == config.HandoverBot {
				wantAsked = 4 * 6 // four answering conversations × six format/mode pairs
			}
			if got := r.asked.Load(); got != wantAsked {
				t.Errorf("bots asked %d times, want %d", got, wantAsked)
			}
			if mode == config.HandoverBot {
				for o, want := range map[string]float64{"transfer": 6, "keep": 6, "error": 6, "timeout": 6, "no_responder": 6} {
					series := fmt.Sprintf(`kfbridge_ingress_handover_decisions_total{appid="%s",mode="bot",outcome="%s"}`, testAppID, o)
					if got := metricValue(t, e.srv, series); got != want {
						t.Errorf("%s = %v, want %v", series, got, want)
					}
				}
			}
		})
	}
}

// TestHandoverBotRequest: the decision request's body is the very event
// stored, with the push's trace, on wxkf.decide.<appid>.<bid>.<openid>;
// a handover publishes a schema-valid transferred event, and later
// messages of that conversation carry handled_by human_pending while
// other conversations say bot.
func TestHandoverBotRequest(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Apps[0].Handover = config.Handover{Mode: config.HandoverBot} })
	r := startResponder(t, e)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := wxpush.NewSigner("http://ingress", wxpush.App{AppID: testAppID, Token: testToken, EncodingAESKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	spec := wxpush.Spec{Kind: wxpush.KindText, OpenID: "oTransfer", To: "gh_1", BusinessID: 7, MsgID: "9001", Content: "人工"}
	if got := pushAndCheck(t, e, signer, spec); got != wxpush.AnswerTransferEncrypted {
		t.Fatalf("answered %s, want a transfer", got)
	}
	msgs := streamMsgs(t, e)
	if len(msgs) != 2 {
		t.Fatalf("stream holds %d events, want the message and the transferred event", len(msgs))
	}
	r.mu.Lock()
	body, hdr := r.bodies[0], r.headers[0]
	r.mu.Unlock()
	if !bytes.Equal(body, msgs[0].Data) {
		t.Errorf("request body\n%s\nwant the stored event\n%s", body, msgs[0].Data)
	}
	if hdr.Get(events.HeaderTraceParent) == "" || hdr.Get(events.HeaderTraceParent) != msgs[0].Header.Get(events.HeaderTraceParent) {
		t.Errorf("request traceparent %q, stored %q", hdr.Get(events.HeaderTraceParent), msgs[0].Header.Get(events.HeaderTraceParent))
	}
	first, err := events.ParseInbound(msgs[0].Data)
	if err != nil || first.Data.HandledBy != events.HandledByBot {
		t.Errorf("first message handled_by %q, %v; want bot", first.Data.HandledBy, err)
	}
	tr := msgs[1]
	if want := "wxkf.in." + testAppID + ".7.oTransfer.conversation_transferred"; tr.Subject != want {
		t.Errorf("transferred event on %s, want %s", tr.Subject, want)
	}
	if err := v.Validate(schemas.TransferredEvent, tr.Data); err != nil {
		t.Errorf("transferred event %s: %v", tr.Data, err)
	}
	if !strings.Contains(string(tr.Data), `"message_id":"9001"`) || !strings.Contains(string(tr.Data), `"decided_by":"bot"`) {
		t.Errorf("transferred event %s", tr.Data)
	}
	// The user writes again (queued, or the agent closed the session):
	// human_pending, and the bot hands it over again; a WeChat retry of the
	// first push adds no second event nor transferred event.
	spec.MsgID, spec.Content = "9002", "still there?"
	pushAndCheck(t, e, signer, spec)
	spec.MsgID, spec.Content = "9001", "人工"
	pushAndCheck(t, e, signer, spec)
	other := wxpush.Spec{Kind: wxpush.KindText, OpenID: "oKeep", To: "gh_1", BusinessID: 7, MsgID: "9003"}
	pushAndCheck(t, e, signer, other)
	msgs = streamMsgs(t, e)
	if len(msgs) != 5 {
		for _, m := range msgs {
			t.Logf("%s %s", m.Subject, m.Data)
		}
		t.Fatalf("stream holds %d events, want 5", len(msgs))
	}
	for i, want := range map[int]string{2: events.HandledByHumanPending, 4: events.HandledByBot} {
		ev, err := events.ParseInbound(msgs[i].Data)
		if err != nil || ev.Data.HandledBy != want {
			t.Errorf("event %d (%s) handled_by %q, %v; want %s", i, ev.Subject, ev.Data.HandledBy, err, want)
		}
		if err := v.Validate(schemas.InboundEvent, msgs[i].Data); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	// An event of the conversation carries handled_by too; nobody is asked.
	asked := r.asked.Load()
	enter := wxpush.Spec{Kind: "user_enter_tempsession", OpenID: "oTransfer", To: "gh_1", BusinessID: 7}
	if got := pushAndCheck(t, e, signer, enter); got != wxpush.AnswerSuccess {
		t.Errorf("event answered %s, want success", got)
	}
	msgs = streamMsgs(t, e)
	ev, err := events.ParseInbound(msgs[len(msgs)-1].Data)
	if err != nil || ev.Data.Event == nil || ev.Data.HandledBy != events.HandledByHumanPending {
		t.Errorf("event %+v handled_by %q, %v; want user_enter_tempsession, human_pending", ev.Data.Event, ev.Data.HandledBy, err)
	}
	if r.asked.Load() != asked {
		t.Error("a bot was asked about an event")
	}
}

// streamMsgs returns every message of the inbound stream in order.
func streamMsgs(t *testing.T, e *env) []*nats.Msg {
	t.Helper()
	info, err := e.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []*nats.Msg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := e.stream.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
	}
	return out
}

// TestHandoverBusinessOverride: handover.business overrides the app's
// mode per BusinessId; a BusinessId in mode never gets no handled_by and
// nobody is asked about it.
func TestHandoverBusinessOverride(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Apps[0].Handover = config.Handover{Business: map[string]string{"42": config.HandoverBot, "43": config.HandoverAlways}}
	})
	r := startResponder(t, e)
	signer, err := wxpush.NewSigner("http://ingress", wxpush.App{AppID: testAppID, Token: testToken, EncodingAESKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		bid  int64
		want string
	}{
		{0, wxpush.AnswerSuccess},
		{42, wxpush.AnswerTransferEncrypted},
		{43, wxpush.AnswerTransferEncrypted},
	} {
		spec := wxpush.Spec{Kind: wxpush.KindText, OpenID: "oTransfer", To: "gh_1", BusinessID: tc.bid, MsgID: fmt.Sprint(9100 + i)}
		if got := pushAndCheck(t, e, signer, spec); got != tc.want {
			t.Errorf("bid %d answered %s, want %s", tc.bid, got, tc.want)
		}
	}
	if got := r.asked.Load(); got != 1 {
		t.Errorf("bots asked %d times, want once (bid 42)", got)
	}
	msgs := streamMsgs(t, e)
	if len(msgs) != 4 { // three messages and bid 42's transferred event
		t.Fatalf("stream holds %d events, want 4", len(msgs))
	}
	for i, want := range map[int]string{0: "", 1: events.HandledByBot, 3: ""} {
		ev, err := events.ParseInbound(msgs[i].Data)
		if err != nil || ev.Data.HandledBy != want {
			t.Errorf("event %d (%s) handled_by %q, %v; want %q", i, msgs[i].Subject, ev.Data.HandledBy, err, want)
		}
	}
}
