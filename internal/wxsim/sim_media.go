package wxsim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
)

// maxImageBytes is the largest temporary image (§8.3, §11.12: 2 MB).
const maxImageBytes = 2 << 20

// mediaTypeImage is the only media type of mini programs (§8.3).
const mediaTypeImage = "image"

// uploadAnswer is the answer to a media upload (§8.3).
type uploadAnswer struct {
	ErrCode   int    `json:"errcode"`
	ErrMsg    string `json:"errmsg"`
	Type      string `json:"type"`
	MediaID   string `json:"media_id"`
	CreatedAt int64  `json:"created_at"`
}

// upload answers POST /cgi-bin/media/upload?type=image (§8.3), checking
// in this order: type (40004), a "media" part with data (41005), size up
// to 2 MB (40009), a JPEG, PNG or GIF by its content (40005). The medium
// is valid for 3 days of simulated time.
func (s *Sim) upload(c *call) reply {
	if c.r.URL.Query().Get("type") != mediaTypeImage {
		return errReply(CodeInvalidMediaType)
	}
	data, ok := mediaPart(c.r.Header.Get("Content-Type"), c.body)
	switch {
	case !ok || len(data) == 0:
		return errReply(CodeMediaDataMissing)
	case len(data) > maxImageBytes:
		return errReply(CodeInvalidImageSize)
	}
	ct := sniffImage(data)
	if ct == "" {
		return errReply(CodeInvalidFileType)
	}
	m := &media{id: newMediaID(), contentType: ct, data: data, created: c.now}
	c.app.media[m.id] = m
	return reply{body: uploadAnswer{ErrCode: CodeOK, ErrMsg: errMsg(CodeOK), Type: mediaTypeImage, MediaID: m.id, CreatedAt: c.now.Unix()}}
}

// mediaPart returns the content of the multipart part named "media".
func mediaPart(contentType string, body []byte) ([]byte, bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, false
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil { // io.EOF or a malformed body: no media part
			return nil, false
		}
		if p.FormName() != "media" {
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false
		}
		return data, true
	}
}

// getMedia answers GET /cgi-bin/media/get (§8.4): the bytes with
// Content-Type and Content-disposition, or 41006 without media_id and
// 40007 for a medium that is unknown, of another app, or expired.
func (s *Sim) getMedia(c *call) reply {
	id := c.r.URL.Query().Get("media_id")
	if id == "" {
		return errReply(CodeMediaIDMissing)
	}
	if code := c.app.mediaCode(id, c.now); code != CodeOK {
		return errReply(code)
	}
	return reply{media: c.app.media[id]}
}

// newMediaID returns a random media id of WeChat's length (64).
func newMediaID() string {
	b := make([]byte, 48)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sniffImage returns the Content-Type of a JPEG, PNG or GIF, else "".
func sniffImage(data []byte) string {
	switch ct := http.DetectContentType(data); ct {
	case "image/jpeg", "image/png", "image/gif":
		return ct
	}
	return ""
}

// mediaExt returns the file extension WeChat names a medium of
// contentType with.
func mediaExt(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	}
	return ".bin"
}

// PlaceholderImage returns a small PNG: the picture of the image pushes the
// simulator sends, registered with [Sim.AddUserMedia] so that the bridge
// can download it.
func PlaceholderImage() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			img.Set(x, y, color.NRGBA{R: 0x07, G: 0xc1, B: 0x60, A: 0xff}) // WeChat green
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil // not reached: encoding to memory does not fail
	}
	return b.Bytes()
}
