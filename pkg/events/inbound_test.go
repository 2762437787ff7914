package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

const testApp = "wx0123456789abcdef"

type inboundCase struct {
	name string
	msg  wxcodec.Message
	want InboundEvent
}

func inboundCases() []inboundCase {
	created := time.Unix(1482048670, 0).UTC()
	return []inboundCase{
		{
			name: "text main account",
			msg: wxcodec.Message{ToUserName: "gh_1", FromUserName: "oUser-1_x", CreateTime: 1482048670,
				MsgType: "text", MsgID: "6054768590064713728", Content: "hi \"there\" <b>&\n"},
			want: InboundEvent{SpecVersion: "1.0", ID: "6054768590064713728", Source: "/wxkf/" + testApp + "/0",
				Type: "weixin.kf.message.text", Subject: "oUser-1_x", Time: created, DataContentType: "application/json",
				AppID: testApp, BusinessID: "0",
				Data: InboundData{AppID: testApp, BusinessID: "0", OpenID: "oUser-1_x", ToUserName: "gh_1",
					CreateTime: 1482048670, MsgType: "text", MsgID: "6054768590064713728",
					Text: &TextData{Content: "hi \"there\" <b>&\n"}}},
		},
		{
			name: "image of a sub-merchant",
			msg: wxcodec.Message{ToUserName: "gh_1", FromUserName: "oU", CreateTime: 1482048670, MsgType: "image",
				MsgID: "1", BusinessID: "42", PicURL: "http://p/x.jpg", MediaID: "m1"},
			want: InboundEvent{SpecVersion: "1.0", ID: "1", Source: "/wxkf/" + testApp + "/42",
				Type: "weixin.kf.message.image", Subject: "oU", Time: created, DataContentType: "application/json",
				AppID: testApp, BusinessID: "42",
				Data: InboundData{AppID: testApp, BusinessID: "42", OpenID: "oU", ToUserName: "gh_1",
					CreateTime: 1482048670, MsgType: "image", MsgID: "1", Image: &ImageData{PicURL: "http://p/x.jpg", MediaID: "m1"}}},
		},
		{
			name: "miniprogrampage",
			msg: wxcodec.Message{FromUserName: "oU", CreateTime: 1482048670, MsgType: "miniprogrampage", MsgID: "7",
				Title: "t", AppID: "wxcard", PagePath: "pages/a?b=c", ThumbURL: "", ThumbMediaID: ""},
			want: InboundEvent{SpecVersion: "1.0", ID: "7", Source: "/wxkf/" + testApp + "/0",
				Type: "weixin.kf.message.miniprogrampage", Subject: "oU", Time: created, DataContentType: "application/json",
				AppID: testApp, BusinessID: "0",
				Data: InboundData{AppID: testApp, BusinessID: "0", OpenID: "oU", CreateTime: 1482048670,
					MsgType: "miniprogrampage", MsgID: "7",
					MiniProgramPage: &MiniProgramPageData{Title: "t", AppID: "wxcard", PagePath: "pages/a?b=c"}}},
		},
		{
			name: "enter session event",
			msg: wxcodec.Message{FromUserName: "oU", CreateTime: 1482048670, MsgType: "event",
				Event: "user_enter_tempsession", SessionFrom: "button-1"},
			want: InboundEvent{SpecVersion: "1.0", Source: "/wxkf/" + testApp + "/0",
				Type: "weixin.kf.event.user_enter_tempsession", Subject: "oU", Time: created, DataContentType: "application/json",
				AppID: testApp, BusinessID: "0",
				Data: InboundData{AppID: testApp, BusinessID: "0", OpenID: "oU", CreateTime: 1482048670,
					MsgType: "event", Event: &EventData{Name: "user_enter_tempsession", SessionFrom: "button-1"}}},
		},
		{
			name: "unknown kind without sender or time",
			msg: wxcodec.Message{MsgType: "video", MsgID: "9", Extra: []wxcodec.Field{
				{Name: "MediaId", Value: json.RawMessage(`"v1"`)},
				{Name: "Nested", Value: json.RawMessage(`{"a":["1","2"],"n":12345678901234567890}`)},
			}},
			want: InboundEvent{SpecVersion: "1.0", ID: "9", Source: "/wxkf/" + testApp + "/0",
				Type: "weixin.kf.message.video", Subject: "_", DataContentType: "application/json",
				AppID: testApp, BusinessID: "0",
				Data: InboundData{AppID: testApp, BusinessID: "0", MsgType: "video", MsgID: "9",
					Extra: map[string]json.RawMessage{
						"MediaId": json.RawMessage(`"v1"`),
						"Nested":  json.RawMessage(`{"a":["1","2"],"n":12345678901234567890}`),
					}}},
		},
	}
}

