package ingress

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// metricValue returns the value of the sample line of /metrics that starts
// with series, or -1 when there is none.
func metricValue(t testing.TB, srv *Server, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return v
		}
	}
	return -1
}

// TestModes checks the modes an app accepts by default — exactly the one
// its key implies — and that a push in another mode gets 403 and is not
// stored: a plaintext push to an app with a key would be a forgery anyone
// who saw one push URL can make, since its signature does not cover the
// body.
func TestModes(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Apps = []config.App{
			{AppID: testAppID, Token: testToken, EncodingAESKey: testKey}, // default: safe only
			{AppID: "wxplain", Token: testToken},                          // default: plaintext only
			{AppID: "wxoptin", Token: testToken, EncodingAESKey: testKey, Modes: []string{"plaintext", "safe"}},
		}
	})
	sign := func(appid string, mode wxcodec.Mode, msgID int) (url.Values, []byte) {
		c, err := wxcodec.New(appid, testToken, testKey, wxcodec.WithModes(wxcodec.ModePlaintext))
		if err != nil {
			t.Fatal(err)
		}
		m := kinds()["text"]
		m.MsgID = strconv.Itoa(msgID)
		q, body, err := c.EncodePush(rand.Reader, wxcodec.FormatXML, mode, m, strconv.FormatInt(fixedNow.Unix(), 10), "1234567")
		if err != nil {
			t.Fatal(err)
		}
		return queryValues(q), body
	}
	tests := []struct {
		appid string
		mode  wxcodec.Mode
		want  int
	}{
		{testAppID, wxcodec.ModePlaintext, http.StatusForbidden},
		{testAppID, wxcodec.ModeCompatible, http.StatusForbidden},
		{testAppID, wxcodec.ModeSafe, http.StatusOK},
		{"wxplain", wxcodec.ModePlaintext, http.StatusOK},
		{"wxplain", wxcodec.ModeSafe, http.StatusForbidden},
		{"wxplain", wxcodec.ModeCompatible, http.StatusForbidden},
		{"wxoptin", wxcodec.ModePlaintext, http.StatusOK},
		{"wxoptin", wxcodec.ModeCompatible, http.StatusForbidden},
		{"wxoptin", wxcodec.ModeSafe, http.StatusOK},
	}
	var stored, refused uint64
	for i, tt := range tests {
		t.Run(tt.appid+"/"+tt.mode.String(), func(t *testing.T) {
			q, body := sign(tt.appid, tt.mode, 1000+i)
			status, answer := e.do(t, http.MethodPost, tt.appid, q, body)
			if status != tt.want {
				t.Fatalf("%v push to %s = %d %q, want %d", tt.mode, tt.appid, status, answer, tt.want)
			}
			if status == http.StatusOK {
				stored++
			} else {
				refused++
			}
			if got := e.count(t); got != stored {
				t.Errorf("stream holds %d events, want %d", got, stored)
			}
		})
	}
	var got float64
	for _, appid := range []string{testAppID, "wxplain", "wxoptin"} {
		if v := metricValue(t, e.srv, `kfbridge_ingress_rejected_total{appid="`+appid+`",reason="mode"}`); v > 0 {
			got += v
		}
	}
	if got != float64(refused) {
		t.Errorf("rejected_total{reason=mode} = %v, want %d", got, refused)
	}
}

