package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// wechat is the WeChat side of a test: it signs the demo app's pushes as
// WeChat does and uses the simulated API's control endpoints.
type wechat struct {
	ingress string // the ingress's base URL
	sim     string // the simulator's base URL
	signer  *wxpush.Signer
}

// newWeChat returns the WeChat side for the ingress and simulator at these
// base URLs (sim may be "" for a test without the API).
func newWeChat(t testing.TB, ingressURL, simURL string) *wechat {
	t.Helper()
	s, err := wxpush.NewSigner(ingressURL, wxpush.App{})
	if err != nil {
		t.Fatalf("NewSigner(%q) = %v", ingressURL, err)
	}
	return &wechat{ingress: ingressURL, sim: simURL, signer: s}
}

// pusher returns a Pusher with WeChat's delivery semantics (three attempts,
// 5 s apart, 5 s each) unless opts say otherwise.
func (w *wechat) pusher(t testing.TB, opts ...wxpush.Option) *wxpush.Pusher {
	t.Helper()
	p, err := wxpush.NewPusher(w.signer, opts...)
	if err != nil {
		t.Fatalf("NewPusher: %v", err)
	}
	return p
}

// sign signs spec for the demo app with the current time.
func (w *wechat) sign(t testing.TB, spec wxpush.Spec) *wxpush.Request {
	t.Helper()
	if spec.To == "" {
		spec.To = demo.OriginalID
	}
	req, err := w.signer.Sign(spec, time.Now())
	if err != nil {
		t.Fatalf("Sign(%+v) = %v", spec, err)
	}
	return req
}

// textSpec is a text message from openid with a fresh MsgId.
func textSpec(openid, content string) wxpush.Spec {
	return wxpush.Spec{Kind: wxpush.KindText, OpenID: openid, Content: content, MsgID: wxpush.NewMsgID()}
}

// recordFirst tells the simulator of a push before it is sent, as WeChat
// knows that a user wrote before it pushes: the interaction, which opens
// the send window, and the media of an image or card. (A Pusher's recorder
// reports only after the ingress answered, which a fast bot and egress can
// overtake.)
func (w *wechat) recordFirst(ctx context.Context, req *wxpush.Request) error {
	m, err := req.Spec.Message()
	if err != nil {
		return err
	}
	for _, id := range []string{m.MediaID, m.ThumbMediaID} {
		if id == "" {
			continue
		}
		body := map[string]any{"appid": demo.AppID, "media_id": id, "content_type": "image/png", "data": wxsim.PlaceholderImage()}
		if err := postJSON(ctx, w.sim+wxsim.PathMedia, body); err != nil {
			return err
		}
	}
	openid := req.Spec.OpenID
	if openid == "" {
		openid = "_"
	}
	return w.interact(ctx, strconv.FormatInt(req.Spec.BusinessID, 10), openid, req.Spec.Kind)
}

// interact records that openid wrote (kind) in conversation bid.
func (w *wechat) interact(ctx context.Context, bid, openid, kind string) error {
	return postJSON(ctx, w.sim+wxsim.PathInteraction, map[string]any{"appid": demo.AppID, "bid": bid, "openid": openid, "kind": kind})
}

// delivered returns the messages the simulated WeChat accepted, in order.
func (w *wechat) delivered(ctx context.Context) ([]wxsim.Delivered, error) {
	var d []wxsim.Delivered
	err := getJSON(ctx, w.sim+wxsim.PathDelivered+"?appid="+url.QueryEscape(demo.AppID), &d)
	return d, err
}

// stats returns the simulated WeChat's call statistics, with the calls
// whose answer it is holding back and those whose caller hung up.
func (w *wechat) stats(ctx context.Context) (wxsim.CallStats, error) {
	var st wxsim.CallStats
	err := getJSON(ctx, w.sim+wxsim.PathStats, &st)
	return st, err
}

// typing returns the typing calls the simulated WeChat accepted, in order.
func (w *wechat) typing(ctx context.Context) ([]wxsim.TypingCall, error) {
	var d []wxsim.TypingCall
	err := getJSON(ctx, w.sim+wxsim.PathTyping+"?appid="+url.QueryEscape(demo.AppID), &d)
	return d, err
}

// deliveredText is the text content of a delivered message ("" for other
// kinds).
func deliveredText(d wxsim.Delivered) string {
	var body struct {
		Text struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	json.Unmarshal(d.Body, &body)
	return body.Text.Content
}

func postJSON(ctx context.Context, u string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", u, resp.Status, answer)
	}
	return nil
}

func getJSON(ctx context.Context, u string, v any) error {
	body, err := getBody(ctx, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

func getBody(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, body)
	}
	return body, nil
}
