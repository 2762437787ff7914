package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/nats-io/nats.go"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// A bot reads an event: the body of a message from its consumer on
// WXKF_IN (here a sample text message).
func ExampleParseInbound() {
	body := []byte(`{"specversion":"1.0","id":"6054768590064713728","source":"/wxkf/wx0123456789abcdef/0",
	 "type":"weixin.kf.message.text","subject":"oUser","time":"2016-12-18T08:11:10Z",
	 "datacontenttype":"application/json","appid":"wx0123456789abcdef","businessid":"0",
	 "data":{"appid":"wx0123456789abcdef","business_id":"0","openid":"oUser","to_user_name":"gh_97417a04a28d",
	         "create_time":1482048670,"msg_type":"text","msg_id":"6054768590064713728",
	         "text":{"content":"hello"}}}`)
	ev, err := events.ParseInbound(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Type, ev.ID)
	fmt.Println(ev.Data.AppID, ev.Data.BusinessID, ev.Data.OpenID, ev.Time)
	if ev.Data.Text != nil {
		fmt.Printf("text: %q\n", ev.Data.Text.Content)
	}
	// Output:
	// weixin.kf.message.text 6054768590064713728
	// wx0123456789abcdef 0 oUser 2016-12-18 08:11:10 +0000 UTC
	// text: "hello"
}

// A bot replies in the event's conversation: NewCommandMsg builds the NATS
// message, which the bot publishes with JetStream (js.PublishMsg(ctx, msg))
// to get the stream's ack.
func ExampleNewCommandMsg() {
	conv := events.Conversation{AppID: "wx0123456789abcdef", BusinessID: "0", OpenID: "oUser"}
	reply := events.SendData{MsgType: "text", Text: &events.SendText{Content: "hello!"}}
	// The traceparent header of the event being answered continues its trace.
	traceparent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	msg, err := events.NewCommandMsg(conv, events.VerbSend, "reply-6054768590064713728", "/mybot", reply, traceparent)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(msg.Subject)
	for _, k := range slices.Sorted(maps.Keys(msg.Header)) {
		fmt.Printf("%s: %s\n", k, msg.Header.Get(k))
	}
	fmt.Printf("%s\n", msg.Data)
	// Output:
	// wxkf.out.wx0123456789abcdef.0.oUser.send
	// Content-Type: application/cloudevents+json
	// Nats-Msg-Id: reply-6054768590064713728
	// traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// {"specversion":"1.0","id":"reply-6054768590064713728","source":"/mybot","type":"weixin.kf.command.send","data":{"msgtype":"text","text":{"content":"hello!"}}}
}

// A bot reads the outcome of its command: the body of a message from its
// consumer on WXKF_RESULT (here a sample failure).
func ExampleParseResult() {
	body := []byte(`{"specversion":"1.0","id":"reply-6054768590064713728","source":"/wxkf/wx0123456789abcdef/0/egress",
	 "type":"weixin.kf.result.failed","subject":"oUser","time":"2026-11-21T06:30:00Z","datacontenttype":"application/json",
	 "appid":"wx0123456789abcdef","businessid":"0",
	 "data":{"command_id":"reply-6054768590064713728","verb":"send","appid":"wx0123456789abcdef","business_id":"0",
	         "openid":"oUser","outcome":"failed","errcode":45015,"errmsg":"response out of time limit or subscription is canceled",
	         "attempts":1,"reason":"window","time":"2026-11-21T06:30:00Z"}}`)
	res, err := events.ParseResult(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := res.Data
	fmt.Println(d.CommandID, d.Outcome)
	if d.Outcome == events.OutcomeFailed {
		fmt.Printf("reason %s, errcode %d after %d attempt(s)\n", d.Reason, d.ErrCode, d.Attempts)
	}
	// Output:
	// reply-6054768590064713728 failed
	// reason window, errcode 45015 after 1 attempt(s)
}

// ParseCommand reads a command as the egress does: fully decoded, or
// refused with an error that still names the conversation and id (here a
// bot's test checks a command it built, then a malformed bare one).
func ExampleParseCommand() {
	conv := events.Conversation{AppID: "wx0123456789abcdef", BusinessID: "0", OpenID: "oUser"}
	reply := events.SendData{MsgType: "image", Image: &events.SendImage{URL: "https://example.com/cat.jpg"}}
	msg, err := events.NewCommandMsg(conv, events.VerbSend, "reply-1", "/mybot", reply, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	cmd, err := events.ParseCommand(msg.Subject, msg.Header, msg.Data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cmd.ID, cmd.Verb, cmd.Conversation, cmd.Send.MsgType, cmd.Send.Image.URL)

	// Bare data, id in the header; null is not an image.
	hdr := nats.Header{events.HeaderMsgID: {"reply-2"}}
	_, err = events.ParseCommand(msg.Subject, hdr, []byte(`{"msgtype":"image","image":null}`))
	var cerr *events.CommandError
	if errors.As(err, &cerr) {
		fmt.Println(cerr.ID, cerr.Conversation, errors.Is(err, events.ErrInvalid))
		fmt.Println(err)
	}
	// Output:
	// reply-1 send wx0123456789abcdef.0.oUser image https://example.com/cat.jpg
	// reply-2 wx0123456789abcdef.0.oUser true
	// command "reply-2" (send on wx0123456789abcdef.0.oUser): events: invalid event: command data: image: want an object, got null
}

// A deciding bot answers a handover request (the body is the event being
// stored) with a DecideAnswer; the ingress reads it with ParseDecideAnswer.
func ExampleParseDecideAnswer() {
	subject, _ := events.DecideSubject("wx0123456789abcdef", "0", "oUser")
	body, _ := json.Marshal(events.DecideAnswer{Transfer: true})
	ans, err := events.ParseDecideAnswer(body)
	fmt.Println(subject, string(body), ans.Transfer, err)
	_, err = events.ParseDecideAnswer([]byte(`{}`))
	fmt.Println(err)
	// Output:
	// wxkf.decide.wx0123456789abcdef.0.oUser {"transfer":true} true <nil>
	// events: invalid event: decide answer: transfer is required
}
