package wxpush

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// kinds lists one Spec kind of every shape.
var kinds = []string{
	KindText, KindImage, KindMiniProgramPage, KindUserEnterTempSession,
	KindEventPrefix + EventDebugDemo, "video", KindEventPrefix + "weapp_audit_success",
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestSpecMessage(t *testing.T) {
	const (
		openid = "oUser_1"
		to     = "gh_test"
		ct     = 1714112445
		msgID  = "6054768590064713728" // above 2^53
	)
	base := func(msgType string) wxcodec.Message {
		return wxcodec.Message{ToUserName: to, FromUserName: openid, CreateTime: ct, MsgType: msgType}
	}
	with := func(m wxcodec.Message, f func(*wxcodec.Message)) wxcodec.Message { f(&m); return m }

	tests := []struct {
		name string
		spec Spec
		want wxcodec.Message
	}{
		{
			name: "text",
			spec: Spec{Kind: KindText, Content: "hi <there> & ]]>"},
			want: with(base("text"), func(m *wxcodec.Message) { m.MsgID = msgID; m.Content = "hi <there> & ]]>" }),
		},
		{
			name: "text default content",
			spec: Spec{Kind: KindText},
			want: with(base("text"), func(m *wxcodec.Message) { m.MsgID = msgID; m.Content = "hello from wxsim" }),
		},
		{
			name: "image",
			spec: Spec{Kind: KindImage},
			want: with(base("image"), func(m *wxcodec.Message) {
				m.MsgID = msgID
				m.PicURL = "https://mmbiz.qpic.cn/wxsim/" + msgID + "/0"
				m.MediaID = "wxsim_image_" + msgID
			}),
		},
		{
			name: "miniprogrampage",
			spec: Spec{Kind: KindMiniProgramPage, Content: "Card", AppID: "wxcard"},
			want: with(base("miniprogrampage"), func(m *wxcodec.Message) {
				m.MsgID = msgID
				m.Title = "Card"
				m.AppID = "wxcard"
				m.PagePath = "pages/index/index?from=wxsim"
				m.ThumbURL = "https://mmbiz.qpic.cn/wxsim/thumb/" + msgID + "/0"
				m.ThumbMediaID = "wxsim_thumb_" + msgID
			}),
		},
		{
			name: "user_enter_tempsession",
			spec: Spec{Kind: KindUserEnterTempSession, Content: "button-1"},
			want: with(base("event"), func(m *wxcodec.Message) { m.Event = "user_enter_tempsession"; m.SessionFrom = "button-1" }),
		},
		{
			name: "event:user_enter_tempsession is the same",
			spec: Spec{Kind: "event:user_enter_tempsession"},
			want: with(base("event"), func(m *wxcodec.Message) { m.Event = "user_enter_tempsession"; m.SessionFrom = "wxsim" }),
		},
		{
			name: "event:debug_demo",
			spec: Spec{Kind: "event:debug_demo", Content: `say "hi"`},
			want: with(base("event"), func(m *wxcodec.Message) {
				m.Event = "debug_demo"
				m.Extra = []wxcodec.Field{{Name: "debug_str", Value: raw(`"say \"hi\""`)}}
			}),
		},
		{
			name: "other event",
			spec: Spec{Kind: "event:weapp_audit_success"},
			want: with(base("event"), func(m *wxcodec.Message) { m.Event = "weapp_audit_success" }),
		},
		{
			name: "unknown MsgType",
			spec: Spec{Kind: "video"},
			want: with(base("video"), func(m *wxcodec.Message) {
				m.MsgID = msgID
				m.Extra = []wxcodec.Field{
					{Name: "MediaId", Value: raw(`"wxsim_video_` + msgID + `"`)},
					{Name: "Description", Value: raw(`"made up by wxsim"`)},
					{Name: "Detail", Value: raw(`{"Width":"640","Height":"360","Tag":["wxsim","made-up"]}`)},
				}
			}),
		},
	}
	for _, tt := range tests {
		for _, bid := range []int64{0, 42} {
			t.Run(tt.name+"/bid="+strconv.FormatInt(bid, 10), func(t *testing.T) {
				spec := tt.spec
				spec.OpenID, spec.To, spec.CreateTime, spec.MsgID, spec.BusinessID = openid, to, ct, msgID, bid
				want := tt.want
				if bid != 0 {
					want.BusinessID = "42"
				}
				got, err := spec.Message()
				if err != nil {
					t.Fatalf("Message() error: %v", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Message() mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestSpecMessageInvalid(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
	}{
		{"no kind", Spec{}},
		{"bare event", Spec{Kind: "event"}},
		{"empty event name", Spec{Kind: "event:"}},
		{"negative BusinessId", Spec{Kind: KindText, BusinessID: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.spec.Message(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Message(%+v) error = %v, want %v", tt.spec, err, ErrInvalid)
			}
		})
	}
}

// TestSignDecode checks that what Sign (wxcodec's EncodePush) produces
// decodes back to the same message in every format and mode, which also
// cross-checks the codec.
func TestSignDecode(t *testing.T) {
	signer := newTestSigner(t, "http://127.0.0.1:8080")
	codec, err := wxcodec.New(demo.AppID, demo.Token, demo.EncodingAESKey, anyMode)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1714112445, 0)
	for _, kind := range kinds {
		for _, f := range []wxcodec.Format{wxcodec.FormatXML, wxcodec.FormatJSON} {
			for _, mode := range []wxcodec.Mode{wxcodec.ModePlaintext, wxcodec.ModeCompatible, wxcodec.ModeSafe} {
				for _, bid := range []int64{0, 7} {
					name := kind + "/" + f.String() + "/" + mode.String() + "/bid=" + strconv.FormatInt(bid, 10)
					t.Run(name, func(t *testing.T) {
						spec := Spec{Kind: kind, Format: f, Mode: mode, OpenID: demo.OpenID, To: demo.OriginalID,
							BusinessID: bid, MsgID: NewMsgID(), Content: "x < y & ü"}
						req, err := signer.Sign(spec, now)
						if err != nil {
							t.Fatalf("Sign() error: %v", err)
						}
						push, err := codec.Decode(req.Query, req.Body)
						if err != nil {
							t.Fatalf("Decode(%q) error: %v", req.Body, err)
						}
						want, err := req.Spec.Message()
						if err != nil {
							t.Fatal(err)
						}
						if diff := cmp.Diff(want, push.Message); diff != "" {
							t.Errorf("Decode(Sign()) message mismatch (-want +got):\n%s", diff)
						}
						if push.Format != f || push.Mode != mode {
							t.Errorf("Decode(Sign()) = %v/%v, want %v/%v", push.Format, push.Mode, f, mode)
						}
						if want := strconv.FormatInt(now.Unix(), 10); req.Query.Timestamp != want || push.Message.CreateTime != now.Unix() {
							t.Errorf("timestamp %q, CreateTime %d, want %s", req.Query.Timestamp, push.Message.CreateTime, want)
						}
						if mode != wxcodec.ModePlaintext && req.Query.OpenID != demo.OpenID {
							t.Errorf("query openid = %q, want %q", req.Query.OpenID, demo.OpenID)
						}
					})
				}
			}
		}
	}
}

func TestSignDefaults(t *testing.T) {
	signer := newTestSigner(t, "http://127.0.0.1:8080")
	now := time.Unix(1714112445, 0)
	req, err := signer.Sign(Spec{Kind: KindMiniProgramPage}, now)
	if err != nil {
		t.Fatalf("Sign() error: %v", err)
	}
	// The demo app has a key: safe mode, which is all kfbridge accepts
	// from it by default.
	want := Spec{Kind: KindMiniProgramPage, Format: wxcodec.FormatXML, Mode: wxcodec.ModeSafe,
		CreateTime: now.Unix(), AppID: demo.AppID}
	if diff := cmp.Diff(want, req.Spec); diff != "" {
		t.Errorf("Sign() spec mismatch (-want +got):\n%s", diff)
	}
	plain, err := NewSigner("http://127.0.0.1:8080", App{AppID: "wxplain", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if req, err := plain.Sign(Spec{Kind: KindText}, now); err != nil {
		t.Errorf("Sign() for an app without a key: %v", err)
	} else if req.Spec.Mode != wxcodec.ModePlaintext {
		t.Errorf("Sign() for an app without a key: mode %v, want plaintext", req.Spec.Mode)
	}
	if got := req.ContentType(); got != "text/xml" {
		t.Errorf("ContentType() = %q, want text/xml", got)
	}
}

func TestSignErrors(t *testing.T) {
	plainOnly, err := NewSigner("http://127.0.0.1:8080", App{AppID: "wxother", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	demoSigner := newTestSigner(t, "http://127.0.0.1:8080")
	tests := []struct {
		name   string
		signer *Signer
		spec   Spec
		want   error
	}{
		{"no kind", demoSigner, Spec{}, ErrInvalid},
		{"bad format", demoSigner, Spec{Kind: KindText, Format: 9}, ErrInvalid},
		{"bad mode", demoSigner, Spec{Kind: KindText, Mode: 9}, ErrInvalid},
		{"safe without key", plainOnly, Spec{Kind: KindText, Mode: wxcodec.ModeSafe}, wxcodec.ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.signer.Sign(tt.spec, time.Now()); !errors.Is(err, tt.want) {
				t.Errorf("Sign(%+v) error = %v, want %v", tt.spec, err, tt.want)
			}
		})
	}
}

func TestNewSignerErrors(t *testing.T) {
	tests := []struct {
		name string
		url  string
		app  App
		want error
	}{
		{"relative URL", "127.0.0.1:8080", App{}, ErrInvalid},
		{"URL with query", "http://127.0.0.1:8080/?a=b", App{}, ErrInvalid},
		{"ftp URL", "ftp://127.0.0.1/", App{}, ErrInvalid},
		{"bad key", "http://127.0.0.1", App{AppID: "wxother", Token: "t", EncodingAESKey: "short"}, wxcodec.ErrKey},
		{"no token", "http://127.0.0.1", App{AppID: "wxother"}, wxcodec.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSigner(tt.url, tt.app); !errors.Is(err, tt.want) {
				t.Errorf("NewSigner(%q, %+v) error = %v, want %v", tt.url, tt.app, err, tt.want)
			}
		})
	}
}

func TestNewMsgID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewMsgID()
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("NewMsgID() = %q, want a positive int64", id)
		}
		seen[id] = true
	}
	if len(seen) < 100 {
		t.Errorf("NewMsgID() repeated itself: %d distinct of 100", len(seen))
	}
}

func TestParseFormatMode(t *testing.T) {
	formats := []struct {
		in   string
		want wxcodec.Format
		err  error
	}{
		{"xml", wxcodec.FormatXML, nil},
		{"json", wxcodec.FormatJSON, nil},
		{"XML", 0, ErrInvalid},
		{"", 0, ErrInvalid},
	}
	for _, tt := range formats {
		t.Run("format/"+tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("ParseFormat(%q) = %v, %v, want %v, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
	modes := []struct {
		in   string
		want wxcodec.Mode
		err  error
	}{
		{"plaintext", wxcodec.ModePlaintext, nil},
		{"compatible", wxcodec.ModeCompatible, nil},
		{"safe", wxcodec.ModeSafe, nil},
		{"aes", 0, ErrInvalid},
	}
	for _, tt := range modes {
		t.Run("mode/"+tt.in, func(t *testing.T) {
			got, err := ParseMode(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("ParseMode(%q) = %v, %v, want %v, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

// newTestSigner returns a Signer for the demo app addressing base.
func newTestSigner(tb testing.TB, base string) *Signer {
	tb.Helper()
	s, err := NewSigner(base, App{})
	if err != nil {
		tb.Fatalf("NewSigner(%q): %v", base, err)
	}
	return s
}

// anyMode makes a test's ingress codec accept pushes in every mode, as
// kfbridge does for an app configured with all of them.
var anyMode = wxcodec.WithModes(wxcodec.ModePlaintext, wxcodec.ModeCompatible, wxcodec.ModeSafe)
