package wxpush

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// mediaRecorder is a [wxsim.Recorder] that also stores the media of user
// pushes ([wxsim.Sim.AddUserMedia]).
type mediaRecorder interface {
	AddUserMedia(appid, mediaID string, data []byte, contentType string)
}

// WithRecorder reports every push to r before its first attempt, as
// WeChat knows of the user's message before it pushes it: the interaction
// (at the zero time, so the simulator uses its own clock) and, when r also
// has AddUserMedia (as [*wxsim.Sim] and [*wxsim.RemoteRecorder] do), the
// MediaId and ThumbMediaId of image and card pushes with
// [wxsim.PlaceholderImage] as their content. The recorder is the seam
// between the push side and the simulator: this package uses wxsim only
// for it (and [wxsim.RemoteRecorder] behind the SimURL of [RunPush] and
// [Load]); wxsim never imports this package.
func WithRecorder(r wxsim.Recorder) Option {
	return func(o *options) error {
		if r == nil {
			return fmt.Errorf("%w: nil Recorder", ErrInvalid)
		}
		o.recorder = r
		return nil
	}
}

// record reports the user message behind a push to the recorder, if any;
// it runs before the first attempt, as WeChat knows of the message first.
func (p *Pusher) record(req *Request) {
	r := p.opts.recorder
	if r == nil {
		return
	}
	appid := p.signer.AppID()
	openid := req.Spec.OpenID
	if openid == "" {
		openid = "_" // as the bridge names a push without FromUserName
	}
	bid := strconv.FormatInt(req.Spec.BusinessID, 10)
	if mr, ok := r.(mediaRecorder); ok {
		if m, err := req.message(); err == nil {
			for _, id := range []string{m.MediaID, m.ThumbMediaID} {
				if id != "" {
					mr.AddUserMedia(appid, id, wxsim.PlaceholderImage(), "image/png")
				}
			}
		}
	}
	r.RecordInteraction(appid, bid, openid, req.Spec.Kind, time.Time{})
}
