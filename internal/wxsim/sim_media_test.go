package wxsim

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
)

func TestMediaRoundTrip(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	ctx := t.Context()
	img := PlaceholderImage()
	m, err := ts.client.UploadImage(ctx, ts.token(t), "a.png", "image/png", img)
	if err != nil {
		t.Fatalf("UploadImage: %v", err)
	}
	if m.Type != "image" || len(m.MediaID) != 64 || string(m.CreatedAt) != strconv.FormatInt(simT0.Unix(), 10) {
		t.Errorf("UploadImage = %+v (created_at %s), want type image, a 64-character id, created_at %d", m, m.CreatedAt, simT0.Unix())
	}
	data, ct, err := ts.client.GetMedia(ctx, ts.token(t), m.MediaID, 1<<20)
	if err != nil {
		t.Fatalf("GetMedia: %v", err)
	}
	if !bytes.Equal(data, img) || ct != "image/png" {
		t.Errorf("GetMedia = %d bytes of %s, want the %d uploaded bytes of image/png", len(data), ct, len(img))
	}
	_, hdr, _ := ts.raw(t, http.MethodGet, "/cgi-bin/media/get?access_token="+ts.token(t)+"&media_id="+m.MediaID, "", nil)
	if got, want := hdr.Get("Content-Disposition"), `attachment; filename="`+m.MediaID+`.png"`; got != want {
		t.Errorf("Content-disposition = %q, want %q", got, want)
	}

	// User media (the MediaId of an image push) work the same way.
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0}, make([]byte, 100)...)
	ts.AddUserMedia(demo.AppID, "user-media-1", jpeg, "")
	data, ct, err = ts.client.GetMedia(ctx, ts.token(t), "user-media-1", 1<<20)
	if err != nil || !bytes.Equal(data, jpeg) || ct != "image/jpeg" {
		t.Errorf("GetMedia(user media) = %d bytes of %s, %v; want the JPEG", len(data), ct, err)
	}

	ts.Advance(72*time.Hour - time.Second)
	if _, _, err := ts.client.GetMedia(ctx, ts.token(t), m.MediaID, 1<<20); err != nil {
		t.Errorf("GetMedia 1 s before expiry: %v", err)
	}
	ts.Advance(time.Second)
	for _, id := range []string{m.MediaID, "user-media-1"} {
		_, _, err := ts.client.GetMedia(ctx, ts.token(t), id, 1<<20)
		if got := codeOf(t, err); got != CodeInvalidMediaID {
			t.Errorf("GetMedia(%s) after 3 days = %d, want 40007", id, got)
		}
	}
}

func TestMediaOfAnotherApp(t *testing.T) {
	ts := newTestSim(t, SimConfig{Apps: map[string]string{"wxapp1": "s1", "wxapp2": "s2"}})
	ts.AddUserMedia("wxapp1", "m1", PlaceholderImage(), "image/png")
	tok, err := ts.client.StableToken(t.Context(), "wxapp2", "s2", false)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ts.client.GetMedia(t.Context(), tok.AccessToken, "m1", 1<<20)
	if got := codeOf(t, err); got != CodeInvalidMediaID {
		t.Errorf("GetMedia of another app's medium = %d, want 40007", got)
	}
}

// multipartBody returns a multipart body with one file part.
func multipartBody(tb testing.TB, field string, data []byte) (string, []byte) {
	tb.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="a.png"`)
	h.Set("Content-Type", "image/png")
	part, err := w.CreatePart(h)
	if err != nil {
		tb.Fatal(err)
	}
	part.Write(data)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return w.FormDataContentType(), b.Bytes()
}

func TestUploadErrors(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	png := PlaceholderImage()
	big := append(append([]byte{}, png...), make([]byte, maxImageBytes+1-len(png))...)
	atLimit := big[:maxImageBytes]
	tests := []struct {
		name        string
		typ         string
		field       string
		data        []byte
		contentType string // overrides the multipart one
		want        int
	}{
		{"ok", "image", "media", png, "", CodeOK},
		{"2 MB", "image", "media", atLimit, "", CodeOK},
		{"over 2 MB", "image", "media", big, "", CodeInvalidImageSize},
		{"type voice", "voice", "media", png, "", CodeInvalidMediaType},
		{"no type", "", "media", png, "", CodeInvalidMediaType},
		{"part named file", "image", "file", png, "", CodeMediaDataMissing},
		{"empty file", "image", "media", nil, "", CodeMediaDataMissing},
		{"not multipart", "image", "media", png, "image/png", CodeMediaDataMissing},
		{"not an image", "image", "media", []byte("just some text"), "", CodeInvalidFileType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := multipartBody(t, tt.field, tt.data)
			if tt.contentType != "" {
				ct, body = tt.contentType, tt.data
			}
			q := "/cgi-bin/media/upload?access_token=" + ts.token(t)
			if tt.typ != "" {
				q += "&type=" + tt.typ
			}
			status, _, b := ts.raw(t, http.MethodPost, q, ct, body)
			want := `"errcode":` + strconv.Itoa(tt.want)
			if status != http.StatusOK || !strings.Contains(string(b), want) {
				t.Errorf("upload = %d %s, want errcode %d", status, b, tt.want)
			}
		})
	}
	// Through the bridge's client.
	_, err := ts.client.UploadImage(t.Context(), ts.token(t), "a.txt", "text/plain", []byte("text"))
	if got := codeOf(t, err); got != CodeInvalidFileType {
		t.Errorf("UploadImage(text) = %d, want 40005", got)
	}
}

func TestGetMediaErrors(t *testing.T) {
	ts := newTestSim(t, SimConfig{})
	tests := []struct {
		name, query string
		want        int
	}{
		{"no media_id", "", CodeMediaIDMissing},
		{"unknown", "&media_id=nope", CodeInvalidMediaID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ts.rawCode(t, http.MethodGet, "/cgi-bin/media/get?access_token="+ts.token(t)+tt.query, ""); got != tt.want {
				t.Errorf("media/get%s = %d, want %d", tt.query, got, tt.want)
			}
		})
	}
}
