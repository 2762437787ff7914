package kfctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// startTailStreams runs a JetStream server with the inbound and result
// streams.
func startTailStreams(tb testing.TB) (*server.Server, jetstream.JetStream) {
	tb.Helper()
	s := natstest.RunServer(tb)
	_, js := natstest.Connect(tb, s)
	for _, cfg := range []jetstream.StreamConfig{events.InboundStream(), events.ResultStream()} {
		if _, err := js.CreateStream(tb.Context(), cfg); err != nil {
			tb.Fatalf("create stream %s: %v", cfg.Name, err)
		}
	}
	return s, js
}

// publishPush publishes the event of a push built from spec, as the
// ingress does (with its Nats-Msg-Id), and returns its subject.
func publishPush(tb testing.TB, js jetstream.JetStream, spec wxpush.Spec) string {
	tb.Helper()
	spec.OpenID, spec.To, spec.CreateTime = demo.OpenID, demo.OriginalID, time.Now().Unix()
	m, err := spec.Message()
	if err != nil {
		tb.Fatal(err)
	}
	in, err := events.NewInbound(demo.AppID, &m)
	if err != nil {
		tb.Fatal(err)
	}
	msg := nats.NewMsg(in.Subject)
	msg.Header.Set(nats.MsgIdHdr, in.MsgID())
	msg.Data = in.AppendJSON(nil)
	if _, err := js.PublishMsg(tb.Context(), msg); err != nil {
		tb.Fatal(err)
	}
	return in.Subject
}

// publishResult publishes a result of command id for appid.
func publishResult(tb testing.TB, js jetstream.JetStream, appid, id, outcome string, code int) {
	tb.Helper()
	d := events.ResultData{CommandID: id, Verb: "send", AppID: appid, BusinessID: "0", OpenID: user,
		Outcome: outcome, ErrCode: code, ErrMsg: "ok", Attempts: 1, Time: time.Now()}
	if code != 0 {
		d.Reason, d.ErrMsg = "window", "response out of time limit"
	}
	body, err := json.Marshal(events.NewResult(d))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := js.Publish(tb.Context(), events.ResultPrefix+appid+".0."+user+"."+outcome, body); err != nil {
		tb.Fatal(err)
	}
}

// tail runs kfctl tail against url with args and returns its output.
func tail(tb testing.TB, ctx context.Context, url string, args ...string) (string, error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	err := Run(ctx, Config{Args: append([]string{"--nats", url, "tail"}, args...), Stdout: &out, Stderr: &errOut})
	return out.String(), err
}

func TestTail(t *testing.T) {
	s, js := startTailStreams(t)
	subjects := []string{
		publishPush(t, js, wxpush.Spec{Kind: wxpush.KindText, MsgID: "6054768590064713728", Content: "first\nline"}),
		publishPush(t, js, wxpush.Spec{Kind: wxpush.KindUserEnterTempSession, BusinessID: 9, Content: "card"}),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	out, err := tail(t, ctx, s.ClientURL(), "--all", "--limit", "2")
	if err != nil {
		t.Fatalf("tail --all --limit 2: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail printed %d lines, want 2:\n%s", len(lines), out)
	}
	for i, want := range []string{
		subjects[0] + ` id=6054768590064713728 text "first\nline"`,
		subjects[1] + " id=",
	} {
		if !strings.HasPrefix(lines[i], []string{"1 ", "2 "}[i]) || !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want sequence %d and %q", i, lines[i], i+1, want)
		}
	}
	if !strings.HasSuffix(lines[1], `event user_enter_tempsession session_from="card"`) {
		t.Errorf("line 1 = %q, want the event and its SessionFrom", lines[1])
	}

	out, err = tail(t, ctx, s.ClientURL(), "--all", "--limit", "2", "--json")
	if err != nil {
		t.Fatalf("tail --json: %v", err)
	}
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail --json printed %d lines, want 2:\n%s", len(lines), out)
	}
	for i, line := range lines {
		ev, err := events.ParseInbound([]byte(line))
		if err != nil {
			t.Fatalf("line %d: ParseInbound(%q): %v", i, line, err)
		}
		if ev.Subject == "" || !strings.HasSuffix(subjects[i], "."+ev.Data.OpenID+"."+kindToken(ev)) {
			t.Errorf("line %d is %s, want the event of %s", i, ev.Type, subjects[i])
		}
	}
}

// kindToken returns the last subject token of ev.
func kindToken(ev events.InboundEvent) string {
	if ev.Data.Event != nil {
		return ev.Data.Event.Name
	}
	return ev.Data.MsgType
}

