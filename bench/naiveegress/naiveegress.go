// Package naiveegress is the baseline kfbridge's egress is measured against
// (issue 11): the straightforward unordered consumer — one durable pull
// consumer on WXKF_OUT, a pool of workers, and per command: decode the
// CloudEvent with encoding/json, POST WeChat's send (or typing) API with a
// cached access token through net/http, acknowledge. No order, no sent
// record, no result, no retry budget: it checks only what it must to be
// comparable. It is a measuring stick, not a product.
//
// # Usage
//
//	c, err := naiveegress.New(naiveegress.Config{JS: js, APIBase: base, AppID: id, Secret: secret})
//	err = c.Run(ctx) // until ctx ends
//
// # Concurrency
//
// Run handles up to Config.Concurrency commands at once; [Consumer.Handled]
// may be read at any time.
//
// # Errors
//
// Run returns setup errors; a command WeChat refuses is acknowledged and
// counted in [Consumer.Failed], a transport error naks it for redelivery.
package naiveegress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// Config configures a [Consumer].
type Config struct {
	// JS is JetStream; WXKF_OUT must exist. Required.
	JS jetstream.JetStream
	// APIBase is WeChat's API base URL, e.g. http://127.0.0.1:8000.
	APIBase string
	// AppID and Secret fetch the access token (one app).
	AppID, Secret string
	// Concurrency bounds commands in flight. Default 64.
	Concurrency int
	// Durable names the consumer. Default "naive-egress".
	Durable string
	// Writes adds, to each send, the two JetStream writes kfbridge's egress
	// makes for it, as plainly as possible: before the call, a create of
	// the command's key in the KV bucket WritesBucket (which must exist)
	// with a value of RecordBytes; after it, a result published to
	// WXKF_RESULT (which must exist) with a Nats-Msg-Id; each a
	// synchronous publish. Still no order, no retry and no checks: it
	// shows what those writes cost by themselves (issue 11).
	Writes bool
	// WritesBucket names the KV bucket of Writes.
	WritesBucket string
	// WritesUnacked makes the Writes plain NATS publishes without a reply
	// subject: the server stores them as before (the KV create still with
	// its expected-sequence header) but sends no PubAck, and the consumer
	// does not wait. It shows what the PubAcks cost; a write that fails goes
	// unnoticed, so it is a measuring stick only.
	WritesUnacked bool
	// RecordBytes is the size of a Writes record. Default 1536, about
	// kfbridge's padded "sending" record for a short text.
	RecordBytes int
}

// Consumer pulls commands and posts them to WeChat.
type Consumer struct {
	cfg     Config
	record  []byte // the value of every Writes record
	http    *http.Client
	handled atomic.Int64
	failed  atomic.Int64

	mu    sync.Mutex
	token string
}

// New checks cfg and returns a Consumer.
func New(cfg Config) (*Consumer, error) {
	if cfg.JS == nil || cfg.APIBase == "" || cfg.AppID == "" || cfg.Secret == "" {
		return nil, errors.New("naiveegress: JS, APIBase, AppID and Secret are required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Durable == "" {
		cfg.Durable = "naive-egress"
	}
	if cfg.Writes && cfg.WritesBucket == "" {
		return nil, errors.New("naiveegress: Writes needs WritesBucket")
	}
	if cfg.RecordBytes <= 0 {
		cfg.RecordBytes = 1536
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	// Every Writes record is the same: {"state":"sending","pad":"---…"}.
	prefix := `{"state":"sending","pad":"`
	record := []byte(prefix + strings.Repeat("-", max(cfg.RecordBytes-len(prefix)-2, 0)) + `"}`)
	return &Consumer{cfg: cfg, record: record, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, IdleConnTimeout: 90 * time.Second},
	}}, nil
}

// Handled returns the number of commands acknowledged so far (sent or
// refused by WeChat).
func (c *Consumer) Handled() int64 { return c.handled.Load() }

// Failed returns the number of commands WeChat refused.
func (c *Consumer) Failed() int64 { return c.failed.Load() }

