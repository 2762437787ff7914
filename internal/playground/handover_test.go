package playground_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/playground"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestDemoHandover: the demo runs the deciding example bot: a user asking
// for "人工" is answered transfer_customer_service and a transferred event
// is stored; the user's next message says handled_by human_pending and
// stays with the bots.
func TestDemoHandover(t *testing.T) {
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
	cfg.Ingress.Listen = "127.0.0.1:0"
	cfg.Ingress.AdminListen = "127.0.0.1:0"
	cfg.Egress.Partitions = 4
	pg, err := playground.New(&cfg, playground.Options{SimListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan bridge.Endpoints, 1)
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(ctx, &cfg, bridge.Options{Ingress: true, Egress: true, Extra: pg.Run,
			OnReady: func(e bridge.Endpoints) { ready <- e }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	var ends bridge.Endpoints
	select {
	case ends = <-ready:
	case err := <-done:
		t.Fatalf("Run() = %v before ready", err)
	case <-time.After(30 * time.Second):
		t.Fatal("bridge not ready")
	}
	nc, err := nats.Connect(ends.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// The handover bot answers once its subscription is in: a decision
	// request with no responder is answered by the server at once.
	push := func(content string) string {
		t.Helper()
		var out strings.Builder
		err := wxpush.RunPush(t.Context(), wxpush.PushConfig{
			URL: "http://" + ends.Ingress, SimURL: pg.SimURL(),
			Spec: wxpush.Spec{Kind: "text", Content: content, OpenID: "oDemoHandover"},
		}, &out)
		if err != nil {
			t.Fatalf("push: %v\n%s", err, out.String())
		}
		return out.String()
	}
	var out string
	if !natstest.Poll(time.Now().Add(20*time.Second), func() bool {
		out = push("我要人工")
		return strings.Contains(out, wxpush.AnswerTransfer)
	}) {
		t.Fatalf("push asking for 人工 answered %s, want a transfer", out)
	}
	cons, err := js.OrderedConsumer(t.Context(), events.InboundStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"wxkf.in.*.*.oDemoHandover.conversation_transferred"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second)); err != nil {
		t.Fatalf("no transferred event: %v", err)
	}
	if out := push("are you there?"); strings.Contains(out, wxpush.AnswerTransfer) {
		t.Errorf("a message without 人工 answered %s, want success", out)
	}
	last, err := js.Stream(t.Context(), events.InboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := last.GetLastMsgForSubject(t.Context(), "wxkf.in.*.*.oDemoHandover.text")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.ParseInbound(m.Data)
	if err != nil || ev.Data.HandledBy != events.HandledByHumanPending {
		t.Errorf("next message handled_by %q, %v; want human_pending", ev.Data.HandledBy, err)
	}
}
