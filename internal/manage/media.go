package manage

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/wxapi"
)

// uploadRequest is media.upload's body: the image by exactly one of data,
// url and object (the schema ensures it).
type uploadRequest struct {
	Type        string `json:"type"`
	Data        string `json:"data"`
	URL         string `json:"url"`
	Object      string `json:"object"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
}

// mediaUpload reads the image and uploads it with media/upload.
func (s *Service) mediaUpload(ctx context.Context, appid string, body []byte) ([]byte, error) {
	var req uploadRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	var data []byte
	var contentType, name string
	switch {
	case req.Data != "":
		var err error
		if data, err = decodeBase64(req.Data); err != nil {
			return nil, invalid("/data: not base64: %v", err)
		}
		if int64(len(data)) > s.cfg.MaxMediaBytes {
			return nil, invalid("/data: %d bytes, want at most %d", len(data), s.cfg.MaxMediaBytes)
		}
		name = "image"
	case req.URL != "":
		img, err := s.download(ctx, req.URL)
		if err != nil {
			return nil, err
		}
		data, contentType, name = img.Data, img.ContentType, img.Name
	default:
		var err error
		if data, contentType, err = s.readObject(ctx, req.Object); err != nil {
			return nil, err
		}
		name = path.Base(req.Object)
	}
	if req.Filename != "" {
		name = req.Filename
	}
	if req.ContentType != "" {
		contentType = req.ContentType
	}
	if contentType == "" {
		contentType = http.DetectContentType(data)
	}
	if path.Ext(name) == "" {
		name += extension(contentType)
	}
	var m wxapi.Media
	err := s.withToken(ctx, appid, func(ctx context.Context, tok string) error {
		var err error
		m, err = s.cfg.API.UploadImage(ctx, tok, name, contentType, data)
		return err
	})
	if err != nil {
		return nil, err
	}
	created := m.CreatedAt
	if len(created) == 0 {
		created = json.RawMessage("0")
	}
	return json.Marshal(struct {
		answer
		Type      string          `json:"type"`
		MediaID   string          `json:"media_id"`
		CreatedAt json.RawMessage `json:"created_at"`
	}{answer{0, "ok"}, m.Type, m.MediaID, created})
}

// decodeBase64 accepts standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// download fetches an image by URL, bounded in size (and in time by ctx),
// from a destination the fetcher allows. The error names the URL without
// its query and never quotes the response.
func (s *Service) download(ctx context.Context, u string) (mediafetch.Image, error) {
	img, err := s.cfg.Fetcher.Fetch(ctx, u, s.cfg.MaxMediaBytes)
	if err != nil {
		return mediafetch.Image{}, &Error{Code: CodeMedia, Msg: "download " + err.Error()}
	}
	return img, nil
}

// readObject reads an image from the object store.
func (s *Service) readObject(ctx context.Context, name string) ([]byte, string, error) {
	info, err := s.cfg.Store.GetInfo(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return nil, "", &Error{Code: CodeMedia, Msg: fmt.Sprintf("object %q: not in the object store", name)}
	case err != nil:
		return nil, "", &Error{Code: CodeStore, Msg: fmt.Sprintf("object %q: %v", name, err)}
	case int64(info.Size) > s.cfg.MaxMediaBytes:
		return nil, "", &Error{Code: CodeMedia, Msg: fmt.Sprintf("object %q: %d bytes, want at most %d", name, info.Size, s.cfg.MaxMediaBytes)}
	}
	data, err := s.cfg.Store.GetBytes(ctx, name)
	if err != nil {
		return nil, "", &Error{Code: CodeStore, Msg: fmt.Sprintf("read object %q: %v", name, err)}
	}
	ct := ""
	if info.Headers != nil {
		ct = info.Headers.Get("Content-Type")
	}
	return data, ct, nil
}

// getRequest is media.get's body.
type getRequest struct {
	MediaID string `json:"media_id"`
	Object  string `json:"object"`
	// Inline asks for the bytes in the reply too (base64), for bots, which
	// cannot read the object store.
	Inline bool `json:"inline"`
}

// mediaGet downloads a medium with media/get and stores it in the object
// store; with inline, the reply carries the bytes as well, or, when they
// would not fit the connection's max payload, is a [CodeMedia] error that
// names the stored object.
func (s *Service) mediaGet(ctx context.Context, appid string, body []byte) ([]byte, error) {
	var req getRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	var data []byte
	var ct string
	err := s.withToken(ctx, appid, func(ctx context.Context, tok string) error {
		var err error
		data, ct, err = s.cfg.API.GetMedia(ctx, tok, req.MediaID, s.cfg.MaxMediaBytes)
		return err
	})
	if err != nil {
		return nil, err
	}
	name := req.Object
	if name == "" {
		name = "wxmedia/" + appid + "/" + req.MediaID + extension(ct)
	}
	meta := jetstream.ObjectMeta{
		Name:        name,
		Description: "WeChat medium " + req.MediaID + " of " + appid,
		Headers:     nats.Header{"Content-Type": {ct}},
	}
	info, err := s.cfg.Store.Put(ctx, meta, bytes.NewReader(data))
	if err != nil {
		return nil, &Error{Code: CodeStore, Msg: fmt.Sprintf("store object %q: %v", name, err)}
	}
	var inline string
	if req.Inline {
		inline = base64.StdEncoding.EncodeToString(data)
	}
	reply, err := json.Marshal(struct {
		answer
		MediaID     string `json:"media_id"`
		Bucket      string `json:"bucket"`
		Object      string `json:"object"`
		ContentType string `json:"content_type"`
		Size        uint64 `json:"size"`
		Digest      string `json:"digest"`
		Data        string `json:"data,omitempty"`
	}{answer{0, "ok"}, req.MediaID, info.Bucket, info.Name, ct, info.Size, info.Digest, inline})
	if err != nil {
		return nil, err
	}
	if max := s.cfg.Conn.MaxPayload(); req.Inline && int64(len(reply)) > max {
		return nil, &Error{Code: CodeMedia, Msg: fmt.Sprintf("medium of %d bytes is too large to answer inline (a %d-byte reply, over the NATS max payload of %d); it is stored as object %q of %s",
			len(data), len(reply), max, info.Name, info.Bucket)}
	}
	return reply, nil
}

// extension returns the file extension of an image Content-Type.
func extension(contentType string) string {
	switch strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	}
	return ""
}