// waitConsumer waits until stream has a consumer.
func waitConsumer(t *testing.T, ctx context.Context, js jetstream.JetStream, stream string) {
	t.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("no consumer on %s: %v", stream, err)
		}
		if info.State.Consumers > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no consumer on %s", stream)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestTailNewOnly(t *testing.T) {
	s, js := startTailStreams(t)
	publishPush(t, js, wxpush.Spec{Kind: wxpush.KindText, MsgID: "1", Content: "old"})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	type done struct {
		out string
		err error
	}
	c := make(chan done, 1)
	go func() {
		out, err := tail(t, ctx, s.ClientURL(), "--subject", "wxkf.in.*.*.*.text", "--limit", "1", "--json")
		c <- done{out, err}
	}()
	waitConsumer(t, ctx, js, events.InboundStreamName)                  // then publish
	publishPush(t, js, wxpush.Spec{Kind: wxpush.KindImage, MsgID: "2"}) // filtered out
	publishPush(t, js, wxpush.Spec{Kind: wxpush.KindText, MsgID: "3"})  // printed
	publishPush(t, js, wxpush.Spec{Kind: wxpush.KindText, MsgID: "3"})  // duplicate: dropped by JetStream
	r := <-c
	if r.err != nil {
		t.Fatalf("tail: %v", r.err)
	}
	if strings.Contains(r.out, `"old"`) || !strings.Contains(r.out, `"id":"3"`) || strings.Count(r.out, "\n") != 1 {
		t.Errorf("tail (new only) printed:\n%s\nwant only the event with id 3", r.out)
	}
}

func TestTailResults(t *testing.T) {
	s, js := startTailStreams(t)
	publishPush(t, js, wxpush.Spec{Kind: wxpush.KindText, MsgID: "7"}) // not a result
	publishResult(t, js, "wxother", "c-0", "delivered", 0)
	publishResult(t, js, appID, "c-1", "delivered", 0)
	publishResult(t, js, appID, "c-2", "failed", 45015)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := tail(t, ctx, s.ClientURL(), "--results", "--appid", appID, "--all", "--limit", "2")
	if err != nil {
		t.Fatalf("tail --results: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		events.ResultPrefix + appID + ".0." + user + ".delivered command=c-1 send delivered errcode=0 attempts=1",
		events.ResultPrefix + appID + ".0." + user + `.failed command=c-2 send failed errcode=45015 attempts=1 reason=window errmsg="response out of time limit"`,
	}
	if len(lines) != 2 || !strings.HasSuffix(lines[0], want[0]) || !strings.HasSuffix(lines[1], want[1]) {
		t.Errorf("tail --results --appid printed:\n%s\nwant lines ending\n%s", out, strings.Join(want, "\n"))
	}
}

func TestTailErrors(t *testing.T) {
	s := natstest.RunServer(t) // no stream
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"no stream", nil, jetstream.ErrStreamNotFound},
		{"no result stream", []string{"--results"}, jetstream.ErrStreamNotFound},
		{"subject outside the stream", []string{"--subject", "wxkf.out.>"}, ErrUsage},
		{"subject of the other stream", []string{"--results", "--subject", "wxkf.in.>"}, ErrUsage},
		{"subject with a space", []string{"--subject", "wxkf.in. >"}, ErrUsage},
		{"subject and appid", []string{"--subject", "wxkf.in.>", "--appid", appID}, ErrUsage},
		{"bad appid", []string{"--appid", "a.b"}, ErrUsage},
		{"negative limit", []string{"--limit", "-1"}, ErrUsage},
		{"argument", []string{"wxkf.in.>"}, ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := tail(t, ctx, s.ClientURL(), tt.args...); !errors.Is(err, tt.want) {
				t.Errorf("tail %q = %v, want %v", tt.args, err, tt.want)
			}
		})
	}
}

// TestTailInvalid checks how bodies that are not kfbridge events are shown.
func TestTailInvalid(t *testing.T) {
	s, js := startTailStreams(t)
	if _, err := js.Publish(t.Context(), "wxkf.in.a.0.b.text", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "wxkf.result.a.0.b.failed", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--all", "--limit", "1"}, " wxkf.in.a.0.b.text invalid event: "},
		{[]string{"--all", "--limit", "1", "--results"}, " wxkf.result.a.0.b.failed invalid result: events: invalid event: result specversion \"\"\n"},
		{[]string{"--all", "--limit", "1", "--json"}, "not json\n"},
	} {
		out, err := tail(t, ctx, s.ClientURL(), tt.args...)
		if err != nil || !strings.HasPrefix(out, "1 ") && tt.args[len(tt.args)-1] != "--json" || !strings.Contains(out, tt.want) {
			t.Errorf("tail %q = %q, %v; want %q", tt.args, out, err, tt.want)
		}
	}
}

