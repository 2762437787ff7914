package wxsim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

func TestFaults(t *testing.T) {
	const text = `{"msgtype":"text","text":{"content":"hi"}}`
	tests := []struct {
		name       string
		faults     Faults
		wantToken  int // errcode of StableToken, CodeHTTP502 for a 502
		wantSend   int
		wantUpload int
	}{
		{"none", Faults{}, CodeOK, CodeOK, CodeOK},
		{"fail rate 1", Faults{FailRate: 1}, CodeOK, CodeSystemError, CodeSystemError},
		{"HTTP 5xx rate 1", Faults{HTTP5xxRate: 1}, CodeOK, CodeHTTP502, CodeHTTP502},
		{"token fail rate 1", Faults{TokenFailRate: 1}, CodeSystemError, CodeOK, CodeOK},
		{"token HTTP 5xx rate 1", Faults{TokenHTTP5xxRate: 1}, CodeHTTP502, CodeOK, CodeOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestSim(t, SimConfig{})
			ts.RecordInteraction(demo.AppID, "0", "oUser1", kindText, time.Time{})
			tok := ts.token(t) // before the faults
			if err := ts.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			_, err := ts.client.StableToken(t.Context(), demo.AppID, demo.Secret, false)
			if got := faultCode(t, err); got != tt.wantToken {
				t.Errorf("StableToken = %d, want %d", got, tt.wantToken)
			}
			err = ts.client.Send(t.Context(), tok, sendReq("oUser1", "0", text))
			if got := faultCode(t, err); got != tt.wantSend {
				t.Errorf("Send = %d, want %d", got, tt.wantSend)
			}
			_, err = ts.client.UploadImage(t.Context(), tok, "a.png", "", PlaceholderImage())
			if got := faultCode(t, err); got != tt.wantUpload {
				t.Errorf("UploadImage = %d, want %d", got, tt.wantUpload)
			}
			// A failed send has no effect.
			wantDelivered := 0
			if tt.wantSend == CodeOK {
				wantDelivered = 1
			}
			if n := len(ts.Delivered(demo.AppID)); n != wantDelivered {
				t.Errorf("len(Delivered) = %d, want %d", n, wantDelivered)
			}
			if n := ts.Calls().Count("/cgi-bin/message/custom/send", tt.wantSend); n != 1 {
				t.Errorf("Calls().Count(send, %d) = %d, want 1", tt.wantSend, n)
			}
		})
	}
}

// faultCode returns the errcode of err, or CodeHTTP502 for a 502.
func faultCode(tb testing.TB, err error) int {
	tb.Helper()
	var te *wxapi.TransportError
	if errors.As(err, &te) {
		if te.Status != http.StatusBadGateway {
			tb.Fatalf("transport error %v, want HTTP 502", err)
		}
		return CodeHTTP502
	}
	return codeOf(tb, err)
}

func TestFaultsAreSeeded(t *testing.T) {
	outcomes := func(seed uint64) string {
		ts := newTestSim(t, SimConfig{Seed: seed, FailRate: 0.3, HTTP5xxRate: 0.2})
		var b strings.Builder
		h := ts.Handler()
		for range 64 {
			rec := newRecorder()
			h.ServeHTTP(rec, newRequest(t, http.MethodGet, "/cgi-bin/media/get", ""))
			switch {
			case rec.Code == http.StatusBadGateway:
				b.WriteByte('5')
			case strings.Contains(rec.Body.String(), `"errcode":-1`):
				b.WriteByte('x')
			default:
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b, c := outcomes(1), outcomes(1), outcomes(2)
	if a != b {
		t.Errorf("seed 1 gave %s, then %s", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 both gave %s", a)
	}
	if !strings.Contains(a, "5") || !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Errorf("seed 1 gave %s, want a mix of 502, -1 and answers", a)
	}
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := NewSim(SimConfig{Latency: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		h := sim.Handler()
		start := time.Now()
		rec := newRecorder()
		h.ServeHTTP(rec, newRequest(t, http.MethodGet, "/cgi-bin/token?grant_type=client_credential&appid="+demo.AppID+"&secret="+demo.Secret, ""))
		if d := time.Since(start); d != 3*time.Second || !strings.Contains(rec.Body.String(), "access_token") {
			t.Errorf("token fetch took %s and answered %s; want 3s and a token", d, rec.Body)
		}

		// Control endpoints answer at once.
		start = time.Now()
		rec = newRecorder()
		h.ServeHTTP(rec, newRequest(t, http.MethodGet, PathStats, ""))
		if d := time.Since(start); d != 0 || rec.Code != http.StatusOK {
			t.Errorf("stats took %s (HTTP %d), want 0", d, rec.Code)
		}

		// The call takes effect before the latency: a client that gives
		// up has still sent the message.
		sim.RecordInteraction(demo.AppID, "0", "oUser1", kindText, time.Time{})
		tok := sim.tokensOf(demo.AppID)[0]
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		rec = newRecorder()
		req := newRequest(t, http.MethodPost, "/cgi-bin/message/custom/send?access_token="+tok, `{"touser":"oUser1","msgtype":"text","text":{"content":"hi"}}`)
		start = time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, req.WithContext(ctx))
		}()
		synctest.Wait() // the send took effect and waits out the latency
		const send = "/cgi-bin/message/custom/send"
		want := []APICall{{Path: send, Remote: req.RemoteAddr, Start: start}}
		if st := sim.Calls(); !slices.Equal(st.Answering, want) || len(st.Abandoned) != 0 {
			t.Errorf("while waiting: answering %v, abandoned %v; want answering %v", st.Answering, st.Abandoned, want)
		}
		<-done
		if d := time.Since(start); d != time.Second || rec.Body.Len() != 0 {
			t.Errorf("send abandoned after 1s returned after %s with %q", d, rec.Body)
		}
		if n := len(sim.Delivered(demo.AppID)); n != 1 {
			t.Errorf("len(Delivered) = %d, want 1 (maybe delivered)", n)
		}
		// The token fetch was answered; only the send was abandoned.
		if st := sim.Calls(); len(st.Answering) != 0 || !slices.Equal(st.Abandoned, want) {
			t.Errorf("after the hang-up: answering %v, abandoned %v; want abandoned %v", st.Answering, st.Abandoned, want)
		}
	})
}

// tokensOf returns the tokens issued to appid (for tests).
func (s *Sim) tokensOf(appid string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for v, t := range s.tokens {
		if t.appid == appid {
			out = append(out, v)
		}
	}
	return out
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  SimConfig
	}{
		{"negative latency", SimConfig{Latency: -time.Second}},
		{"fail rate over 1", SimConfig{FailRate: 1.5}},
		{"negative 5xx rate", SimConfig{HTTP5xxRate: -0.1}},
		{"empty secret", SimConfig{Apps: map[string]string{"wx1": ""}}},
		{"negative overlap", SimConfig{TokenOverlap: -time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSim(tt.cfg); !errors.Is(err, ErrInvalid) {
				t.Errorf("NewSim(%+v) = %v, want ErrInvalid", tt.cfg, err)
			}
		})
	}
}
