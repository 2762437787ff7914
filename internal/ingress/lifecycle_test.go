package ingress

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// TestShutdownUnderLoadKeepsAnsweredPushes cancels the server while many
// clients push, and checks that every push answered "success" is stored.
func TestShutdownUnderLoadKeepsAnsweredPushes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Ingress.TimestampWindow = 0 })
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String() + "/wx/" + testAppID + "?"

	var (
		mu       sync.Mutex
		answered = map[string]bool{}
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range 16 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for i := range next {
				m := kinds()["text"]
				m.MsgID = fmt.Sprint(1_000_000 + i)
				q, body, err := e.codec.EncodePush(rand.Reader, wxcodec.FormatJSON, wxcodec.ModeSafe, m, "1", "2")
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := client.Post(base+queryValues(q).Encode(), "application/json", bytes.NewReader(body))
				if err != nil {
					continue // refused after shutdown began: WeChat would retry
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && string(answer) == "success" {
					mu.Lock()
					answered[m.MsgID] = true
					mu.Unlock()
				}
			}
		})
	}
	stop := time.After(300 * time.Millisecond)
	sent := 0
feed:
	for ; ; sent++ {
		select {
		case next <- sent:
		case <-stop:
			break feed
		}
	}
	cancel()                       // SIGTERM while requests are in flight
	for ; sent < 400_000; sent++ { // keep pushing during the drain, bounded
		select {
		case next <- sent:
			continue
		case err := <-served:
			served <- err
		}
		break
	}
	close(next)
	wg.Wait()
	if err := <-served; err != nil {
		t.Fatalf("Serve() = %v", err)
	}
	if len(answered) == 0 {
		t.Fatal("no push was answered; the test proves nothing")
	}
	stored := map[string]bool{}
	cons, err := e.stream.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := e.stream.Info(t.Context())
	for range info.State.Msgs {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.ParseInbound(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		stored[ev.ID] = true
	}
	for id := range answered {
		if !stored[id] {
			t.Errorf("push %s was answered success but is not stored", id)
		}
	}
	t.Logf("sent %d, answered %d, stored %d", sent, len(answered), len(stored))
}

// TestOfficialVectorsOverHTTP posts the official safe-mode pushes V1 (JSON)
// and V2 (XML) exactly as WeChat's documentation shows them.
func TestOfficialVectorsOverHTTP(t *testing.T) {
	raw, err := os.ReadFile("../../pkg/wxcodec/testdata/wechat-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Vectors []map[string]any } // snake_case fields
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	for _, v := range file.Vectors {
		id := v["id"].(string)
		if id != "V1" && id != "V2" {
			continue
		}
		t.Run(id, func(t *testing.T) {
			str := func(k string) string { s, _ := v[k].(string); return s }
			appid := str("appid")
			e := newEnv(t, func(c *Config) {
				c.Apps = []config.App{{AppID: appid, Token: config.Secret(str("token")), EncodingAESKey: config.Secret(str("encoding_aes_key"))}}
				c.Now = func() time.Time { var ts int64; fmt.Sscan(str("timestamp"), &ts); return time.Unix(ts, 0) }
			})
			q := map[string][]string{
				"signature": {str("signature")}, "timestamp": {str("timestamp")}, "nonce": {str("nonce")},
				"openid": {"o9AgO5Kd5ggOC-bXrbNODIiE3bGY"}, "encrypt_type": {"aes"}, "msg_signature": {str("msg_signature")},
			}
			var body []byte
			if id == "V1" {
				body = []byte(`{"ToUserName": "gh_97417a04a28d", "Encrypt": "` + str("encrypt") + `"}`)
			} else {
				body = []byte("<xml>\n    <ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>\n    <Encrypt><![CDATA[" + str("encrypt") + "]]></Encrypt>\n</xml>")
			}
			status, answer := e.do(t, http.MethodPost, appid, q, body)
			if status != 200 || answer != "success" {
				t.Fatalf("POST = %d %q, want 200 success", status, answer)
			}
			ev, err := events.ParseInbound(e.last(t).Data)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != "weixin.kf.event.debug_demo" || ev.Subject != "o9AgO5Kd5ggOC-bXrbNODIiE3bGY" ||
				string(ev.Data.Extra["debug_str"]) != `"hello world"` {
				t.Errorf("event = %+v", ev)
			}
		})
	}
}

// TestServesTLS: with ingress.tls the ingress serves HTTPS (WeChat calls
// https on 443 or http on 80 only).
func TestServesTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	e := newEnv(t, func(c *Config) {
		c.Ingress.TLS.CertFile, c.Ingress.TLS.KeyFile = certFile, keyFile
		c.Ingress.TimestampWindow = 0
	})
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, ln) }()
	q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, kinds()["text"])
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Post("https://"+ln.Addr().String()+"/wx/"+testAppID+"?"+q.Encode(), "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("HTTPS push: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(answer) != "success" || resp.TLS == nil {
		t.Errorf("HTTPS push = %d %q (tls %v)", resp.StatusCode, answer, resp.TLS != nil)
	}
	if _, err := http.Post("http://"+ln.Addr().String()+"/wx/"+testAppID, "text/xml", nil); err == nil {
		// Go's TLS server answers plain HTTP with a 400, which is fine too.
		t.Log("plain HTTP answered by the TLS listener")
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if e.count(t) != 1 {
		t.Errorf("stream holds %d events, want 1", e.count(t))
	}
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfbridge-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// TestListenAndServeFailsWhole: when the push server cannot start (here a
// missing TLS certificate), ListenAndServe stops the admin server too and
// returns the error, instead of serving a green /readyz until ctx ends.
func TestListenAndServeFailsWhole(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	e := newEnv(t, func(c *Config) {
		c.Ingress.Listen, c.Ingress.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
		c.Ingress.TLS.CertFile, c.Ingress.TLS.KeyFile = missing, missing
	})
	served := make(chan error, 1)
	go func() { served <- e.srv.ListenAndServe(t.Context()) }()
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "ingress tls") {
			t.Errorf("ListenAndServe() = %v, want the TLS error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ListenAndServe still serving 30 s after the push server failed")
	}
}
