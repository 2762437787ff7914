package wxsim

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kfbridge/kfbridge/internal/demo"
)

// upload uploads the placeholder image and returns its media id.
func (ts *testSim) upload(tb testing.TB) string {
	tb.Helper()
	m, err := ts.client.UploadImage(tb.Context(), ts.token(tb), "a.png", "image/png", PlaceholderImage())
	if err != nil {
		tb.Fatalf("UploadImage: %v", err)
	}
	return m.MediaID
}

func TestSendBodies(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	const user = "oUser1"
	mediaID := ts.upload(t)
	messages := []struct {
		name, msgtype, msg string
	}{
		{"text", "text", `{"msgtype":"text","text":{"content":"hello <a href=\"http://www.qq.com\" data-miniprogram-appid=\"wx\" data-miniprogram-path=\"p\">link</a>"}}`},
		{"image", "image", `{"msgtype":"image","image":{"media_id":"` + mediaID + `"}}`},
		{"link", "link", `{"msgtype":"link","link":{"title":"T","description":"D","url":"https://example.com/","thumb_url":"https://example.com/x.jpg"}}`},
		{"miniprogrampage", "miniprogrampage", `{"msgtype":"miniprogrampage","miniprogrampage":{"title":"T","pagepath":"pages/index/index?foo=bar","thumb_media_id":"` + mediaID + `"}}`},
		{"miniprogrampage with appid", "miniprogrampage", `{"msgtype":"miniprogrampage","miniprogrampage":{"title":"T","appid":"wxignored","pagepath":"p","thumb_media_id":"` + mediaID + `"}}`},
	}
	paths := []struct {
		name, bid, path, wantBody string // wantBody: the start wxapi writes
	}{
		{"custom/send", "0", "/cgi-bin/message/custom/send", `{"touser":"oUser1",`},
		{"business/send", "42", "/cgi-bin/message/custom/business/send", `{"touser":"oUser1","businessid":42,`},
	}
	for _, p := range paths {
		for _, m := range messages {
			t.Run(p.name+"/"+m.name, func(t *testing.T) {
				ts.RecordInteraction(demo.AppID, p.bid, user, kindText, time.Time{})
				tok := ts.token(t)
				if err := ts.client.Send(t.Context(), tok, sendReq(user, p.bid, m.msg)); err != nil {
					t.Fatalf("Send: %v", err)
				}
				all := ts.Delivered(demo.AppID)
				got := all[len(all)-1]
				if host, _, err := net.SplitHostPort(got.Remote); err != nil || !net.ParseIP(host).IsLoopback() {
					t.Errorf("Remote = %q, want the test client's loopback address", got.Remote)
				}
				want := Delivered{
					Remote: got.Remote,
					AppID:  demo.AppID, BusinessID: p.bid, OpenID: user, MsgType: m.msgtype,
					Body: []byte(p.wantBody + m.msg[1:]), Time: simT0, Token: tok, Path: p.path,
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Delivered (-want +got):\n%s", diff)
				}
			})
		}
	}
	if n := len(ts.Delivered(demo.AppID)); n != len(paths)*len(messages) {
		t.Errorf("len(Delivered) = %d, want %d", n, len(paths)*len(messages))
	}
}