func TestInboundJSON(t *testing.T) {
	for _, tt := range inboundCases() {
		t.Run(tt.name, func(t *testing.T) {
			in, err := NewInbound(testApp, &tt.msg)
			if err != nil {
				t.Fatalf("NewInbound() = %v", err)
			}
			body := in.AppendJSON(nil)
			if !json.Valid(body) {
				t.Fatalf("AppendJSON() is not valid JSON: %s", body)
			}
			got, err := ParseInbound(body)
			if err != nil {
				t.Fatalf("ParseInbound() = %v", err)
			}
			want := tt.want
			if want.ID == "" { // hashed id: checked for shape and determinism below
				want.ID = got.ID
				if len(got.ID) != 32 {
					t.Errorf("hashed id %q: want 32 hex characters", got.ID)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
			// The hand encoder and encoding/json agree on the whole document.
			std, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(std, &b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(b, a); diff != "" {
				t.Errorf("hand encoding differs from encoding/json (-std +hand):\n%s", diff)
			}
			wantSubject := "wxkf.in." + testApp + "." + want.BusinessID + "." + want.Subject + "." + kindOf(want)
			if in.Subject != wantSubject {
				t.Errorf("Subject = %q, want %q", in.Subject, wantSubject)
			}
			if in.MsgID() != testApp+":"+got.ID {
				t.Errorf("MsgID() = %q", in.MsgID())
			}
		})
	}
}

func kindOf(ev InboundEvent) string {
	if ev.Data.Event != nil {
		return ev.Data.Event.Name
	}
	return ev.Data.MsgType
}

// TestCloudEventsSDKReadsBack proves the hand-encoded events are CloudEvents
// the reference SDK reads to the same attributes and data.
func TestCloudEventsSDKReadsBack(t *testing.T) {
	for _, tt := range inboundCases() {
		t.Run(tt.name, func(t *testing.T) {
			in, err := NewInbound(testApp, &tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			body := in.AppendJSON(nil)
			var e cloudevents.Event
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("SDK unmarshal: %v\n%s", err, body)
			}
			if err := e.Validate(); err != nil {
				t.Errorf("SDK Validate() = %v", err)
			}
			checks := []struct{ attr, got, want string }{
				{"specversion", e.SpecVersion(), "1.0"},
				{"id", e.ID(), in.ID},
				{"source", e.Source(), in.Source()},
				{"type", e.Type(), in.Type},
				{"subject", e.Subject(), in.OpenID},
				{"datacontenttype", e.DataContentType(), "application/json"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("SDK %s = %q, want %q", c.attr, c.got, c.want)
				}
			}
			if !e.Time().Equal(in.Time()) {
				t.Errorf("SDK time = %v, want %v", e.Time(), in.Time())
			}
			ext := e.Extensions()
			if ext["appid"] != testApp || ext["businessid"] != in.BusinessID {
				t.Errorf("SDK extensions = %v", ext)
			}
			var sdkData, ourData any
			if err := e.DataAs(&sdkData); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(in.AppendData(nil), &ourData); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ourData, sdkData); diff != "" {
				t.Errorf("SDK data differs (-ours +sdk):\n%s", diff)
			}
		})
	}
}

func TestHashedIDIsDeterministic(t *testing.T) {
	m := wxcodec.Message{FromUserName: "oU", CreateTime: 1, MsgType: "event", Event: "debug_demo",
		Extra: []wxcodec.Field{{Name: "debug_str", Value: json.RawMessage(`"hello"`)}}}
	a, err := NewInbound(testApp, &m)
	if err != nil {
		t.Fatal(err)
	}
	m2 := m
	b, _ := NewInbound(testApp, &m2)
	if a.ID != b.ID {
		t.Errorf("same push, ids %q and %q", a.ID, b.ID)
	}
	for _, change := range []func(*wxcodec.Message){
		func(m *wxcodec.Message) { m.CreateTime = 2 },
		func(m *wxcodec.Message) { m.FromUserName = "oV" },
		func(m *wxcodec.Message) {
			m.Extra = []wxcodec.Field{{Name: "debug_str", Value: json.RawMessage(`"bye"`)}}
		},
		func(m *wxcodec.Message) { m.BusinessID = "3" },
	} {
		m3 := m
		change(&m3)
		c, err := NewInbound(testApp, &m3)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == a.ID {
			t.Errorf("different push %+v got the same id %q", m3, c.ID)
		}
	}
	other, _ := NewInbound("wxother", &m)
	if other.ID == a.ID {
		t.Error("same push for two apps got the same id")
	}
}

func TestNewInboundRejects(t *testing.T) {
	tests := []struct {
		name string
		msg  wxcodec.Message
		want error
	}{
		{name: "openid with dot", msg: wxcodec.Message{FromUserName: "o.U", MsgType: "text"}, want: ErrToken},
		{name: "openid with space", msg: wxcodec.Message{FromUserName: "o U", MsgType: "text"}, want: ErrToken},
		{name: "wildcard msgtype", msg: wxcodec.Message{FromUserName: "oU", MsgType: "*"}, want: ErrToken},
		{name: "event name with >", msg: wxcodec.Message{FromUserName: "oU", MsgType: "event", Event: "a>"}, want: ErrToken},
		{name: "event without name", msg: wxcodec.Message{FromUserName: "oU", MsgType: "event"}, want: ErrToken},
		{name: "bad business id", msg: wxcodec.Message{FromUserName: "oU", MsgType: "text", BusinessID: "4.2"}, want: ErrToken},
		{name: "negative time", msg: wxcodec.Message{FromUserName: "oU", MsgType: "text", CreateTime: -1}, want: ErrInvalid},
		{name: "time after year 9999", msg: wxcodec.Message{FromUserName: "oU", MsgType: "text", CreateTime: MaxCreateTime + 1}, want: ErrInvalid},
		{name: "largest time", msg: wxcodec.Message{FromUserName: "oU", MsgType: "text", CreateTime: 1<<63 - 1}, want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewInbound(testApp, &tt.msg)
			if !errors.Is(err, tt.want) {
				t.Errorf("NewInbound(%+v) = %v, want %v", tt.msg, err, tt.want)
			}
		})
	}
	if _, err := NewInbound("wx.app", &wxcodec.Message{FromUserName: "oU", MsgType: "text"}); !errors.Is(err, ErrToken) {
		t.Errorf("NewInbound(bad appid) = %v, want %v", err, ErrToken)
	}
}

// TestInboundMsg checks the NATS message of an event: the structured body,
// the deduplication id, the content type and the trace.
func TestInboundMsg(t *testing.T) {
	m := wxcodec.Message{FromUserName: "oU", CreateTime: 1, MsgType: "text", MsgID: "123", Content: "hi"}
	in, err := NewInbound(testApp, &m)
	if err != nil {
		t.Fatal(err)
	}
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	msg := in.Msg(tp)
	traced := in
	traced.TraceParent = tp
	if msg.Subject != in.Subject || string(msg.Data) != string(traced.AppendJSON(nil)) {
		t.Errorf("Msg = %s %s, want %s %s", msg.Subject, msg.Data, in.Subject, traced.AppendJSON(nil))
	}
	// The traceparent attribute is the header's (CloudEvents distributed
	// tracing extension), and the id does not depend on it.
	var ev InboundEvent
	if err := json.Unmarshal(msg.Data, &ev); err != nil || ev.TraceParent != tp || ev.ID != in.ID {
		t.Errorf("Msg body: traceparent %q id %q (err %v), want %q and %q", ev.TraceParent, ev.ID, err, tp, in.ID)
	}
	if bytes.Contains(in.AppendJSON(nil), []byte("traceparent")) {
		t.Errorf("AppendJSON without TraceParent writes a traceparent attribute")
	}
	want := map[string]string{HeaderMsgID: testApp + ":123", HeaderContentType: ContentType, HeaderTraceParent: tp}
	if len(msg.Header) != len(want) {
		t.Errorf("headers %v, want %v", msg.Header, want)
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if msg := in.Msg(""); msg.Header.Get(HeaderTraceParent) != "" || len(msg.Header) != 2 {
		t.Errorf("Msg(\"\") headers %v, want no traceparent", msg.Header)
	}
}
