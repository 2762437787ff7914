package wxsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
)

func TestClassicTokenErrors(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	q := func(grant, appid, secret string) string {
		v := url.Values{}
		for k, s := range map[string]string{"grant_type": grant, "appid": appid, "secret": secret} {
			if s != "" {
				v.Set(k, s)
			}
		}
		return "/cgi-bin/token?" + v.Encode()
	}
	tests := []struct {
		name      string
		method    string
		pathQuery string
		want      int
	}{
		{"ok", http.MethodGet, q("client_credential", demo.AppID, demo.Secret), CodeOK},
		{"grant_type", http.MethodGet, q("password", demo.AppID, demo.Secret), CodeInvalidGrantType},
		{"no grant_type", http.MethodGet, q("", demo.AppID, demo.Secret), CodeInvalidGrantType},
		{"no appid", http.MethodGet, q("client_credential", "", demo.Secret), CodeAppIDMissing},
		{"unknown appid", http.MethodGet, q("client_credential", "wxnobody", demo.Secret), CodeInvalidAppID},
		{"no secret", http.MethodGet, q("client_credential", demo.AppID, ""), CodeSecretMissing},
		{"wrong secret", http.MethodGet, q("client_credential", demo.AppID, "guess"), CodeInvalidCredential},
		{"POST", http.MethodPost, q("client_credential", demo.AppID, demo.Secret), CodeRequireGET},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ts.rawCode(t, tt.method, tt.pathQuery, ""); got != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.pathQuery, got, tt.want)
			}
		})
	}
	// The same through the bridge's client.
	if _, err := ts.client.ClassicToken(t.Context(), demo.AppID, "guess"); codeOf(t, err) != CodeInvalidCredential {
		t.Errorf("ClassicToken(wrong secret) = %v, want 40001", err)
	}
	if _, err := ts.client.ClassicToken(t.Context(), "wxnobody", demo.Secret); codeOf(t, err) != CodeInvalidAppID {
		t.Errorf("ClassicToken(unknown appid) = %v, want 40013", err)
	}
}