func TestSendErrors(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	const user = "oUser1"
	ts.RecordInteraction(demo.AppID, "0", user, kindText, time.Time{})
	ts.RecordInteraction(demo.AppID, "7", user, kindText, time.Time{})
	mediaID := ts.upload(t)
	const main, business = "/cgi-bin/message/custom/send", "/cgi-bin/message/custom/business/send"
	text := `"msgtype":"text","text":{"content":"hi"}`
	tests := []struct {
		name       string
		path, body string
		want       int
	}{
		{"ok", main, `{"touser":"oUser1",` + text + `}`, CodeOK},
		{"ok business", business, `{"touser":"oUser1","businessid":7,` + text + `}`, CodeOK},
		{"businessid as digits", business, `{"touser":"oUser1","businessid":"7",` + text + `}`, CodeOK},
		{"business without businessid", business, `{"touser":"oUser1",` + text + `}`, CodeMissingParameter},
		{"business with businessid 0", business, `{"touser":"oUser1","businessid":0,` + text + `}`, CodeMissingParameter},
		{"business_id", business, `{"touser":"oUser1","business_id":7,` + text + `}`, CodeDataFormat},
		{"BusinessId", business, `{"touser":"oUser1","BusinessId":7,` + text + `}`, CodeDataFormat},
		{"businessid not a number", business, `{"touser":"oUser1","businessid":"seven",` + text + `}`, CodeDataFormat},
		{"businessid fraction", business, `{"touser":"oUser1","businessid":7.5,` + text + `}`, CodeDataFormat},
		{"businessid on the main path", main, `{"touser":"oUser1","businessid":7,` + text + `}`, CodeDataFormat},
		{"unknown nested field", main, `{"touser":"oUser1","msgtype":"text","text":{"content":"hi","format":"md"}}`, CodeDataFormat},
		{"customservice", main, `{"touser":"oUser1",` + text + `,"customservice":{"kf_account":"a@b"}}`, CodeDataFormat},
		{"not JSON", main, `touser=oUser1`, CodeDataFormat},
		{"wrong type", main, `{"touser":1,` + text + `}`, CodeDataFormat},
		{"empty body", main, ``, CodeEmptyPostData},
		{"msgtype video", main, `{"touser":"oUser1","msgtype":"video","video":{}}`, CodeDataFormat},
		{"msgtype news", main, `{"touser":"oUser1","msgtype":"news"}`, CodeInvalidMsgType},
		{"no msgtype", main, `{"touser":"oUser1","text":{"content":"hi"}}`, CodeInvalidMsgType},
		{"empty text", main, `{"touser":"oUser1","msgtype":"text","text":{"content":""}}`, CodeEmptyContent},
		{"no text", main, `{"touser":"oUser1","msgtype":"text"}`, CodeEmptyContent},
		{"text of 2048 bytes", main, `{"touser":"oUser1","msgtype":"text","text":{"content":"` + strings.Repeat("好", 682) + `xx"}}`, CodeOK},
		{"text of 2049 bytes", main, `{"touser":"oUser1","msgtype":"text","text":{"content":"` + strings.Repeat("好", 683) + `"}}`, CodeContentTooLong},
		{"image unknown media", main, `{"touser":"oUser1","msgtype":"image","image":{"media_id":"nope"}}`, CodeInvalidMediaID},
		{"image without media_id", main, `{"touser":"oUser1","msgtype":"image","image":{}}`, CodeMissingParameter},
		{"link without url", main, `{"touser":"oUser1","msgtype":"link","link":{"title":"T"}}`, CodeMissingParameter},
		{"link title too long", main, `{"touser":"oUser1","msgtype":"link","link":{"title":"` + strings.Repeat("t", 257) + `","url":"u"}}`, CodeTitleTooLong},
		{"link description too long", main, `{"touser":"oUser1","msgtype":"link","link":{"title":"t","description":"` + strings.Repeat("d", 1025) + `","url":"u"}}`, CodeDescTooLong},
		{"card without thumb", main, `{"touser":"oUser1","msgtype":"miniprogrampage","miniprogrampage":{"title":"T","pagepath":"p"}}`, CodeMissingParameter},
		{"card unknown thumb", main, `{"touser":"oUser1","msgtype":"miniprogrampage","miniprogrampage":{"title":"T","pagepath":"p","thumb_media_id":"nope"}}`, CodeInvalidMediaID},
		{"card ok", main, `{"touser":"oUser1","msgtype":"miniprogrampage","miniprogrampage":{"title":"T","pagepath":"p","thumb_media_id":"` + mediaID + `"}}`, CodeOK},
		{"unknown user", main, `{"touser":"oStranger",` + text + `}`, CodeInvalidOpenID},
		{"no user", main, `{` + text + `}`, CodeInvalidOpenID},
		{"user of another conversation", business, `{"touser":"oUser1","businessid":8,` + text + `}`, CodeOutOfWindow},
		{"GET", main, "", CodeRequirePOST},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.RecordInteraction(demo.AppID, "0", user, kindText, time.Time{}) // window never used up
			ts.RecordInteraction(demo.AppID, "7", user, kindText, time.Time{})
			method := http.MethodPost
			if tt.name == "GET" {
				method = http.MethodGet
			}
			if got := ts.rawCode(t, method, tt.path+"?access_token="+ts.token(t), tt.body); got != tt.want {
				t.Errorf("%s %.100s = %d, want %d", tt.path, tt.body, got, tt.want)
			}
		})
	}
}

