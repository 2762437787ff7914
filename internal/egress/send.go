package egress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kfbridge/kfbridge/internal/wxapi"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// send delivers a send command: token, media, the "sending" record, the
// call, and what its answer means.
func (e *Egress) send(ctx context.Context, j *job, sd *events.SendData) (action, error) {
	if sd.MsgType == "text" && (len(sd.Text.Content) > e.cfg.TextLimit || j.rec.Parts > 0) {
		return e.sendParts(ctx, j, sd.Text)
	}
	appid := j.cmd.AppID
	tok, err := e.tokens.Token(ctx, appid)
	if err != nil {
		return e.afterFailure(ctx, j, err, ReasonToken, false)
	}
	if err := e.resolveMedia(ctx, j, sd, tok); err != nil {
		return e.afterFailure(ctx, j, err, ReasonMedia, false)
	}
	refreshed, reuploaded := false, false
	for {
		body, err := wechatBody(sd)
		if err != nil {
			return e.fail(ctx, j, CodeMalformed, err.Error(), ReasonMalformed, false)
		}
		// The reply budget is spent right before the call, and recorded
		// with the "sending" record: a redelivery does not spend again.
		// Observe, which refuses nothing, spends alongside the record and
		// the call instead (see [Egress.spendAlongside]).
		join := func() {}
		if e.observing() {
			join = e.spendAlongside(ctx, j, 1)
		} else if refused, err := e.spend(ctx, j, 1); err != nil {
			return action{}, err // nothing sent
		} else if refused {
			return e.refuseBudget(ctx, j)
		}
		j.rec.State = stateSending
		j.rec.Attempts++
		if err := e.saveRecord(ctx, j); errors.Is(err, errRecordsFull) {
			join()
			j.rec.Attempts--
			e.unspend(ctx, j)
			return e.recordsFull(ctx, j) // nothing sent
		} else if err != nil {
			join()
			e.unspend(ctx, j)
			return action{}, err // nothing sent
		}
		op := "custom/send"
		if j.cmd.BusinessID != events.MainBusinessID {
			op = "custom/business/send"
		}
		err = e.call(ctx, j, op, func(ctx context.Context) error {
			return e.api.Send(ctx, tok, wxapi.SendRequest{ToUser: j.cmd.OpenID, BusinessID: j.cmd.BusinessID, Message: body})
		})
		join()
		if err == nil {
			return e.deliver(ctx, j)
		}
		switch {
		case wxapi.ClassOf(err) == wxapi.ClassToken && !refreshed:
			refreshed = true
			tok, err = e.tokens.Invalidate(ctx, appid, tok)
			if err != nil {
				return e.afterFailure(ctx, j, err, ReasonToken, false)
			}
			continue
		case wxapi.CodeOf(err) == wxapi.CodeInvalidMediaID && j.uploaded && !reuploaded:
			// Our cached upload expired early: upload again, once.
			reuploaded = true
			if err := e.reuploadMedia(ctx, j, sd, tok); err != nil {
				return e.afterFailure(ctx, j, err, ReasonMedia, false)
			}
			continue
		}
		return e.afterFailure(ctx, j, err, "", true)
	}
}

// typing is best effort: one call (plus one after a token refresh), never
// retried, never dead-lettered.
func (e *Egress) typing(ctx context.Context, j *job, td events.TypingData) (action, error) {
	if e.checkTyping(ctx, j, td.Command) {
		return e.refuseBudget(ctx, j)
	}
	tok, err := e.tokens.Token(ctx, j.cmd.AppID)
	fromCall := false // err is the typing call's, not a token fetch's
	for try := 0; err == nil; try++ {
		j.rec.Attempts++
		err = e.call(ctx, j, "custom/business/typing", func(ctx context.Context) error {
			return e.api.Typing(ctx, tok, j.cmd.OpenID, j.cmd.BusinessID, td.Command)
		})
		fromCall = true
		if err == nil {
			e.typed(ctx, j, td.Command)
			return e.deliver(ctx, j)
		}
		if wxapi.ClassOf(err) != wxapi.ClassToken || try > 0 {
			break
		}
		tok, err = e.tokens.Invalidate(ctx, j.cmd.AppID, tok)
		fromCall = false
	}
	code, msg := codeMsg(err)
	class := classBefore(err, fromCall)
	if fromCall {
		e.afterWindowError(ctx, j, err)
	}
	return e.fail(ctx, j, code, msg, reasonOf(class, ReasonToken), class == wxapi.ClassMaybeDelivered)
}

// classBefore is the class of err; a failure before the send (or typing)
// call — a token fetch, a media download or upload that timed out after
// writing — is transient, never maybe_delivered: nothing reached the send
// API.
func classBefore(err error, sendCall bool) wxapi.Class {
	class := wxapi.ClassOf(err)
	var media *mediaError
	if errors.As(err, &media) {
		class = media.class
	}
	if class == wxapi.ClassMaybeDelivered && !sendCall {
		return wxapi.ClassTransient
	}
	return class
}

