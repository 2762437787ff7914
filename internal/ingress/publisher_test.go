package ingress

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// inboundStream starts a server with the inbound stream.
func inboundStream(t *testing.T) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	stream, err := js.CreateOrUpdateStream(t.Context(), events.InboundStream())
	if err != nil {
		t.Fatal(err)
	}
	return js, stream
}

func TestPublishInboundDropsRetries(t *testing.T) {
	js, stream := inboundStream(t)
	ctx := t.Context()
	pub := NewPublisher(js)
	msg := wxcodec.Message{FromUserName: "oU", CreateTime: 1, MsgType: "text", MsgID: "123", Content: "hi"}
	in, err := events.NewInbound(testAppID, &msg)
	if err != nil {
		t.Fatal(err)
	}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for i := range 3 {
		ack, err := pub.PublishInbound(ctx, &in, tp)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Duplicate != (i > 0) {
			t.Errorf("publish %d: Duplicate = %v", i, ack.Duplicate)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after 3 identical publishes, want 1", info.State.Msgs)
	}
	raw, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "wxkf.in."+testAppID+".0.oU.text" {
		t.Errorf("subject = %q", raw.Subject)
	}
	for h, want := range map[string]string{
		events.HeaderMsgID: testAppID + ":123", events.HeaderContentType: events.ContentType, events.HeaderTraceParent: tp,
	} {
		if got := raw.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	ev, err := events.ParseInbound(raw.Data)
	if err != nil || ev.Data.Text == nil || ev.Data.Text.Content != "hi" {
		t.Errorf("stored event = %+v, %v", ev, err)
	}
}

func TestPublishInboundBoundedByContext(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	// No stream: nothing acknowledges, and the publish must give up in time.
	pub := NewPublisher(js)
	in := textInbound(t, "1")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := pub.PublishInbound(ctx, &in, ""); err == nil {
		t.Fatal("PublishInbound without a stream succeeded")
	}
	if ctx.Err() == nil {
		// An immediate "no responders" is fine too; what matters is that it
		// did not wait past the deadline, which the test timeout guards.
		t.Log("failed before the deadline")
	}
}

// TestPublishInboundNoStream: a subject no stream captures is retried
// briefly, as a leader election looks the same, then reported.
func TestPublishInboundNoStream(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	pub := NewPublisher(js)
	in := textInbound(t, "1")
	if _, err := pub.PublishInbound(t.Context(), &in, ""); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("publish without a stream: %v, want ErrNoStreamResponse", err)
	}
}

// TestPublishInboundUnanswered: a publish nobody acks (here a plain
// subscriber takes the subject) ends with its context and leaves nothing
// waiting behind.
func TestPublishInboundUnanswered(t *testing.T) {
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s)
	takeInbound(t, nc)
	pub := NewPublisher(js)
	in := textInbound(t, "1")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := pub.PublishInbound(ctx, &in, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered publish: %v, want the context's deadline", err)
	}
	if n := pub.pending(); n != 0 {
		t.Errorf("%d publishes still waiting for an ack", n)
	}
}

// TestPublishInboundAckTimeout: WithAckTimeout bounds publishes nobody
// acks, and its reused timers do not cut later publishes short.
func TestPublishInboundAckTimeout(t *testing.T) {
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s)
	sub := takeInbound(t, nc)
	pub := NewPublisher(js, WithAckTimeout(500*time.Millisecond))
	in := textInbound(t, "1")
	for i := range 3 {
		if _, err := pub.PublishInbound(t.Context(), &in, ""); !errors.Is(err, ErrNoAck) {
			t.Fatalf("unanswered publish %d: %v, want ErrNoAck", i, err)
		}
	}
	if n := pub.pending(); n != 0 {
		t.Errorf("%d publishes still waiting for an ack", n)
	}
	sub.Unsubscribe()
	if _, err := js.CreateOrUpdateStream(t.Context(), events.InboundStream()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		in := textInbound(t, strconv.Itoa(100+i))
		if _, err := pub.PublishInbound(t.Context(), &in, ""); err != nil {
			t.Fatalf("publish %d with a stream: %v", i, err)
		}
	}
}

// TestPublishInboundConcurrent: many publishers at once each get their own
// ack: every event stored once, every sequence handed out once.
func TestPublishInboundConcurrent(t *testing.T) {
	js, stream := inboundStream(t)
	ctx := t.Context()
	pub := NewPublisher(js)
	const workers, each = 32, 50
	seqs := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				msg := wxcodec.Message{FromUserName: "oU", MsgType: "text", MsgID: strconv.Itoa(w*each + i), Content: "hi"}
				in, err := events.NewInbound(testAppID, &msg)
				if err != nil {
					t.Error(err)
					return
				}
				ack, err := pub.PublishInbound(ctx, &in, "")
				if err != nil || ack.Duplicate || ack.Stream != events.InboundStreamName {
					t.Errorf("publish %d/%d: %+v, %v", w, i, ack, err)
					return
				}
				seqs[w] = append(seqs[w], ack.Sequence)
			}
		})
	}
	wg.Wait()
	all := slices.Sorted(slices.Values(slices.Concat(seqs...)))
	for i, seq := range all {
		if seq != uint64(i+1) {
			t.Fatalf("acked sequences %v…, want 1 to %d each once", all[:min(len(all), i+2)], workers*each)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != workers*each || len(all) != workers*each {
		t.Errorf("stream holds %d, acks %d; want %d", info.State.Msgs, len(all), workers*each)
	}
	if n := pub.pending(); n != 0 {
		t.Errorf("%d publishes still waiting for an ack", n)
	}
	if err := pub.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// pending counts the publishes waiting for their ack (for tests).
func (p *Publisher) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting)
}

// textInbound returns the inbound event of a text from oU to the test app
// with WeChat's message id msgID.
func textInbound(t testing.TB, msgID string) events.Inbound {
	t.Helper()
	msg := wxcodec.Message{FromUserName: "oU", MsgType: "text", MsgID: msgID}
	in, err := events.NewInbound(testAppID, &msg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// takeInbound subscribes a plain subscriber, which acks nothing, to the
// inbound subjects on nc, so that publishes there go unanswered.
func takeInbound(t testing.TB, nc *nats.Conn) *nats.Subscription {
	t.Helper()
	sub, err := nc.Subscribe("wxkf.in.>", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}