func TestClassicTokenOverlap(t *testing.T) {
	ts := newTestSim(t, SimConfig{TokenOverlap: 5 * time.Minute})
	ctx := t.Context()
	t1, err := ts.client.ClassicToken(ctx, demo.AppID, demo.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if t1.ExpiresIn != 7200 || len(t1.AccessToken) < 100 {
		t.Errorf("ClassicToken = %d chars, expires_in %d; want ≥ 100 chars, 7200", len(t1.AccessToken), t1.ExpiresIn)
	}
	ts.Advance(time.Hour)
	t2, err := ts.client.ClassicToken(ctx, demo.AppID, demo.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if t2.AccessToken == t1.AccessToken || t2.ExpiresIn != 7200 {
		t.Fatalf("second ClassicToken = same token or expires_in %d; want a new one with 7200", t2.ExpiresIn)
	}
	steps := []struct {
		advance  time.Duration
		old, new int
	}{
		{0, CodeMediaIDMissing, CodeMediaIDMissing},                           // both valid during the overlap
		{5*time.Minute - time.Second, CodeMediaIDMissing, CodeMediaIDMissing}, // still within it
		{time.Second, CodeInvalidCredential, CodeMediaIDMissing},              // overlap over: old one superseded
		{2 * time.Hour, CodeInvalidCredential, CodeTokenExpired},              // new one past 7200 s
	}
	for i, st := range steps {
		ts.Advance(st.advance)
		if got := ts.probe(t, t1.AccessToken); got != st.old {
			t.Errorf("step %d: old token = %d, want %d", i, got, st.old)
		}
		if got := ts.probe(t, t2.AccessToken); got != st.new {
			t.Errorf("step %d: new token = %d, want %d", i, got, st.new)
		}
	}
	if c := ts.Calls(); c.ClassicTokens != 2 {
		t.Errorf("Calls().ClassicTokens = %d, want 2", c.ClassicTokens)
	}
}

func TestClassicTokenDailyQuota(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	h := ts.Handler()
	path := "/cgi-bin/token?grant_type=client_credential&appid=" + demo.AppID + "&secret=" + demo.Secret
	fetch := func() string {
		rec := newRecorder()
		h.ServeHTTP(rec, newRequest(t, http.MethodGet, path, ""))
		return rec.Body.String()
	}
	for i := range classicDailyLimit {
		if b := fetch(); !strings.Contains(b, "access_token") {
			t.Fatalf("fetch %d = %s, want a token", i+1, b)
		}
	}
	if b := fetch(); !strings.Contains(b, `"errcode":45009`) {
		t.Fatalf("fetch %d = %s, want 45009", classicDailyLimit+1, b)
	}
	ts.Advance(14 * time.Hour) // past midnight in Beijing
	if b := fetch(); !strings.Contains(b, "access_token") {
		t.Fatalf("fetch on the next day = %s, want a token", b)
	}
}

func TestStableToken(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	ctx := t.Context()
	get := func(force bool) (string, int) {
		t.Helper()
		tok, err := ts.client.StableToken(ctx, demo.AppID, demo.Secret, force)
		if err != nil {
			t.Fatalf("StableToken(force %v): %v", force, err)
		}
		return tok.AccessToken, tok.ExpiresIn
	}
	a, exp := get(false)
	if exp != 7200 || len(a) < 100 {
		t.Fatalf("first = %d chars, expires_in %d; want ≥ 100, 7200", len(a), exp)
	}
	ts.Advance(time.Hour)
	if b, exp := get(false); b != a || exp != 3600 {
		t.Fatalf("an hour later = same %v, expires_in %d; want the same token with 3600", b == a, exp)
	}

	// 300 s before expiry: still the same; less than that: rotated, and
	// the old token stays valid until its own expiry.
	ts.Advance(time.Hour - 300*time.Second)
	if b, exp := get(false); b != a || exp != 300 {
		t.Fatalf("at 300 s left = same %v, expires_in %d; want the same token with 300", b == a, exp)
	}
	ts.Advance(time.Second)
	b, exp := get(false)
	if b == a || exp != 7200 {
		t.Fatalf("at 299 s left = same %v, expires_in %d; want a new token with 7200", b == a, exp)
	}
	if got := ts.probe(t, a); got != CodeMediaIDMissing {
		t.Errorf("old token after rotation = %d, want usable (41006)", got)
	}
	ts.Advance(299 * time.Second)
	if got := ts.probe(t, a); got != CodeTokenExpired {
		t.Errorf("old token at its expiry = %d, want 42001", got)
	}
	if c, _ := get(false); c != b {
		t.Errorf("after the old one expired: token changed, want the rotated one")
	}
	if c := ts.Calls(); c.StableTokens != 2 || c.ForcedRefreshes != 0 {
		t.Errorf("Calls() = %d stable tokens, %d forced; want 2, 0", c.StableTokens, c.ForcedRefreshes)
	}
}

func TestStableTokenForce(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	ctx := t.Context()
	get := func(force bool) string {
		t.Helper()
		tok, err := ts.client.StableToken(ctx, demo.AppID, demo.Secret, force)
		if err != nil {
			t.Fatalf("StableToken(force %v): %v", force, err)
		}
		return tok.AccessToken
	}
	a := get(false)
	b := get(true)
	if b == a {
		t.Fatal("force_refresh answered the same token")
	}
	if got := ts.probe(t, a); got != CodeInvalidCredential {
		t.Errorf("token before a force = %d, want 40001 at once", got)
	}
	ts.Advance(29 * time.Second)
	if c := get(true); c != b {
		t.Error("force 29 s after the last refreshed; want the current token")
	}
	ts.Advance(time.Second)
	c := get(true)
	if c == b {
		t.Error("force 30 s after the last did not refresh")
	}
	if got := ts.probe(t, b); got != CodeInvalidCredential {
		t.Errorf("token before the second force = %d, want 40001", got)
	}
	// 20 forces a day: 2 done, 18 more, then 45009.
	for i := range 18 {
		ts.Advance(30 * time.Second)
		if d := get(true); d == c {
			t.Fatalf("force %d did not refresh", i+3)
		}
		c = get(false)
	}
	ts.Advance(30 * time.Second)
	_, err := ts.client.StableToken(ctx, demo.AppID, demo.Secret, true)
	if got := codeOf(t, err); got != CodeDailyQuota {
		t.Errorf("force 21 = %d, want 45009", got)
	}
	if d := get(false); d != c {
		t.Error("normal call after the force quota changed the token")
	}
	if st := ts.Calls(); st.ForcedRefreshes != 20 {
		t.Errorf("Calls().ForcedRefreshes = %d, want 20", st.ForcedRefreshes)
	}
	ts.Advance(24 * time.Hour)
	if d := get(true); d == c {
		t.Error("force on the next day did not refresh")
	}
}

func TestTokenIsolation(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	ctx := t.Context()
	stable, err := ts.client.StableToken(ctx, demo.AppID, demo.Secret, false)
	if err != nil {
		t.Fatal(err)
	}
	classic, err := ts.client.ClassicToken(ctx, demo.AppID, demo.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.ClassicToken(ctx, demo.AppID, demo.Secret); err != nil {
		t.Fatal(err)
	}
	ts.Advance(10 * time.Minute) // first classic token superseded
	if got := ts.probe(t, stable.AccessToken); got != CodeMediaIDMissing {
		t.Errorf("stable token after classic fetches = %d, want usable", got)
	}
	if got := ts.probe(t, classic.AccessToken); got != CodeInvalidCredential {
		t.Errorf("superseded classic token = %d, want 40001", got)
	}
	latest, err := ts.client.ClassicToken(ctx, demo.AppID, demo.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.StableToken(ctx, demo.AppID, demo.Secret, true); err != nil {
		t.Fatal(err)
	}
	if got := ts.probe(t, latest.AccessToken); got != CodeMediaIDMissing {
		t.Errorf("classic token after a forced stable refresh = %d, want usable", got)
	}
}

func TestStableTokenErrors(t *testing.T) {
	ts := newTestSim(t, SimConfig{Apps: map[string]string{"wxapp1": "s1", "wxapp2": "s2"}})
	body := func(extra string) string {
		return `{"grant_type":"client_credential","appid":"wxapp1","secret":"s1"` + extra + `}`
	}
	tests := []struct {
		name   string
		method string
		body   string
		want   int
	}{
		{"ok", http.MethodPost, body(""), CodeOK},
		{"force false", http.MethodPost, body(`,"force_refresh":false`), CodeOK},
		{"GET", http.MethodGet, "", CodeRequirePOST},
		{"empty", http.MethodPost, "", CodeEmptyPostData},
		{"not JSON", http.MethodPost, "grant_type=client_credential", CodeDataFormat},
		{"trailing data", http.MethodPost, body("") + "{}", CodeDataFormat},
		{"unknown field", http.MethodPost, body(`,"forceRefresh":true`), CodeDataFormat},
		{"field of other case", http.MethodPost, `{"grant_type":"client_credential","AppID":"wxapp1","secret":"s1"}`, CodeDataFormat},
		{"force as string", http.MethodPost, body(`,"force_refresh":"true"`), CodeDataFormat},
		{"grant_type", http.MethodPost, `{"grant_type":"x","appid":"wxapp1","secret":"s1"}`, CodeInvalidGrantType},
		{"unknown appid", http.MethodPost, `{"grant_type":"client_credential","appid":"wxother","secret":"s1"}`, CodeInvalidAppID},
		{"secret of another app", http.MethodPost, `{"grant_type":"client_credential","appid":"wxapp1","secret":"s2"}`, CodeInvalidCredential},
		{"no secret", http.MethodPost, `{"grant_type":"client_credential","appid":"wxapp1"}`, CodeSecretMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ts.rawCode(t, tt.method, "/cgi-bin/stable_token", tt.body); got != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.body, got, tt.want)
			}
		})
	}
}

func TestAccessTokenCheck(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	ts.RecordInteraction(demo.AppID, "0", demo.OpenID, kindText, time.Time{})
	good := ts.token(t)
	ts.Advance(2 * time.Hour)
	expired := good
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"missing", "", CodeTokenMissing},
		{"malformed", "not-a-token", CodeInvalidToken},
		{"malformed long", strings.Repeat("x", 150), CodeInvalidToken},
		{"unknown", tokenPrefix + strings.Repeat("A", 128), CodeInvalidCredential},
		{"expired", expired, CodeTokenExpired},
		{"fresh", ts.token(t), CodeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ts.client.Send(t.Context(), tt.token, sendReq(demo.OpenID, "0", `{"msgtype":"text","text":{"content":"hi"}}`))
			if got := codeOf(t, err); got != tt.want {
				t.Errorf("Send with %s token = %d, want %d", tt.name, got, tt.want)
			}
		})
	}
}