func TestSendExpiredMedia(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	mediaID := ts.upload(t)
	msg := `{"msgtype":"image","image":{"media_id":"` + mediaID + `"}}`
	ts.Advance(72*time.Hour - time.Second)
	ts.RecordInteraction(demo.AppID, "0", "oUser1", kindText, time.Time{})
	if got := ts.send(t, "0", "oUser1", msg); got != CodeOK {
		t.Fatalf("send 1 s before the media expire = %d, want 0", got)
	}
	ts.Advance(time.Second)
	if got := ts.send(t, "0", "oUser1", msg); got != CodeInvalidMediaID {
		t.Errorf("send after 3 days = %d, want 40007", got)
	}
}

func TestSendWindows(t *testing.T) {
	const text = `{"msgtype":"text","text":{"content":"hi"}}`
	type step struct {
		interact string        // a kind to record first, "" for none
		bid      string        // of the interaction and the send
		advance  time.Duration // before the send
		want     int
	}
	ok := func(n int) []step {
		s := make([]step, n)
		for i := range s {
			s[i].want = CodeOK
		}
		return s
	}
	cat := func(parts ...[]step) []step {
		var all []step
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"event only: known user, no window", []step{{interact: "event:debug_demo", want: CodeOutOfWindow}}},
		{"message: 5 sends then 45047", cat(
			[]step{{interact: kindText, want: CodeOK}}, ok(4), []step{{want: CodeOutOfCount}})},
		{"message: window lasts 48 h", []step{
			{interact: kindImage, advance: 48*time.Hour - time.Second, want: CodeOK},
			{advance: time.Second, want: CodeOutOfWindow}}},
		{"a new message resets the count", cat(
			[]step{{interact: kindMiniProgramPage, want: CodeOK}}, ok(4),
			[]step{{interact: kindText, want: CodeOK}}, ok(4), []step{{want: CodeOutOfCount}})},
		{"enter session: 2 sends then 45047", []step{
			{interact: kindEnterTempSession, want: CodeOK}, {want: CodeOK}, {want: CodeOutOfCount}}},
		{"enter session: window lasts 1 minute", []step{
			{interact: kindEnterTempSession, advance: 59 * time.Second, want: CodeOK},
			{advance: time.Second, want: CodeOutOfWindow}}},
		{"event:user_enter_tempsession is the same", []step{
			{interact: "event:user_enter_tempsession", want: CodeOK}, {want: CodeOK}, {want: CodeOutOfCount}}},
		{"enter session keeps a longer message window", cat(
			[]step{{interact: kindText, want: CodeOK}},
			[]step{{interact: kindEnterTempSession, advance: 2 * time.Minute, want: CodeOK}},
			ok(3), []step{{want: CodeOutOfCount}})},
		{"enter session after a used-up window", cat(
			[]step{{interact: kindText, want: CodeOK}}, ok(4),
			[]step{{interact: kindEnterTempSession, want: CodeOK}, {want: CodeOK}, {want: CodeOutOfCount},
				{advance: time.Minute, want: CodeOutOfWindow}})},
		{"message after enter session", cat(
			[]step{{interact: kindEnterTempSession, want: CodeOK}, {interact: kindText, advance: time.Hour, want: CodeOK}},
			ok(4), []step{{want: CodeOutOfCount}})},
		{"sub-merchant conversations are apart", []step{
			{interact: kindText, bid: "9", want: CodeOK},
			{bid: "0", want: CodeOutOfWindow},
			{bid: "10", want: CodeOutOfWindow}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, SimConfig{})
			for i, st := range tt.steps {
				bid := st.bid
				if bid == "" {
					bid = "0"
				}
				if st.interact != "" {
					ts.RecordInteraction(demo.AppID, bid, "oUser1", st.interact, time.Time{})
				}
				ts.Advance(st.advance)
				if got := ts.send(t, bid, "oUser1", text); got != st.want {
					t.Fatalf("step %d (%+v): send = %d, want %d", i, st, got, st.want)
				}
			}
		})
	}
}

