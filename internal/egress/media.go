package egress

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/mediafetch"
	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// mediaError is a failure to get the bytes of an image to upload.
type mediaError struct {
	class wxapi.Class
	code  int
	err   error
}

func (e *mediaError) Error() string { return "media: " + e.err.Error() }
func (e *mediaError) Unwrap() error { return e.err }

// mediaSource says where an image comes from.
type mediaSource struct {
	url, object string
}

// resolveMedia uploads the image of an image command, or the thumbnail of a
// card, given by URL or object name, and puts the media id in sd.
func (e *Egress) resolveMedia(ctx context.Context, j *job, sd *events.SendData, tok string) error {
	switch {
	case sd.Image != nil && sd.Image.MediaID == "":
		id, err := e.mediaIDFor(ctx, j, mediaSource{sd.Image.URL, sd.Image.Object}, tok, false)
		if err != nil {
			return err
		}
		sd.Image.MediaID = id
	case sd.MiniProgramPage != nil && sd.MiniProgramPage.ThumbMediaID == "":
		p := sd.MiniProgramPage
		id, err := e.mediaIDFor(ctx, j, mediaSource{p.ThumbURL, p.ThumbObject}, tok, false)
		if err != nil {
			return err
		}
		p.ThumbMediaID = id
	}
	return nil
}

// reuploadMedia drops the cached media id and uploads again.
func (e *Egress) reuploadMedia(ctx context.Context, j *job, sd *events.SendData, tok string) error {
	src := mediaSource{}
	switch {
	case sd.Image != nil:
		src = mediaSource{sd.Image.URL, sd.Image.Object}
	case sd.MiniProgramPage != nil:
		src = mediaSource{sd.MiniProgramPage.ThumbURL, sd.MiniProgramPage.ThumbObject}
	}
	id, err := e.mediaIDFor(ctx, j, src, tok, true)
	if err != nil {
		return err
	}
	if sd.Image != nil {
		sd.Image.MediaID = id
	} else {
		sd.MiniProgramPage.ThumbMediaID = id
	}
	return nil
}

// mediaIDFor returns the media id of src, from the cache (an object's cache
// key includes its digest, so a replaced object is uploaded again) or by
// fetching and uploading it.
func (e *Egress) mediaIDFor(ctx context.Context, j *job, src mediaSource, tok string, fresh bool) (string, error) {
	appid := j.cmd.AppID
	source := "url:" + src.url
	var info *jetstream.ObjectInfo
	if src.object != "" {
		var err error
		info, err = e.store.GetInfo(ctx, src.object)
		if err != nil {
			return "", &mediaError{class: wxapi.ClassPermanent, code: CodeMedia, err: fmt.Errorf("object %q: %w", src.object, err)}
		}
		source = "object:" + src.object + ":" + info.Digest
	}
	sum := sha256.Sum256([]byte(source))
	key := appid + "." + hex.EncodeToString(sum[:20])
	if !fresh {
		if entry, err := e.mediaID.Get(ctx, key); err == nil {
			j.mediaID, j.uploaded = string(entry.Value()), true
			return j.mediaID, nil
		}
	}
	var data []byte
	var contentType, name string
	var err error
	if src.object != "" {
		data, err = e.store.GetBytes(ctx, src.object)
		if err != nil {
			return "", &mediaError{class: wxapi.ClassTransient, code: CodeMedia, err: fmt.Errorf("read object %q: %w", src.object, err)}
		}
		if int64(len(data)) > e.cfg.MaxMediaBytes {
			return "", &mediaError{class: wxapi.ClassPermanent, code: CodeMedia, err: fmt.Errorf("object %q is over %d bytes", src.object, e.cfg.MaxMediaBytes)}
		}
		name = path.Base(src.object)
		if info.Headers != nil {
			contentType = info.Headers.Get("Content-Type")
		}
	} else {
		img, err := e.download(ctx, src.url)
		if err != nil {
			return "", err
		}
		data, contentType, name = img.Data, img.ContentType, img.Name
	}
	var media wxapi.Media
	err = e.call(ctx, j, "media/upload", func(ctx context.Context) error {
		var err error
		media, err = e.api.UploadImage(ctx, tok, name, contentType, data)
		return err
	})
	if err != nil {
		return "", err
	}
	if _, err := e.mediaID.Put(ctx, key, []byte(media.MediaID)); err != nil {
		j.logger().Warn("media id not cached", "err", err)
	}
	j.mediaID, j.uploaded = media.MediaID, true
	return media.MediaID, nil
}

// download fetches an image by URL, bounded in time and size, from an
// allowed destination (egress.media_fetch.allow). A failure that trying
// again cannot mend — a refused destination, HTTP 4xx, not an image, too
// large — is permanent.
func (e *Egress) download(ctx context.Context, url string) (mediafetch.Image, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	img, err := e.fetch.Fetch(ctx, url, e.cfg.MaxMediaBytes)
	if err != nil {
		class := wxapi.ClassTransient
		var fe *mediafetch.Error
		if errors.As(err, &fe) && fe.Permanent {
			class = wxapi.ClassPermanent
		}
		return mediafetch.Image{}, &mediaError{class: class, code: CodeMedia, err: err}
	}
	return img, nil
}
