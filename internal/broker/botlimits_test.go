package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
)

// TestBotAccountLimits: a bot account holds at most BotMaxConnections
// connections (the next is refused, another bot still connects) and a
// connection at most BotMaxSubscriptions subscriptions (the next closes
// it), so one bot cannot exhaust the server's memory.
func TestBotAccountLimits(t *testing.T) {
	users := []config.User{{User: "bot", Password: "bot-secret"}, {User: "other", Password: "other-secret"}}
	b, _ := openEmbedded(t, users, nil)
	url := b.Server.ClientURL()
	var conns []*nats.Conn
	for range BotMaxConnections {
		conns = append(conns, connectBot(t, url, "bot", "bot-secret"))
	}
	if nc, err := nats.Connect(url, nats.UserInfo("bot", "bot-secret")); err == nil {
		nc.Close()
		t.Errorf("connection %d of one bot accepted", BotMaxConnections+1)
	} else if !strings.Contains(strings.ToLower(err.Error()), "maximum account active connections") {
		t.Errorf("connection %d: %v, want the account limit", BotMaxConnections+1, err)
	}
	connectBot(t, url, "other", "other-secret") // another bot's account is not full
	if err := b.Conn.Flush(); err != nil {      // nor is the bridge's
		t.Errorf("bridge connection: %v", err)
	}

	nc := conns[0]
	closed := make(chan error, 1)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case closed <- err:
		default:
		}
	})
	for i := range BotMaxSubscriptions {
		if _, err := nc.SubscribeSync(fmt.Sprintf("wxkf.in.s%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("%d subscriptions: %v", BotMaxSubscriptions, err)
	}
	if _, err := nc.SubscribeSync("wxkf.in.one-more"); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	natstest.WaitFor(t, "the server's error on the over-subscribed connection", func() bool { return len(closed) > 0 })
	if err := <-closed; !errors.Is(err, nats.ErrMaxSubscriptionsExceeded) && !strings.Contains(strings.ToLower(err.Error()), "maximum subscriptions") {
		t.Errorf("subscription %d: %v, want the subscription limit", BotMaxSubscriptions+1, err)
	}
}