// TestTailStops checks that tail returns nil when ctx ends.
func TestTailStops(t *testing.T) {
	s, js := startTailStreams(t)
	ctx, cancel := context.WithCancel(t.Context())
	c := make(chan error, 1)
	go func() {
		_, err := tail(t, ctx, s.ClientURL())
		c <- err
	}()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	waitConsumer(t, wctx, js, events.InboundStreamName)
	cancel()
	if err := <-c; err != nil {
		t.Errorf("tail after Ctrl-C = %v, want nil", err)
	}
}

// TestTailBoth: --events --results reads both streams; --subject picks the
// stream by its prefix.
func TestTailBoth(t *testing.T) {
	s, js := startTailStreams(t)
	publishPush(t, js, wxpush.Spec{Kind: wxpush.KindText, MsgID: "71", Content: "both"})
	publishResult(t, js, appID, "c-both", "delivered", 0)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := tail(t, ctx, s.ClientURL(), "--events", "--results", "--all", "--limit", "2", "--json")
	if err != nil {
		t.Fatalf("tail --events --results: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("tail --events --results printed %d lines, want 2:\n%s", len(lines), out)
	}
	var in, res int
	for _, line := range lines {
		if _, err := events.ParseResult([]byte(line)); err == nil {
			res++
		} else if _, err := events.ParseInbound([]byte(line)); err == nil {
			in++
		} else {
			t.Errorf("line %q is neither an event nor a result", line)
		}
	}
	if in != 1 || res != 1 {
		t.Errorf("tail --events --results printed %d events and %d results, want 1 and 1:\n%s", in, res, out)
	}
	out, err = tail(t, ctx, s.ClientURL(), "--subject", events.ResultSubjects, "--all", "--limit", "1")
	if err != nil || !strings.Contains(out, "command=c-both send delivered") {
		t.Errorf("tail --subject %s = %q, %v; want the result", events.ResultSubjects, out, err)
	}
	if _, err := tail(t, ctx, s.ClientURL(), "--events", "--results", "--subject", events.ResultSubjects); !errors.Is(err, ErrUsage) {
		t.Errorf("tail --events --results --subject = %v, want ErrUsage", err)
	}
}

// TestTailHandover: tail shows a message's handled_by and a transferred
// event as such.
func TestTailHandover(t *testing.T) {
	s, js := startTailStreams(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msg := &wxcodec.Message{ToUserName: "gh_1", FromUserName: "oU", CreateTime: 1714112445, MsgType: "text", MsgID: "5", Content: "人工"}
	in, err := events.NewInbound("wxapp", msg)
	if err != nil {
		t.Fatal(err)
	}
	in.HandledBy = events.HandledByHumanPending
	if _, err := js.PublishMsg(ctx, in.Msg("")); err != nil {
		t.Fatal(err)
	}
	tr := `{"specversion":"1.0","id":"5-transferred","source":"/wxkf/wxapp/0","type":"weixin.kf.conversation.transferred","subject":"oU","time":"2024-04-26T06:20:45Z","datacontenttype":"application/json","appid":"wxapp","businessid":"0","data":{"appid":"wxapp","business_id":"0","openid":"oU","message_id":"5","decided_by":"bot","transferred_at":"2024-04-26T06:20:45Z","until":"2024-04-26T06:50:45Z"}}`
	if _, err := js.Publish(ctx, "wxkf.in.wxapp.0.oU.conversation_transferred", []byte(tr)); err != nil {
		t.Fatal(err)
	}
	out, err := tail(t, ctx, s.ClientURL(), "--all", "--limit", "2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `id=5 text handled_by=human_pending "人工"`) || !strings.Contains(out, "id=5-transferred handed to human agents") {
		t.Errorf("tail printed\n%s", out)
	}
}

// TestTailReplyBudget: tail shows the reply budget an event granted.
func TestTailReplyBudget(t *testing.T) {
	s, js := startTailStreams(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msg := &wxcodec.Message{ToUserName: "gh_1", FromUserName: "oU", CreateTime: 1714112445, MsgType: "text", MsgID: "6", Content: "hi"}
	in, err := events.NewInbound("wxapp", msg)
	if err != nil {
		t.Fatal(err)
	}
	in.Budget = &events.ReplyBudget{Remaining: 5, ExpiresAt: time.Unix(1714112445, 0).Add(48 * time.Hour), Trigger: events.TriggerMessage}
	if _, err := js.PublishMsg(ctx, in.Msg("")); err != nil {
		t.Fatal(err)
	}
	out, err := tail(t, ctx, s.ClientURL(), "--all", "--limit", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `id=6 text reply_budget=5/2024-04-28T06:20:45Z "hi"`) {
		t.Errorf("tail printed\n%s", out)
	}
}