func TestTyping(t *testing.T) {
	const user = "oUser1"
	type step struct {
		interact string
		advance  time.Duration
		command  string // "send" sends a text instead
		bid      string
		want     int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"unknown user", []step{{command: "Typing", want: CodeInvalidOpenID}}},
		{"bad command", []step{{interact: kindText, command: "typing", want: CodeInvalidCommand}}},
		{"no window", []step{{interact: "event:debug_demo", command: "Typing", want: CodeOutOfWindow}}},
		{"interaction over 30 s ago", []step{
			{interact: kindText, advance: 30 * time.Second, command: "Typing", want: CodeOK},
			{command: "CancelTyping", want: CodeOK},
			{advance: time.Second, command: "Typing", want: CodeTypingNeedsMsg}}},
		{"typing while typing", []step{
			{interact: kindText, command: "Typing", want: CodeOK},
			{advance: 14 * time.Second, command: "Typing", want: CodeAlreadyTyping},
			{advance: time.Second, command: "Typing", want: CodeOK}}},
		{"CancelTyping ends it", []step{
			{interact: kindText, command: "Typing", want: CodeOK},
			{command: "CancelTyping", want: CodeOK},
			{command: "Typing", want: CodeOK}}},
		{"a send ends it", []step{
			{interact: kindEnterTempSession, command: "Typing", want: CodeOK},
			{command: "send", want: CodeOK},
			{command: "Typing", want: CodeOK}}},
		{"sub-merchant", []step{
			{interact: kindText, bid: "5", command: "Typing", want: CodeOK},
			{bid: "0", command: "Typing", want: CodeOutOfWindow}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, SimConfig{})
			accepted := 0
			for i, st := range tt.steps {
				bid := st.bid
				if bid == "" {
					bid = "0"
				}
				if st.interact != "" {
					ts.RecordInteraction(demo.AppID, bid, user, st.interact, time.Time{})
				}
				ts.Advance(st.advance)
				var got int
				if st.command == "send" {
					got = ts.send(t, bid, user, `{"msgtype":"text","text":{"content":"hi"}}`)
				} else {
					got = ts.typing(t, bid, user, st.command)
					if got == CodeOK {
						accepted++
					}
				}
				if got != st.want {
					t.Fatalf("step %d (%+v) = %d, want %d", i, st, got, st.want)
				}
			}
			if n := len(ts.Typing(demo.AppID)); n != accepted {
				t.Errorf("len(Typing) = %d, want %d", n, accepted)
			}
		})
	}
}

