package kfbridgetest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/kfbridgetest"
)

// echoBot is the bot under test, written against pkg/events only: it
// answers every text with "echo: <text>", after "typing" when typing is
// set, and reports the ids of its replies on ids.
func echoBot(ctx context.Context, js jetstream.JetStream, consumer string, typing bool, ids chan<- string) (stop func(), err error) {
	cons, err := js.Consumer(ctx, events.InboundStreamName, consumer)
	if err != nil {
		cons, err = js.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{
			Durable: consumer, FilterSubject: events.InboundSubjects, AckPolicy: jetstream.AckExplicitPolicy,
		})
	}
	if err != nil {
		return nil, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := events.ParseInbound(m.Data())
		if err != nil || ev.Data.Text == nil {
			m.Term() // not for this bot
			return
		}
		conv := events.Conversation{AppID: ev.AppID, BusinessID: ev.BusinessID, OpenID: ev.Subject}
		if typing {
			cmd, err := events.NewCommandMsg(conv, events.VerbTyping, "typing-"+ev.ID, "/echobot",
				events.TypingData{Command: events.TypingOn}, "")
			if err == nil {
				_, err = js.PublishMsg(ctx, cmd)
			}
			if err != nil {
				m.Nak()
				return
			}
		}
		id := "echo-" + ev.ID
		cmd, err := events.NewCommandMsg(conv, events.VerbSend, id, "/echobot",
			events.SendData{MsgType: "text", Text: &events.SendText{Content: "echo: " + ev.Data.Text.Content}}, "")
		if err == nil {
			_, err = js.PublishMsg(ctx, cmd)
		}
		if err != nil {
			m.Nak()
			return
		}
		m.Ack()
		ids <- id
	})
	if err != nil {
		return nil, err
	}
	return func() { cc.Drain(); <-cc.Closed() }, nil
}

// startEchoBot connects the echo bot to b as to any bridge, with b's
// credentials, and starts it on its durable consumer "echobot".
func startEchoBot(ctx context.Context, b *kfbridgetest.Bridge, typing bool, ids chan<- string) (stop func(), err error) {
	nc, err := nats.Connect(b.NATSURL(), b.NATSOptions()...)
	if err != nil {
		return nil, err
	}
	var stopBot func()
	js, err := jetstream.New(nc)
	if err == nil {
		stopBot, err = echoBot(ctx, js, "echobot", typing, ids)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return func() { stopBot(); nc.Close() }, nil
}

// A bot's round trip: a user writes, the bot answers with a command, the
// answer reaches the user and the bot's command has its result. In a test,
// kfbridgetest.Start(t) starts the bridge and closes it at the end.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := kfbridgetest.New(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ids := make(chan string, 1)
	stop, err := startEchoBot(ctx, b, false, ids)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	if err := b.PushText(ctx, "oUser-1", "hello"); err != nil {
		log.Fatal(err)
	}
	got, err := b.WaitDelivered(ctx, "oUser-1", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s to %s: %q\n", got[0].MsgType, got[0].OpenID, got[0].Text)
	res, err := b.WaitResult(ctx, <-ids)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Data.Verb, res.Data.Outcome)
	// Output:
	// text to oUser-1: "echo: hello"
	// send delivered
}

// A bot that shows "typing" before it answers, with the restricted NATS
// account of a production bot (it reads from the consumer the bridge made
// for it). The egress keeps a conversation's commands in order, so the
// typing call has reached WeChat when the answer has.
func ExampleBridge_Typing() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := kfbridgetest.New(ctx, kfbridgetest.WithBotUser("echobot", "bot-secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	stop, err := startEchoBot(ctx, b, true, make(chan string, 1))
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	if err := b.PushText(ctx, "oUser-2", "are you there?"); err != nil {
		log.Fatal(err)
	}
	got, err := b.WaitDelivered(ctx, "oUser-2", 1)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range b.Typing("oUser-2") {
		fmt.Println("typing:", c.Command)
	}
	fmt.Println("text:", got[0].Text)
	// Output:
	// typing: Typing
	// text: echo: are you there?
}
