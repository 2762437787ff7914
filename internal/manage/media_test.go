package manage

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// allowLoopback lets the service download from the test's web server.
func allowLoopback(t testing.TB) func(*Config) {
	f, err := mediafetch.New(mediafetch.Config{Allow: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.Fetcher = f }
}

func TestMediaUpload(t *testing.T) {
	e := newEnv(t, allowLoopback(t))
	img := wxsim.PlaceholderImage()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cat.png" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(web.Close)
	if _, err := e.store.Put(t.Context(), jetstream.ObjectMeta{Name: "icons/cat.png", Headers: nats.Header{"Content-Type": {"image/png"}}}, bytes.NewReader(img)); err != nil {
		t.Fatal(err)
	}
	for _, req := range []map[string]any{
		{"type": "image", "data": base64.StdEncoding.EncodeToString(img), "filename": "cat.png"},
		{"data": base64.RawStdEncoding.EncodeToString(img)},
		{"url": web.URL + "/cat.png"},
		{"object": "icons/cat.png", "content_type": "image/png"},
	} {
		got := e.ok(OpMediaUpload, req)
		id, _ := got["media_id"].(string)
		if id == "" || got["type"] != "image" {
			t.Errorf("upload %v = %v", req, got)
			continue
		}
		// The medium is usable: WeChat serves it back.
		tok, err := e.tokens.Token(t.Context(), appID)
		if err != nil {
			t.Fatal(err)
		}
		data, _, err := e.api.GetMedia(t.Context(), tok, id, 1<<20)
		if err != nil || !bytes.Equal(data, img) {
			t.Errorf("media %s: %d bytes, %v", id, len(data), err)
		}
	}
	e.wantCode(OpMediaUpload, map[string]any{"data": base64.StdEncoding.EncodeToString([]byte("plain text"))}, 40005)
	e.wantCode(OpMediaUpload, map[string]any{"url": web.URL + "/missing.png"}, CodeMedia)
	e.wantCode(OpMediaUpload, map[string]any{"object": "no/such/object"}, CodeMedia)
	before := e.calls()
	e.wantCode(OpMediaUpload, map[string]any{"data": "not base64!"}, CodeInvalid)
	if n := e.calls() - before; n != 0 {
		t.Errorf("a bad upload made %d API calls", n)
	}
}

func TestMediaUploadSizeLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxMediaBytes = 50 })
	img := wxsim.PlaceholderImage()
	if len(img) <= 50 {
		t.Fatalf("placeholder is %d bytes", len(img))
	}
	if _, err := e.store.PutBytes(t.Context(), "big.png", img); err != nil {
		t.Fatal(err)
	}
	before := e.calls()
	e.wantCode(OpMediaUpload, map[string]any{"data": base64.StdEncoding.EncodeToString(img)}, CodeInvalid)
	e.wantCode(OpMediaUpload, map[string]any{"object": "big.png"}, CodeMedia)
	if n := e.calls() - before; n != 0 {
		t.Errorf("oversized uploads made %d API calls", n)
	}
}

func TestMediaGet(t *testing.T) {
	e := newEnv(t, nil)
	img := wxsim.PlaceholderImage()
	e.sim.AddUserMedia(appID, "USER_MEDIA_1", img, "")
	got := e.ok(OpMediaGet, map[string]any{"media_id": "USER_MEDIA_1"})
	name, _ := got["object"].(string)
	if name != "wxmedia/"+appID+"/USER_MEDIA_1.png" || got["bucket"] != "WXKF_MEDIA" || got["content_type"] != "image/png" || got["size"] != float64(len(img)) {
		t.Errorf("media.get = %v", got)
	}
	data, err := e.store.GetBytes(t.Context(), name)
	if err != nil || !bytes.Equal(data, img) {
		t.Errorf("stored object: %d bytes, %v", len(data), err)
	}
	info, err := e.store.GetInfo(t.Context(), name)
	if err != nil || info.Headers.Get("Content-Type") != "image/png" || got["digest"] != info.Digest {
		t.Errorf("object info %+v, %v", info, err)
	}
	named := e.ok(OpMediaGet, map[string]any{"media_id": "USER_MEDIA_1", "object": "inbox/photo"})
	if named["object"] != "inbox/photo" {
		t.Errorf("media.get with object = %v", named)
	}

	e.wantCode(OpMediaGet, map[string]any{"media_id": "NO_SUCH_MEDIA"}, 40007)
	e.sim.Advance(72 * time.Hour)
	e.wantCode(OpMediaGet, map[string]any{"media_id": "USER_MEDIA_1"}, 40007)
}

// TestMediaUploadRefusesPrivateURL: by default media.upload downloads from
// public addresses only, and its error quotes nothing of the response.
func TestMediaUploadRefusesPrivateURL(t *testing.T) {
	e := newEnv(t, nil)
	var hits atomic.Int32
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "image/png")
		w.Write(wxsim.PlaceholderImage())
	}))
	t.Cleanup(web.Close)
	before := e.calls()
	me := e.wantCode(OpMediaUpload, map[string]any{"url": web.URL + "/admin.png?key=k"}, CodeMedia)
	if !strings.Contains(me.Msg, "not a public address") || strings.Contains(me.Msg, "key=k") || strings.Contains(me.Description, "key=k") {
		t.Errorf("media.upload of a loopback URL: %q / %q, want \"not a public address\" without the URL's query", me.Msg, me.Description)
	}
	if hits.Load() != 0 || e.calls() != before {
		t.Errorf("the loopback server got %d requests, WeChat %d calls; want none", hits.Load(), e.calls()-before)
	}
}