// Run consumes WXKF_OUT until ctx ends, then stops pulling, finishes the
// commands in hand and returns nil.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := c.cfg.JS.CreateOrUpdateConsumer(ctx, events.OutboundStreamName, jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 4 * c.cfg.Concurrency,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("naiveegress: consumer: %w", err)
	}
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range c.cfg.Concurrency {
		wg.Go(func() {
			for m := range work {
				c.handle(m)
			}
		})
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { work <- m }, jetstream.PullMaxMessages(2*c.cfg.Concurrency))
	if err != nil {
		close(work)
		wg.Wait()
		return fmt.Errorf("naiveegress: consume: %w", err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	close(work)
	wg.Wait()
	return nil
}

// command is the part of a command CloudEvent the baseline reads.
type command struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// handle sends one command and acknowledges it.
func (c *Consumer) handle(m jetstream.Msg) {
	// The stored subject is wxkf.outp.<partition>.<appid>.<bid>.<openid>.<verb>.
	tok := strings.Split(m.Subject(), ".")
	if len(tok) < 4 {
		c.refused(m)
		return
	}
	bid, openid, verb := tok[len(tok)-3], tok[len(tok)-2], tok[len(tok)-1]
	var cmd command
	if err := json.Unmarshal(m.Data(), &cmd); err != nil {
		c.refused(m)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(cmd.Data, &body); err != nil || body == nil {
		c.refused(m)
		return
	}
	body["touser"] = openid
	path := "/cgi-bin/message/custom/send"
	if verb == events.VerbTyping {
		path = "/cgi-bin/message/custom/business/typing"
	} else if bid != "0" {
		path = "/cgi-bin/message/custom/business/send"
	}
	if bid != "0" {
		body["businessid"] = json.Number(bid)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		c.refused(m)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c.cfg.Writes && verb == events.VerbSend {
		if err := c.writeRecord(ctx, tok[len(tok)-4], cmd.ID); err != nil {
			m.NakWithDelay(time.Second)
			return
		}
	}
	code, err := c.post(ctx, path, payload)
	if err == nil && (code == 40001 || code == 42001) { // token invalid or expired: fetch again once
		c.mu.Lock()
		c.token = ""
		c.mu.Unlock()
		code, err = c.post(ctx, path, payload)
	}
	switch {
	case err != nil:
		m.NakWithDelay(time.Second)
	case code != 0:
		c.refused(m)
	default:
		if c.cfg.Writes && verb == events.VerbSend {
			if err := c.writeResult(ctx, tok[len(tok)-4], bid, openid, cmd.ID); err != nil {
				m.NakWithDelay(time.Second)
				return
			}
		}
		m.Ack()
		c.handled.Add(1)
	}
}

// writeRecord creates the command's key in WritesBucket.
func (c *Consumer) writeRecord(ctx context.Context, appid, id string) error {
	m := nats.NewMsg("$KV." + c.cfg.WritesBucket + "." + appid + "_" + id)
	m.Data = c.record
	if c.cfg.WritesUnacked {
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		return c.cfg.JS.Conn().PublishMsg(m)
	}
	_, err := c.cfg.JS.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(0))
	return err
}

// writeResult publishes the command's result to WXKF_RESULT.
func (c *Consumer) writeResult(ctx context.Context, appid, bid, openid, id string) error {
	data, err := json.Marshal(map[string]any{"specversion": "1.0", "id": id + "-result", "source": "/naive",
		"type": "weixin.kf.result.delivered", "data": map[string]any{"command_id": id, "outcome": "delivered"}})
	if err != nil {
		return err
	}
	m := nats.NewMsg("wxkf.result." + appid + "." + bid + "." + openid + ".delivered")
	m.Data = data
	m.Header.Set(nats.MsgIdHdr, appid+":"+id)
	if c.cfg.WritesUnacked {
		return c.cfg.JS.Conn().PublishMsg(m)
	}
	_, err = c.cfg.JS.PublishMsg(ctx, m)
	return err
}

func (c *Consumer) refused(m jetstream.Msg) {
	m.Ack()
	c.failed.Add(1)
	c.handled.Add(1)
}

// post calls path with the cached token and returns WeChat's errcode.
func (c *Consumer) post(ctx context.Context, path string, payload []byte) (int, error) {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return 0, err
	}
	var out struct {
		ErrCode int `json:"errcode"`
	}
	if err := c.postJSON(ctx, path+"?access_token="+url.QueryEscape(tok), payload, &out); err != nil {
		return 0, err
	}
	return out.ErrCode, nil
}

// accessToken returns the cached token, fetching one from stable_token when
// there is none.
func (c *Consumer) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		return c.token, nil
	}
	req, _ := json.Marshal(map[string]any{"grant_type": "client_credential", "appid": c.cfg.AppID, "secret": c.cfg.Secret})
	var out struct {
		AccessToken string `json:"access_token"`
		ErrCode     int    `json:"errcode"`
	}
	if err := c.postJSON(ctx, "/cgi-bin/stable_token", req, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("naiveegress: stable_token: errcode %d", out.ErrCode)
	}
	c.token = out.AccessToken
	return c.token, nil
}

func (c *Consumer) postJSON(ctx context.Context, pathQuery string, payload []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIBase+pathQuery, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("naiveegress: HTTP %d", resp.StatusCode)
	}
	return json.Unmarshal(body, out)
}