// TestReplayStoredOnce replays one byte-identical safe-mode push, with the
// default ingress.timestamp_window and nats.streams.duplicate_window, at
// 0 s, 65 s and one minute inside the time its timestamp is accepted
// (which is 2 × the window when it first arrives with a timestamp a window
// ahead of the ingress's clock; with the defaults 9 of 10 minutes, well
// past the 65 s replay): it is stored once. Just outside, it is refused.
//
// The ingress's clock is the test's; JetStream's duplicate window runs on
// real time, so both windows are scaled down by the same factor — the
// stream's duplicate window is the default divided by scale, and each
// replay is sent after its offset divided by scale has passed in real time.
// The windows' ratio, which decides the outcome, is the configured one.
// With the defaults the last replay comes (11 − 9) min / scale = 4 s of real
// time before the duplicate window ends, so a stall of a loaded machine
// cannot make it look stored twice.
func TestReplayStoredOnce(t *testing.T) {
	const scale = 30 // 2 s of real time per minute of the ingress's clock
	def := config.Default()
	window := def.Ingress.TimestampWindow

	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	sc := events.InboundStream()
	sc.Duplicates = def.NATS.Streams.DuplicateWindow / scale
	stream, err := js.CreateOrUpdateStream(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := fixedNow
	srv, err := New(Config{
		Ingress:   def.Ingress,
		Apps:      []config.App{{AppID: testAppID, Token: testToken, EncodingAESKey: testKey}},
		JetStream: js,
		Now:       func() time.Time { mu.Lock(); defer mu.Unlock(); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	codec, err := wxcodec.New(testAppID, testToken, testKey)
	if err != nil {
		t.Fatal(err)
	}
	// WeChat's clock is a whole window ahead of the ingress's: the push is
	// accepted now and until its timestamp is a window behind.
	ts := strconv.FormatInt(fixedNow.Add(window).Unix(), 10)
	q, body, err := codec.EncodePush(rand.Reader, wxcodec.FormatXML, wxcodec.ModeSafe, kinds()["text"], ts, "1234567")
	if err != nil {
		t.Fatal(err)
	}
	query := queryValues(q).Encode()
	send := func(at time.Duration) int {
		mu.Lock()
		clock = fixedNow.Add(at)
		mu.Unlock()
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wx/"+testAppID+"?"+query, strings.NewReader(string(body))))
		return rec.Code
	}
	stored := func() uint64 {
		info, err := stream.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}

	if status := send(0); status != http.StatusOK || stored() != 1 {
		t.Fatalf("first push: %d, %d stored; want 200, 1", status, stored())
	}
	first := time.Now() // at or after JetStream stored it
	for _, at := range []time.Duration{0, 65 * time.Second, 2*window - time.Minute} {
		// Real time must pass for JetStream's window; nothing else is
		// being waited for.
		select {
		case <-time.After(time.Until(first.Add(at / scale))):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
		if status := send(at); status != http.StatusOK {
			t.Errorf("replay at +%v: %d, want 200", at, status)
		}
		if n := stored(); n != 1 {
			t.Errorf("replay at +%v (real +%v): the push is stored %d times, want once", at, time.Since(first).Round(time.Millisecond), n)
		}
	}
	if status := send(2*window + time.Second); status != http.StatusUnauthorized {
		t.Errorf("replay at +%v: %d, want 401 (timestamp)", 2*window+time.Second, status)
	}
}

// TestRotationMidLoad rotates an app's token and key while WeChat pushes:
// pushes signed and encrypted with the old secrets, the new ones and a mix
// go through the real handler concurrently, with URL verifications, and
// none is rejected; each encrypted transfer reply is signed and encrypted
// with the secrets of its push, so that WeChat reads it; the pushes that
// needed an old secret are counted.
func TestRotationMidLoad(t *testing.T) {
	const (
		oldToken = "oldtoken"
		oldKey   = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
	)
	e := newEnv(t, func(c *Config) {
		c.Apps = []config.App{{AppID: testAppID, Token: testToken, EncodingAESKey: testKey,
			PreviousToken: oldToken, PreviousEncodingAESKey: oldKey, PassiveReply: config.ReplyTransfer}}
	})
	type sender struct {
		name     string
		signer   *wxpush.Signer
		previous bool
	}
	var senders []sender
	for _, s := range []struct {
		name, token, key string
	}{
		{"new", testToken, testKey},
		{"old", oldToken, oldKey},
		{"new token, old key", testToken, oldKey},
		{"old token, new key", oldToken, testKey},
	} {
		signer, err := wxpush.NewSigner("http://ingress", wxpush.App{AppID: testAppID, Token: s.token, EncodingAESKey: s.key})
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, sender{s.name, signer, s.token != testToken || s.key != testKey})
	}
	const workers, perWorker = 8, 40
	var previous, pushes atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				s := senders[(w+i)%len(senders)]
				if i%5 == 4 { // a URL verification now and then, with either token
					token := testToken
					if s.previous && w%2 == 0 {
						token = oldToken
					}
					ts, nonce := strconv.FormatInt(fixedNow.Unix(), 10), strconv.Itoa(w*1000+i)
					q := url.Values{"signature": {wxcodec.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {"echo" + nonce}}
					if status, body := e.do(t, http.MethodGet, testAppID, q, nil); status != http.StatusOK || body != "echo"+nonce {
						t.Errorf("GET verify with %s token = %d %q, want 200 echo%s", s.name, status, body, nonce)
					}
					continue
				}
				spec := wxpush.Spec{Kind: wxpush.KindText, Format: wxcodec.Format(1 + i%2), Mode: wxcodec.ModeSafe,
					OpenID: fmt.Sprintf("oRot%d", w), To: "gh_97417a04a28d", MsgID: strconv.Itoa(8_000_000 + w*1000 + i)}
				req, err := s.signer.Sign(spec, fixedNow)
				if err != nil {
					t.Error(err)
					return
				}
				r := httptest.NewRequest(http.MethodPost, req.URL, strings.NewReader(string(req.Body)))
				r.Header.Set("Content-Type", req.ContentType())
				rec := httptest.NewRecorder()
				e.srv.Handler().ServeHTTP(rec, r)
				answer, err := s.signer.CheckAnswer(req, rec.Code, rec.Body.Bytes())
				if err != nil || answer != wxpush.AnswerTransferEncrypted {
					t.Errorf("push with %s secrets: %s, %v; want an encrypted transfer WeChat reads", s.name, answer, err)
				}
				pushes.Add(1)
				if s.previous {
					previous.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := e.count(t); got != uint64(pushes.Load()) {
		t.Errorf("stream holds %d events, want %d", got, pushes.Load())
	}
	if got := metricValue(t, e.srv, `kfbridge_ingress_previous_secret_pushes_total{appid="`+testAppID+`"}`); got != float64(previous.Load()) {
		t.Errorf("previous_secret_pushes_total = %v, want %d", got, previous.Load())
	}
	if got := metricSum(t, e.srv, "kfbridge_ingress_rejected_total"); got != 0 {
		t.Errorf("%v requests rejected during the rotation, want 0", got)
	}
}

// metricSum returns the sum of every sample of the metric name.
func metricSum(t testing.TB, srv *Server, name string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var sum float64
	for line := range strings.Lines(rec.Body.String()) {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndexByte(line, ' ')+1:]), 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
