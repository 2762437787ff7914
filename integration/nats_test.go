package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// connectNATS connects the test to NATS at urls (the containers' published
// client ports), reconnecting for ever; the connection is closed when the
// test ends.
func connectNATS(t testing.TB, urls ...string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Name("kfbridge-integration"),
		nats.IgnoreDiscoveredServers(), // the cluster's own addresses are not reachable from here
		nats.MaxReconnects(-1),
		nats.ReconnectWait(200*time.Millisecond),
		nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatalf("connect to %v: %v", urls, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// storedMsg is one message read back from a stream.
type storedMsg struct {
	subject string
	msgID   string // Nats-Msg-Id
	data    []byte
}

// readStream reads every message of stream, in order.
func readStream(ctx context.Context, js jetstream.JetStream, stream string) ([]storedMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	last := s.CachedInfo().State.LastSeq
	if last == 0 {
		return nil, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var out []storedMsg
	for {
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			out = append(out, storedMsg{subject: m.Subject(), msgID: m.Headers().Get(nats.MsgIdHdr), data: m.Data()})
			if md.Sequence.Stream >= last {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("read %s: %w after %d messages", stream, ctx.Err(), len(out))
			}
		}
	}
}

// publishCommand publishes a command as a structured CloudEvent whose id is
// also its Nats-Msg-Id, as a bot does.
func publishCommand(ctx context.Context, js jetstream.JetStream, conv events.Conversation, verb, id string, data any) error {
	msg, err := events.NewCommandMsg(conv, verb, id, "/kfbridge/integration", data, "")
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(ctx, msg)
	return err
}

// publishUntilAcked publishes a command again (same id: the stream drops a
// copy it already holds) until JetStream acks it or the deadline passes.
// It returns the number of tries.
func publishUntilAcked(ctx context.Context, js jetstream.JetStream, conv events.Conversation, id string, data any, deadline time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	for tries := 1; ; tries++ {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := publishCommand(pctx, js, conv, events.VerbSend, id, data)
		pcancel()
		if err == nil {
			return tries, nil
		}
		select {
		case <-ctx.Done():
			return tries, fmt.Errorf("command %s not acknowledged: %w", id, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// textCommand is the data of a text send command.
func textCommand(content string) events.SendData {
	return events.SendData{MsgType: "text", Text: &events.SendText{Content: content}}
}

// readResults reads the result stream: the results of each command id.
func readResults(ctx context.Context, js jetstream.JetStream) (map[string][]events.ResultData, error) {
	msgs, err := readStream(ctx, js, events.ResultStreamName)
	if err != nil {
		return nil, err
	}
	out := map[string][]events.ResultData{}
	for _, m := range msgs {
		var ev events.ResultEvent
		if err := json.Unmarshal(m.data, &ev); err != nil {
			return nil, fmt.Errorf("result on %s: %w", m.subject, err)
		}
		out[ev.Data.CommandID] = append(out[ev.Data.CommandID], ev.Data)
	}
	return out, nil
}

// streamLeader returns the server leading stream ("" while there is none).
func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	if c := s.CachedInfo().Cluster; c != nil {
		return c.Leader, nil
	}
	return "", nil
}

// moveStreamLeader asks stream's leader to step down in favour of
// preferred (nats-server 2.11+), unless preferred already leads it.
func moveStreamLeader(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, stream, preferred string) error {
	if l, err := streamLeader(ctx, js, stream); err == nil && l == preferred {
		return nil
	}
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": preferred}})
	return jsAPI(ctx, nc, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, req)
}

// moveConsumerLeader is moveStreamLeader for a consumer.
func moveConsumerLeader(ctx context.Context, nc *nats.Conn, stream, consumer, preferred string) error {
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": preferred}})
	return jsAPI(ctx, nc, "$JS.API.CONSUMER.LEADER.STEPDOWN."+stream+"."+consumer, req)
}

// jsAPI sends a JetStream API request and checks its error field.
func jsAPI(ctx context.Context, nc *nats.Conn, subject string, req []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := nc.RequestWithContext(ctx, subject, req)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	var r struct {
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %w: %d %s", subject, errJSAPI, r.Error.Code, r.Error.Description)
	}
	return nil
}

// errJSAPI marks an error answer of the JetStream API.
var errJSAPI = errors.New("jetstream api error")

// pendingCommands sums, over the egress's partition consumers, the commands
// handed out and not yet acknowledged, and those not yet handed out.
func pendingCommands(ctx context.Context, js jetstream.JetStream) (ackPending, pending int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.OutboundStreamName)
	if err != nil {
		return 0, 0, err
	}
	for info, err := range consumerInfos(ctx, s) {
		if err != nil {
			return 0, 0, err
		}
		ackPending += info.NumAckPending
		pending += int(info.NumPending)
	}
	return ackPending, pending, nil
}

// consumerInfos iterates over the infos of stream's consumers.
func consumerInfos(ctx context.Context, s jetstream.Stream) func(func(*jetstream.ConsumerInfo, error) bool) {
	return func(yield func(*jetstream.ConsumerInfo, error) bool) {
		l := s.ListConsumers(ctx)
		for info := range l.Info() {
			if !yield(info, nil) {
				return
			}
		}
		if err := l.Err(); err != nil {
			yield(nil, err)
		}
	}
}
