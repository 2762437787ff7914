package wxsim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
)

// control calls a control endpoint and decodes its JSON answer into out
// (unless nil); it returns the HTTP status.
func (ts *testSim) control(tb testing.TB, method, pathQuery, body string, out any) int {
	tb.Helper()
	status, hdr, b := ts.raw(tb, method, pathQuery, "application/json", []byte(body))
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s %s: Content-Type %q, want application/json", method, pathQuery, ct)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: answer %s: %v", method, pathQuery, b, err)
		}
	}
	return status
}

func TestControlInteraction(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	const text = `{"msgtype":"text","text":{"content":"hi"}}`
	tests := []struct {
		name, body string
		status     int
	}{
		{"ok", `{"appid":"` + demo.AppID + `","bid":"0","openid":"oA","kind":"text"}`, http.StatusOK},
		{"numeric bid", `{"appid":"` + demo.AppID + `","bid":12,"openid":"oB","kind":"image"}`, http.StatusOK},
		{"no bid", `{"appid":"` + demo.AppID + `","openid":"oC","kind":"user_enter_tempsession"}`, http.StatusOK},
		{"with time", `{"appid":"` + demo.AppID + `","openid":"oD","kind":"text","time":"` + simT0.Add(-47*time.Hour).Format(time.RFC3339) + `"}`, http.StatusOK},
		{"unknown app", `{"appid":"wxnobody","openid":"oA","kind":"text"}`, http.StatusBadRequest},
		{"no openid", `{"appid":"` + demo.AppID + `","kind":"text"}`, http.StatusBadRequest},
		{"no kind", `{"appid":"` + demo.AppID + `","openid":"oA"}`, http.StatusBadRequest},
		{"bad bid", `{"appid":"` + demo.AppID + `","bid":"x","openid":"oA","kind":"text"}`, http.StatusBadRequest},
		{"unknown field", `{"appid":"` + demo.AppID + `","openid":"oA","kind":"text","msg":1}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var answer map[string]any
			if got := ts.control(t, http.MethodPost, PathInteraction, tt.body, &answer); got != tt.status {
				t.Errorf("POST %s %s = %d %v, want %d", PathInteraction, tt.body, got, answer, tt.status)
			}
			if tt.status != http.StatusOK && answer["error"] == nil {
				t.Errorf("answer %v has no error", answer)
			}
		})
	}
	sends := []struct {
		bid, openid string
		want        int
	}{
		{"0", "oA", CodeOK},
		{"12", "oB", CodeOK},
		{"0", "oB", CodeOutOfWindow},
		{"0", "oC", CodeOK},
		{"0", "oD", CodeOK}, // 47 h ago: 1 h left
	}
	for _, s := range sends {
		if got := ts.send(t, s.bid, s.openid, text); got != s.want {
			t.Errorf("send to %s/%s = %d, want %d", s.bid, s.openid, got, s.want)
		}
	}
	ts.Advance(time.Hour)
	if got := ts.send(t, "0", "oD", text); got != CodeOutOfWindow {
		t.Errorf("send to oD 48 h after its message = %d, want 45015", got)
	}
	if c := ts.Calls(); c.Interactions != 4 {
		t.Errorf("Calls().Interactions = %d, want 4", c.Interactions)
	}
}

func TestControlEndpoints(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	const text = `{"msgtype":"text","text":{"content":"hi"}}`
	ts.RecordInteraction(demo.AppID, "0", "oA", kindText, time.Time{})
	ts.RecordInteraction(demo.AppID, "0", "oB", kindText, time.Time{})
	for _, u := range []string{"oA", "oB", "oA"} {
		if got := ts.send(t, "0", u, text); got != CodeOK {
			t.Fatalf("send to %s = %d", u, got)
		}
	}
	if got := ts.typing(t, "0", "oB", "Typing"); got != CodeOK {
		t.Fatalf("typing = %d", got)
	}

	var delivered []Delivered
	ts.control(t, http.MethodGet, PathDelivered+"?appid="+demo.AppID+"&openid=oA", "", &delivered)
	if len(delivered) != 2 || delivered[0].OpenID != "oA" || string(delivered[0].Body) != `{"touser":"oA","msgtype":"text","text":{"content":"hi"}}` {
		t.Errorf("GET %s?openid=oA = %+v, want 2 messages to oA", PathDelivered, delivered)
	}
	ts.control(t, http.MethodGet, PathDelivered, "", &delivered)
	if len(delivered) != 3 {
		t.Errorf("GET %s = %d messages, want 3", PathDelivered, len(delivered))
	}
	ts.control(t, http.MethodGet, PathDelivered+"?appid=wxnobody", "", &delivered)
	if delivered == nil || len(delivered) != 0 {
		t.Errorf("GET %s?appid=wxnobody = %v, want []", PathDelivered, delivered)
	}
	var typing []TypingCall
	ts.control(t, http.MethodGet, PathTyping+"?openid=oB", "", &typing)
	if len(typing) != 1 || typing[0].Command != "Typing" {
		t.Errorf("GET %s = %+v, want one Typing", PathTyping, typing)
	}

	var stats CallStats
	ts.control(t, http.MethodGet, PathStats, "", &stats)
	if stats.Count("/cgi-bin/message/custom/send", 0) != 3 || stats.StableTokens != 1 || stats.Total("/cgi-bin/stable_token") != 4 {
		t.Errorf("GET %s = %+v, want 3 sends, 1 stable token, 4 fetches", PathStats, stats)
	}

	var clock struct{ Now time.Time }
	if got := ts.control(t, http.MethodPost, PathAdvance+"?d=72h", "", &clock); got != http.StatusOK || !clock.Now.Equal(simT0.Add(72*time.Hour)) {
		t.Errorf("POST %s?d=72h = %d, now %v; want %v", PathAdvance, got, clock.Now, simT0.Add(72*time.Hour))
	}
	ts.control(t, http.MethodGet, PathClock, "", &clock)
	if !ts.Now().Equal(clock.Now) || !clock.Now.Equal(simT0.Add(72*time.Hour)) {
		t.Errorf("GET %s = %v, want %v", PathClock, clock.Now, ts.Now())
	}
	for _, bad := range []string{"", "?d=-1h", "?d=soon"} {
		if got := ts.control(t, http.MethodPost, PathAdvance+bad, "", nil); got != http.StatusBadRequest {
			t.Errorf("POST %s%s = %d, want 400", PathAdvance, bad, got)
		}
	}
	if got := ts.send(t, "0", "oA", text); got != CodeOutOfWindow {
		t.Errorf("send 72 h later = %d, want 45015", got)
	}

	var f map[string]any
	if got := ts.control(t, http.MethodPut, PathFaults, `{"latency":"0s","fail_rate":1}`, &f); got != http.StatusOK || f["fail_rate"] != 1.0 || f["latency"] != "0s" {
		t.Errorf("PUT %s = %d %v", PathFaults, got, f)
	}
	if got := ts.send(t, "0", "oA", text); got != CodeSystemError {
		t.Errorf("send with fail rate 1 = %d, want -1", got)
	}
	if got := ts.control(t, http.MethodPut, PathFaults, `{"http5xx_rate":0.5}`, &f); got != http.StatusOK || f["fail_rate"] != 1.0 || f["http5xx_rate"] != 0.5 {
		t.Errorf("PUT %s (partial) = %d %v, want fail_rate kept", PathFaults, got, f)
	}
	if got := ts.control(t, http.MethodPut, PathFaults, `{"latency":250}`, &f); got != http.StatusOK || f["latency"] != "250ms" {
		t.Errorf("PUT %s latency 250 = %d %v, want 250ms", PathFaults, got, f)
	}
	for _, bad := range []string{`{"fail_rate":2}`, `{"latency":"-1s"}`, `{"failrate":1}`, `nope`} {
		if got := ts.control(t, http.MethodPut, PathFaults, bad, nil); got != http.StatusBadRequest {
			t.Errorf("PUT %s %s = %d, want 400", PathFaults, bad, got)
		}
	}
	ts.control(t, http.MethodGet, PathFaults, "", &f)
	if f["fail_rate"] != 1.0 || f["http5xx_rate"] != 0.5 {
		t.Errorf("GET %s = %v after rejected PUTs, want them unchanged", PathFaults, f)
	}
	if got := ts.control(t, http.MethodGet, "/sim/nothing", "", nil); got != http.StatusNotFound {
		t.Errorf("GET /sim/nothing = %d, want 404", got)
	}
	if got := ts.control(t, http.MethodGet, PathInteraction, "", nil); got != http.StatusNotFound {
		t.Errorf("GET %s = %d, want 404", PathInteraction, got)
	}
}

func TestControlMedia(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	img := PlaceholderImage()
	body, _ := json.Marshal(map[string]any{"appid": demo.AppID, "media_id": "pushed-1", "data": img})
	if got := ts.control(t, http.MethodPost, PathMedia, string(body), nil); got != http.StatusOK {
		t.Fatalf("POST %s = %d", PathMedia, got)
	}
	data, ct, err := ts.client.GetMedia(t.Context(), ts.token(t), "pushed-1", 1<<20)
	if err != nil || string(data) != string(img) || ct != "image/png" {
		t.Errorf("GetMedia = %d bytes of %s, %v; want the PNG", len(data), ct, err)
	}
	for _, bad := range []string{`{"appid":"wxnobody","media_id":"m"}`, `{"appid":"` + demo.AppID + `"}`} {
		if got := ts.control(t, http.MethodPost, PathMedia, bad, nil); got != http.StatusBadRequest {
			t.Errorf("POST %s %s = %d, want 400", PathMedia, bad, got)
		}
	}
}
