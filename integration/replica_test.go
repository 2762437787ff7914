package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestEgressReplicaLoss runs three egress replicas on one NATS and kills
// one (SIGKILL) in the middle of send calls, so it dies holding
// unacknowledged commands that took effect at WeChat. Its commands go to
// the other replicas after AckWait. Every command ends in exactly one
// result; WeChat gets each command at most once, and exactly once when its
// result says delivered; a command the dead replica was sending ends as
// maybe_delivered (it may or may not be at WeChat: it is not resent); each
// conversation's messages reach WeChat in the order they were published.
func TestEgressReplicaLoss(t *testing.T) {
	const (
		users    = 40
		perUser  = 5 // a user message allows 5 sends
		ackWait  = 4 * time.Second
		latency  = 2 * time.Second // send calls long enough to die in
		sendPath = "/cgi-bin/message/custom/send"
	)
	st := newStack(t)
	node := st.startNATS("nats", false)
	sim := st.startWeChat(latency)
	env := bridgeEnv("nats://nats:4222", 1, map[string]string{"KFBRIDGE_EGRESS_ACK_WAIT": ackWait.String()})
	ctx := t.Context()
	var replicas []string
	byIP := map[string]string{} // replica container IP -> name
	names := []string{"egress-0", "egress-1", "egress-2"}
	containers := []*testcontainers.DockerContainer{st.startEgress(names[0], env), st.startEgress(names[1], env), st.startEgress(names[2], env)}
	for i, c := range containers {
		replicas = append(replicas, endpoint(t, c, egressPort, "http"))
		ip, err := c.ContainerIP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byIP[ip] = names[i]
	}

	_, js := connectNATS(t, node.clientURL(t))
	wx := newWeChat(t, "http://unused.invalid", endpoint(t, sim, wechatPort, "http"))
	conv := func(u int) events.Conversation {
		return events.Conversation{AppID: demo.AppID, BusinessID: "0", OpenID: fmt.Sprintf("oIT-replica-%02d", u)}
	}
	for u := range users {
		if err := wx.interact(ctx, "0", conv(u).OpenID, "text"); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for seq := range perUser {
		for u := range users {
			id := fmt.Sprintf("rl-%02d-%d", u, seq)
			if err := publishCommand(ctx, js, conv(u), events.VerbSend, id, textCommand(id)); err != nil {
				t.Fatalf("publish %s: %v", id, err)
			}
			ids = append(ids, id)
		}
	}

	// Kill a replica in the middle of a send call, once the first round of
	// sends is over: the simulated WeChat has taken the call into effect and
	// holds its answer back for the latency; the victim dies well before
	// the answer. The victim is whichever replica is sending: which replicas
	// the server pins the partitions to first is up to it (the oldest
	// waiting pull), so a replica named in advance may hold none.
	k := newKiller(t)
	sender := func(remote string) string { // the replica calling from remote
		host, _, _ := strings.Cut(remote, ":")
		return byIP[host]
	}
	victim := -1
	waitFor(t, 90*time.Second, "a send call to begin", func() bool {
		st, err := wx.stats(ctx)
		if err != nil || st.Total(sendPath) < users {
			return false
		}
		for _, c := range st.Answering {
			// Begun less than half the latency ago: the victim dies well
			// before WeChat's answer (a quarter was too tight for a loaded
			// machine to catch in 30 s now and then).
			if name := sender(c.Remote); name != "" && c.Path == sendPath && time.Since(c.Start) < latency/2 {
				victim = slices.Index(names, name)
				return true
			}
		}
		return false
	})
	victimName := names[victim]
	k.kill(t, containers[victim])
	if _, err := scrape(ctx, replicas[victim]); err == nil {
		t.Fatalf("the victim still answers after the kill")
	}
	// The unacknowledged commands now include the victim's.
	ackPending, pending, err := pendingCommands(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	// The calls the victim hung up on: commands it held, taken into effect
	// at WeChat, whose answer it never saw.
	var held int
	waitFor(t, 10*time.Second, "WeChat to see the victim hang up", func() bool {
		st, err := wx.stats(ctx)
		if err != nil {
			return false
		}
		held = 0
		for _, c := range st.Abandoned {
			if sender(c.Remote) == victimName && c.Path == sendPath {
				held++
			}
		}
		return held > 0
	})

	var results map[string][]events.ResultData
	handover := waitFor(t, 2*time.Minute, "a result for every command", func() bool {
		results, err = readResults(ctx, js)
		return err == nil && len(results) >= len(ids)
	})
	delivered, err := wx.delivered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	atWeChat := map[string]int{}
	order := map[string][]string{}
	sentBy := map[string]int{} // replica name -> messages it got to WeChat
	for _, d := range delivered {
		id := deliveredText(d)
		atWeChat[id]++
		sentBy[sender(d.Remote)]++
		order[d.OpenID] = append(order[d.OpenID], id)
	}
	outcomes := map[string]int{}
	maybe, maybeAtWeChat := 0, 0
	for _, id := range ids {
		rs := results[id]
		if len(rs) != 1 {
			t.Errorf("command %s has %d results, want 1: %+v", id, len(rs), rs)
			continue
		}
		r := rs[0]
		outcomes[r.Outcome+"/"+r.Reason]++
		switch {
		case r.Outcome == events.OutcomeDelivered:
			if atWeChat[id] != 1 {
				t.Errorf("command %s delivered, but WeChat got it %d times", id, atWeChat[id])
			}
		case r.Reason == "maybe_delivered":
			maybe++
			maybeAtWeChat += atWeChat[id]
			if atWeChat[id] > 1 {
				t.Errorf("command %s maybe delivered, WeChat got it %d times", id, atWeChat[id])
			}
		default:
			t.Errorf("command %s: %+v, want delivered or maybe_delivered", id, r)
		}
	}
	for openid, got := range order {
		if !slices.IsSorted(got) { // ids count up per user: rl-<user>-<seq>
			t.Errorf("WeChat got %s's messages out of order: %s", openid, strings.Join(got, " "))
		}
	}
	// The victim's commands were handed over: more deliveries than commands.
	var deliveries uint64
	s, err := js.Stream(ctx, events.OutboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	for info, err := range consumerInfos(ctx, s) {
		if err != nil {
			t.Fatal(err)
		}
		deliveries += info.Delivered.Consumer
	}
	redelivered := int(deliveries) - len(ids)
	// Every command the victim hung up on was handed over, found "sending"
	// in its sent record, and ended maybe_delivered without a resend.
	if redelivered < held {
		t.Errorf("the victim died in %d send calls, but only %d commands were redelivered", held, redelivered)
	}
	if maybe < held || maybe > redelivered {
		t.Errorf("%d commands maybe delivered; want at least the %d calls the victim died in, at most the %d redelivered", maybe, held, redelivered)
	}
	var survivors []string
	for i, r := range replicas {
		if i == victim {
			continue
		}
		m, err := scrape(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		survivors = append(survivors, fmt.Sprint(m.sum("kfbridge_egress_commands_total")))
	}
	t.Logf("replica loss: %d commands in %d conversations; killed %s in the middle of %d send calls (then %d commands unacknowledged, %d waiting); all results %s after the kill",
		len(ids), users, victimName, held, ackPending, pending, handover.Round(time.Millisecond))
	t.Logf("replica loss: messages at WeChat by sender: %v", sentBy)
	t.Logf("replica loss: outcomes %v; maybe_delivered %d (%d of them at WeChat); WeChat got %d messages; %d deliveries to egress (redelivered after the kill: %d); survivors handled %s",
		outcomes, maybe, maybeAtWeChat, len(delivered), deliveries, redelivered, strings.Join(survivors, " + "))
}