func TestTypingPaths(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	ts.RecordInteraction(demo.AppID, "0", "oUser1", kindText, time.Time{})
	ts.RecordInteraction(demo.AppID, "3", "oUser1", kindText, time.Time{})
	tok := ts.token(t)
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"mini program path", "/cgi-bin/message/custom/business/typing", `{"touser":"oUser1","command":"Typing"}`, CodeOK},
		{"official-account path", "/cgi-bin/message/custom/typing", `{"touser":"oUser1","command":"CancelTyping"}`, CodeOK},
		{"businessid", "/cgi-bin/message/custom/business/typing", `{"touser":"oUser1","command":"Typing","businessid":3}`, CodeOK},
		{"business_id", "/cgi-bin/message/custom/business/typing", `{"touser":"oUser1","command":"Typing","business_id":3}`, CodeDataFormat},
		{"empty", "/cgi-bin/message/custom/business/typing", ``, CodeEmptyPostData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ts.rawCode(t, http.MethodPost, tt.path+"?access_token="+tok, tt.body); got != tt.want {
				t.Errorf("POST %s %s = %d, want %d", tt.path, tt.body, got, tt.want)
			}
		})
	}
	calls := ts.Typing(demo.AppID)
	if len(calls) != 3 || calls[2].BusinessID != "3" || calls[1].Path != "/cgi-bin/message/custom/typing" || calls[0].Command != "Typing" {
		t.Errorf("Typing = %+v", calls)
	}
}

func TestSendQuotas(t *testing.T) {
	const text = `{"msgtype":"text","text":{"content":"hi"}}`
	tests := []struct {
		name     string
		cfg      SimConfig
		calls    int
		want     int
		advance  time.Duration
		thenWant int
	}{
		{"minute", SimConfig{MinuteQuota: 3}, 3, CodeMinuteQuota, time.Minute, CodeOK},
		{"day", SimConfig{MinuteQuota: -1, DailyQuota: 4}, 4, CodeDailyQuota, time.Hour, CodeDailyQuota},
		{"next day", SimConfig{MinuteQuota: -1, DailyQuota: 4}, 4, CodeDailyQuota, 14 * time.Hour, CodeOK},
		{"failed calls count", SimConfig{MinuteQuota: 2}, 2, CodeMinuteQuota, 0, CodeMinuteQuota},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, tt.cfg)
			for i := range tt.calls {
				user := "oUser1"
				if tt.name == "failed calls count" {
					user = "oStranger" // 40003, still counted
				}
				ts.RecordInteraction(demo.AppID, "0", "oUser1", kindText, time.Time{})
				if got := ts.send(t, "0", user, text); got != CodeOK && got != CodeInvalidOpenID {
					t.Fatalf("send %d = %d", i+1, got)
				}
			}
			ts.RecordInteraction(demo.AppID, "0", "oUser1", kindText, time.Time{})
			if got := ts.send(t, "0", "oUser1", text); got != tt.want {
				t.Fatalf("send %d = %d, want %d", tt.calls+1, got, tt.want)
			}
			ts.Advance(tt.advance)
			ts.RecordInteraction(demo.AppID, "0", "oUser1", kindText, time.Time{})
			if got := ts.send(t, "0", "oUser1", text); got != tt.thenWant {
				t.Errorf("after %s: send = %d, want %d", tt.advance, got, tt.thenWant)
			}
		})
	}
}

func TestUnknownPathAndMethods(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	tok := ts.token(t)
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown API", http.MethodPost, "/cgi-bin/message/custom/sendall", CodeInvalidURL},
		{"outside cgi-bin", http.MethodGet, "/", CodeInvalidURL},
		{"old typing path", http.MethodPost, "/cgi-bin/business/typing", CodeInvalidURL},
		{"GET send", http.MethodGet, "/cgi-bin/message/custom/send", CodeRequirePOST},
		{"GET typing", http.MethodGet, "/cgi-bin/message/custom/business/typing", CodeRequirePOST},
		{"GET upload", http.MethodGet, "/cgi-bin/media/upload", CodeRequirePOST},
		{"POST media/get", http.MethodPost, "/cgi-bin/media/get", CodeRequireGET},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ts.rawCode(t, tt.method, tt.path+"?access_token="+tok, ""); got != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, got, tt.want)
			}
		})
	}
	if n := ts.Calls().Count(endpointUnknown, CodeInvalidURL); n != 3 {
		t.Errorf("Calls().Count(unknown, 40066) = %d, want 3", n)
	}
}