// afterFailure decides what a failed call (or token fetch, or upload)
// means. fallback names the reason of a permanent failure when not "";
// sendCall says whether err is the send call's own (else nothing reached
// the send API: see [classBefore]).
func (e *Egress) afterFailure(ctx context.Context, j *job, err error, fallback string, sendCall bool) (action, error) {
	code, msg := codeMsg(err)
	j.rec.LastCode, j.rec.LastMsg = code, cutErrMsg(msg)
	class := classBefore(err, sendCall)
	now := e.now()
	switch class {
	case wxapi.ClassTransient:
		// Every retry backs off further, whatever failed.
		return e.retryAt(ctx, j, now.Add(e.backoff(j.rec.Retries+1)), ReasonTransient)
	case wxapi.ClassQuota:
		until := quotaHorizon(code, now)
		pctx, cancel := e.natsCtx(ctx)
		e.pauses.set(pctx, j.cmd.AppID, until, code)
		cancel()
		j.logger().Warn("WeChat quota reached; pausing the app's sends", "appid", j.cmd.AppID, "errcode", code, "until", until)
		return e.retryAt(ctx, j, until, ReasonQuota)
	case wxapi.ClassMaybeDelivered:
		return e.fail(ctx, j, CodeMaybeDelivered, msg, ReasonMaybeDelivered, true)
	case wxapi.ClassWindow:
		e.afterWindowError(ctx, j, err)
		return e.fail(ctx, j, code, msg, ReasonWindow, false)
	case wxapi.ClassToken:
		return e.fail(ctx, j, code, msg, ReasonToken, false)
	}
	reason := ReasonPermanent
	if fallback != "" {
		reason = fallback
	}
	return e.fail(ctx, j, code, msg, reason, false)
}

// retryAt puts the command back until at, or fails it when at lies past its
// retry budget. The record says "retry": nothing is in flight.
func (e *Egress) retryAt(ctx context.Context, j *job, at time.Time, reason string) (action, error) {
	if at.After(j.deadline) {
		return e.fail(ctx, j, lastCode(j.rec, CodeExpired), lastMsg(j.rec, "retry budget exhausted"), reason, false)
	}
	j.rec.State = stateRetry
	j.rec.Retries++
	j.rec.LastReason = reason
	j.rec.RetryAt = at.UTC()
	if err := e.saveRecord(ctx, j); errors.Is(err, errRecordsFull) {
		return e.recordsFull(ctx, j)
	} else if err != nil {
		return action{}, err
	}
	e.metrics.retries.WithLabelValues(e.appLabel(j.cmd.AppID), reason).Inc()
	j.logger().Info("command will be retried", "reason", reason, "errcode", j.rec.LastCode, "attempts", j.rec.Attempts, "in", at.Sub(e.now()).Round(time.Millisecond))
	return nakAfter(at.Sub(e.now())), nil
}

func reasonOf(c wxapi.Class, tokenReason string) string {
	switch c {
	case wxapi.ClassTransient:
		return ReasonTransient
	case wxapi.ClassQuota:
		return ReasonQuota
	case wxapi.ClassWindow:
		return ReasonWindow
	case wxapi.ClassToken:
		return tokenReason
	case wxapi.ClassMaybeDelivered:
		return ReasonMaybeDelivered
	}
	return ReasonPermanent
}

// codeMsg extracts WeChat's errcode and errmsg, or -1 and the error text.
func codeMsg(err error) (int, string) {
	var api *wxapi.APIError
	if errors.As(err, &api) {
		return api.Code, api.Msg
	}
	var media *mediaError
	if errors.As(err, &media) && media.code != 0 {
		return media.code, media.Error()
	}
	if err == nil {
		return 0, "ok"
	}
	return -1, err.Error()
}

// wechatBody returns sd as WeChat's send API takes it (without touser and
// businessid), with media resolved to a media id: for an image, or for a
// mini-program card's thumbnail. It fails when the media is unresolved.
func wechatBody(sd *events.SendData) (json.RawMessage, error) {
	// Structs, not maps: the same JSON (members in the order encoding/json
	// sorts a map's keys), without a map per send.
	var v any
	switch sd.MsgType {
	case "text":
		v = struct {
			MsgType string     `json:"msgtype"`
			Text    wxTextBody `json:"text"`
		}{"text", wxTextBody{sd.Text.Content}}
	case "image":
		if sd.Image.MediaID == "" {
			return nil, errors.New("image media not uploaded")
		}
		v = struct {
			Image   wxMediaBody `json:"image"`
			MsgType string      `json:"msgtype"`
		}{wxMediaBody{sd.Image.MediaID}, "image"}
	case "link":
		l := sd.Link
		v = struct {
			Link    wxLinkBody `json:"link"`
			MsgType string     `json:"msgtype"`
		}{wxLinkBody{l.Description, l.ThumbURL, l.Title, l.URL}, "link"}
	case "miniprogrampage":
		p := sd.MiniProgramPage
		if p.ThumbMediaID == "" {
			return nil, errors.New("thumbnail not uploaded")
		}
		v = struct {
			Page    wxPageBody `json:"miniprogrampage"`
			MsgType string     `json:"msgtype"`
		}{wxPageBody{p.PagePath, p.ThumbMediaID, p.Title}, "miniprogrampage"}
	default:
		return nil, fmt.Errorf("msgtype %q", sd.MsgType)
	}
	// Text may carry mini-program links (<a href=…>): keep them readable.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// The message objects of WeChat's send API, members in sorted order.
type (
	wxTextBody struct {
		Content string `json:"content"`
	}
	wxMediaBody struct {
		MediaID string `json:"media_id"`
	}
	wxLinkBody struct {
		Description string `json:"description"`
		ThumbURL    string `json:"thumb_url"`
		Title       string `json:"title"`
		URL         string `json:"url"`
	}
	wxPageBody struct {
		PagePath     string `json:"pagepath"`
		ThumbMediaID string `json:"thumb_media_id"`
		Title        string `json:"title"`
	}
)
