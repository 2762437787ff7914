package kfbridgetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// Message is one message that reached WeChat: a send call WeChat
// accepted, which the user sees.
type Message struct {
	// BusinessID is the conversation's sub-merchant BusinessId, "0" for
	// the main account.
	BusinessID string
	// OpenID is the user it was sent to.
	OpenID string
	// MsgType is the message's msgtype: text, image, link or
	// miniprogrampage.
	MsgType string
	// Text is the content of a text message, "" for other types.
	Text string
	// Body is the send call's JSON body exactly as WeChat received it.
	Body json.RawMessage
}

// Typing is one typing call WeChat accepted.
type Typing struct {
	// BusinessID and OpenID name the conversation, as in [Message].
	BusinessID string
	OpenID     string
	// Command is [events.TypingOn] or [events.TypingOff].
	Command string
}

// Delivered returns the messages that reached the user openid so far, in
// the order WeChat accepted them.
func (b *Bridge) Delivered(openid string) []Message {
	var out []Message
	for _, d := range b.pg.Sim().Delivered(demo.AppID) {
		if d.OpenID != openid {
			continue
		}
		m := Message{BusinessID: d.BusinessID, OpenID: d.OpenID, MsgType: d.MsgType, Body: d.Body}
		if d.MsgType == "text" {
			var body struct {
				Text struct {
					Content string `json:"content"`
				} `json:"text"`
			}
			if err := json.Unmarshal(d.Body, &body); err == nil {
				m.Text = body.Text.Content
			}
		}
		out = append(out, m)
	}
	return out
}

// WaitDelivered waits until at least n messages reached the user openid
// and returns them all. It fails when ctx ends first; a ctx without
// deadline is bounded by [WithWaitTimeout].
func (b *Bridge) WaitDelivered(ctx context.Context, openid string, n int) ([]Message, error) {
	var got []Message
	err := b.poll(ctx, fmt.Sprintf("%d messages to %s", n, openid), func() (bool, error) {
		got = b.Delivered(openid)
		return len(got) >= n, nil
	})
	if err != nil {
		return got, fmt.Errorf("%w (%d delivered)", err, len(got))
	}
	return got, nil
}

// Typing returns the typing calls of conversations with the user openid
// so far, in the order WeChat accepted them.
func (b *Bridge) Typing(openid string) []Typing {
	var out []Typing
	for _, c := range b.pg.Sim().Typing(demo.AppID) {
		if c.OpenID == openid {
			out = append(out, Typing{BusinessID: c.BusinessID, OpenID: c.OpenID, Command: c.Command})
		}
	}
	return out
}

// Results returns every result event stored on WXKF_RESULT so far, in
// stream order: the outcome of each command the bot published. Each call
// reads only the results stored since the previous call of Results or
// [Bridge.WaitResult] (the bridge keeps those it read, so a result the
// stream's limits removed since then is still returned).
func (b *Bridge) Results(ctx context.Context) ([]events.ResultEvent, error) {
	all, err := b.readResults(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Clone(all), nil
}

// readResults reads the results stored on WXKF_RESULT after the cursor
// into the cache and returns the cache, which the caller must not modify:
// one stream info request, then one message request per new result.
func (b *Bridge) readResults(ctx context.Context) ([]events.ResultEvent, error) {
	ctx, cancel := b.opts.bound(ctx)
	defer cancel()
	b.results.mu.Lock()
	defer b.results.mu.Unlock()
	r := &b.results
	s, err := b.js.Stream(ctx, events.ResultStreamName)
	if err != nil {
		return nil, fmt.Errorf("kfbridgetest: results: %w", err)
	}
	info := s.CachedInfo() // Stream has just fetched it
	if info.State.Msgs == 0 {
		r.next = max(r.next, info.State.LastSeq+1)
		return r.cache[:len(r.cache):len(r.cache)], nil
	}
	for seq := max(r.next, info.State.FirstSeq); seq <= info.State.LastSeq; seq++ {
		r.gets++
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			r.next = seq + 1
			continue // removed by the stream's limits
		}
		if err != nil {
			return nil, fmt.Errorf("kfbridgetest: result %d: %w", seq, err)
		}
		ev, err := events.ParseResult(m.Data)
		if err != nil {
			return nil, fmt.Errorf("kfbridgetest: result %d: %w", seq, err)
		}
		r.cache = append(r.cache, ev)
		r.next = seq + 1
	}
	return r.cache[:len(r.cache):len(r.cache)], nil
}

// WaitResult waits for the result of the command commandID and returns
// it (the first, if the id was reused). It fails when ctx ends first; a
// ctx without deadline is bounded by [WithWaitTimeout].
func (b *Bridge) WaitResult(ctx context.Context, commandID string) (events.ResultEvent, error) {
	var found events.ResultEvent
	seen := 0 // results already compared with commandID
	err := b.poll(ctx, "the result of command "+commandID, func() (bool, error) {
		// Each poll is bounded by its own call: the wait's bound is poll's.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		all, err := b.readResults(rctx)
		if err != nil {
			return false, err
		}
		for _, r := range all[seen:] {
			if r.Data.CommandID == commandID {
				found = r
				return true, nil
			}
		}
		seen = len(all)
		return false, nil
	})
	return found, err
}

// resultCache holds the results [Bridge.Results] read so far: the cursor
// is the next stream sequence to read.
type resultCache struct {
	mu    sync.Mutex
	next  uint64
	cache []events.ResultEvent
	gets  int // message requests made, the cost the tests bound
}
