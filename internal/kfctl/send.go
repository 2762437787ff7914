package kfctl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/schemas"
)

// sendCmd is kfctl send.
func (r *run) sendCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Send a test message and wait for its result",
		Long: `Send publishes a send command on wxkf.out.<appid>.<bid>.<openid>.send, as a bot
would, and waits for its result on wxkf.result.… (at most --wait; 0 only
publishes). It fails (exit 1) when the result is not delivered.`,
		Example: `  kfctl send --appid wx0123456789abcdef --openid oUser --text "你好"
  kfctl send --appid wx… --openid o… --image-url https://example.com/a.png --json
  kfctl send --appid wx… --bid 3 --openid o… --text hi --wait 0`,
		Args: r.noArgs,
	}
	fs := cmd.Flags()
	appid := r.appidFlag(cmd, "mini program AppID")
	var o sendOpts
	fs.StringVar(&o.bid, "bid", events.MainBusinessID, "business_id of the conversation; 0 the main account")
	fs.StringVar(&o.openid, "openid", "", "the user's openid")
	fs.StringVar(&o.text, "text", "", "a text message")
	fs.StringVar(&o.imageURL, "image-url", "", "an image egress downloads and uploads")
	fs.StringVar(&o.imageObject, "image-object", "", "an image in the object store WXKF_MEDIA")
	fs.StringVar(&o.mediaID, "media-id", "", "an image by WeChat media_id")
	fs.StringVar(&o.id, "id", "", "command id (default kfctl-<random>)")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "how long to wait for the result (0: do not wait)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		o.appid = appid()
		return r.send(cmd, o)
	}
	return cmd
}

// sendOpts are the flags of send.
type sendOpts struct {
	appid, bid, openid, text, imageURL, imageObject, mediaID, id string
	wait                                                         time.Duration
}

// send publishes a send command and waits for its result.
func (r *run) send(cmd *cobra.Command, o sendOpts) error {
	ctx := cmd.Context()
	appid, bid, openid, text, imageURL, imageObject, mediaID, id, wait := &o.appid, &o.bid, &o.openid, &o.text, &o.imageURL, &o.imageObject, &o.mediaID, &o.id, &o.wait
	var data map[string]any
	n := 0
	for _, v := range []string{*text, *imageURL, *imageObject, *mediaID} {
		if v != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return r.usageErr(cmd, errors.New("send needs one of --text, --image-url, --image-object, --media-id"))
	case *text != "":
		data = map[string]any{"msgtype": "text", "text": map[string]any{"content": *text}}
	case *imageURL != "":
		data = map[string]any{"msgtype": "image", "image": map[string]any{"url": *imageURL}}
	case *imageObject != "":
		data = map[string]any{"msgtype": "image", "image": map[string]any{"object": *imageObject}}
	default:
		data = map[string]any{"msgtype": "image", "image": map[string]any{"media_id": *mediaID}}
	}
	conv := events.Conversation{AppID: *appid, BusinessID: *bid, OpenID: *openid}
	subject, err := events.CommandSubject(conv, events.VerbSend)
	if err != nil {
		return r.usageErr(cmd, fmt.Errorf("send: %w (--appid, --bid and --openid are required)", err))
	}
	if *id == "" {
		*id = newCommandID()
	}
	body, err := json.Marshal(map[string]any{
		"specversion": events.SpecVersion, "id": *id, "source": "/kfctl", "type": events.TypeCommandPrefix + events.VerbSend,
		"datacontenttype": events.DataContentType, "data": data,
	})
	if err != nil {
		return err
	}
	v, err := schemas.NewValidator()
	if err != nil {
		return err
	}
	if err := v.Validate(schemas.CommandEvent, body); err != nil {
		return r.usageErr(cmd, fmt.Errorf("send: %w", err))
	}

	nc, js, err := r.connectJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	// Subscribe before publishing, so the result cannot be missed.
	var results *nats.Subscription
	if *wait > 0 {
		results, err = nc.SubscribeSync(events.ResultPrefix + conv.String() + ".*")
		if err != nil {
			return fmt.Errorf("subscribe to results: %w", err)
		}
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, *id)
	msg.Header.Set(events.HeaderContentType, events.ContentType)
	pctx, cancel := r.withTimeout(ctx)
	ack, err := js.PublishMsg(pctx, msg)
	cancel()
	if err != nil {
		return fmt.Errorf("publish %s (is the WXKF_OUT stream there, i.e. has an egress run?): %w", subject, err)
	}
	if ack.Duplicate {
		fmt.Fprintf(r.cfg.Stderr, "kfctl: command id %s was published before; its result is not sent again\n", *id)
	}
	if *wait <= 0 {
		if r.g.json {
			return writeJSON(r.out, map[string]any{"command_id": *id, "subject": subject, "stream": ack.Stream, "seq": ack.Sequence})
		}
		_, err := fmt.Fprintf(r.out, "published command %s on %s (stream %s, seq %d)\n", *id, subject, ack.Stream, ack.Sequence)
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	for {
		m, err := results.NextMsgWithContext(wctx)
		if err != nil {
			return fmt.Errorf("no result for command %s within %s (it is stored and will get one; watch %s): %w",
				*id, *wait, events.ResultPrefix+conv.String()+".*", err)
		}
		var ev events.ResultEvent
		if json.Unmarshal(m.Data, &ev) != nil || ev.Data.CommandID != *id {
			continue
		}
		if err := r.printResult(m.Data, ev); err != nil {
			return err
		}
		if ev.Data.Outcome != events.OutcomeDelivered {
			return fmt.Errorf("%w: command %s: errcode %d (%s): %s", ErrFailed, *id, ev.Data.ErrCode, ev.Data.Reason, ev.Data.ErrMsg)
		}
		return nil
	}
}

func (r *run) printResult(raw []byte, ev events.ResultEvent) error {
	if r.g.json {
		return writeJSON(r.out, json.RawMessage(raw))
	}
	d := ev.Data
	t := newTable(r.out, "COMMAND_ID", "OUTCOME", "ERRCODE", "REASON", "ATTEMPTS", "ERRMSG")
	t.row(d.CommandID, d.Outcome, strconv.Itoa(d.ErrCode), d.Reason, d.Attempts, d.ErrMsg)
	return t.flush()
}

// newCommandID returns kfctl-<16 random hex digits>.
func newCommandID() string {
	var b [8]byte
	rand.Read(b[:])
	return "kfctl-" + hex.EncodeToString(b[:])
}
