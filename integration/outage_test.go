package integration

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxpush"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestNATSOutageAtIngress stops the NATS server behind a running ingress
// and starts it again, while WeChat pushes with its own retry rules: about
// three attempts, 5 s apart, 5 s each.
//
//	T+0    NATS stopped; push L starts (attempts at T+0, T+5, T+10)
//	T+1    a single attempt must get a 5xx within WeChat's 5 s; /readyz fails
//	T+9    push R starts (attempts at T+9, T+14, T+19)
//	T+14   NATS started again (after L's last attempt was answered)
//	       R's last attempt falls after the recovery: R is stored once
//
// L shows what a longer outage costs: WeChat gives up on it. The ingress
// may still store it when its publish, buffered by the NATS client while
// disconnected, is flushed at the reconnect; never twice.
func TestNATSOutageAtIngress(t *testing.T) {
	st := newStack(t)
	node := st.startNATS("nats", false)
	ing := st.startIngress("ingress", bridgeEnv("nats://nats:4222", 1, nil))
	ctx := t.Context()
	ingressURL := endpoint(t, ing, ingressPort, "http")
	adminURL := endpoint(t, ing, ingressAdminPort, "http")
	wx := newWeChat(t, ingressURL, "")
	wechatPusher := wx.pusher(t) // WeChat's rules
	const openid = "oIT-outage"

	before := wx.sign(t, textSpec(openid, "before the outage"))
	if res, err := wechatPusher.Push(ctx, before); err != nil || res.Attempts != 1 {
		t.Fatalf("Push(before) = %+v, %v, want success at the first attempt", res, err)
	}

	stopTimeout := 10 * time.Second
	if err := node.c.Stop(ctx, &stopTimeout); err != nil {
		t.Fatalf("stop nats: %v", err)
	}
	t0 := time.Now()
	type outcome struct {
		req *wxpush.Request
		res wxpush.Result
		err error
		end time.Duration
	}
	var wg sync.WaitGroup
	pushAt := func(at time.Duration, content string) *outcome {
		o := &outcome{req: wx.sign(t, textSpec(openid, content))}
		wg.Go(func() {
			select {
			case <-time.After(time.Until(t0.Add(at))):
			case <-ctx.Done():
				return
			}
			o.res, o.err = wechatPusher.Push(ctx, o.req)
			o.end = time.Since(t0)
		})
		return o
	}
	lost := pushAt(0, "WeChat gives up on this one")
	retried := pushAt(9*time.Second, "retried after the recovery")

	// One attempt during the outage: a 5xx in time, so WeChat retries.
	time.Sleep(time.Until(t0.Add(time.Second)))
	single := wx.pusher(t, wxpush.WithAttempts(1))
	start := time.Now()
	res, err := single.Push(ctx, wx.sign(t, textSpec(openid, "single attempt")))
	answered := time.Since(start)
	if !errors.Is(err, wxpush.ErrNotDelivered) || res.Status < 500 || answered >= wxpush.DefaultAttemptTimeout {
		t.Errorf("Push during the outage = %+v, %v after %s, want a 5xx within %s", res, err, answered.Round(time.Millisecond), wxpush.DefaultAttemptTimeout)
	}
	readyDown := waitFor(t, 10*time.Second, "/readyz to fail", func() bool {
		return httpStatus(ctx, adminURL+"/readyz") == http.StatusServiceUnavailable
	})

	// NATS back once L's last attempt has been answered.
	time.Sleep(time.Until(t0.Add(14 * time.Second)))
	restart := time.Now()
	if err := node.c.Start(ctx); err != nil {
		t.Fatalf("start nats: %v", err)
	}
	readyAgain := waitFor(t, 30*time.Second, "/readyz after the restart", func() bool {
		return httpStatus(ctx, adminURL+"/readyz") == http.StatusOK
	})
	wg.Wait()

	if !errors.Is(lost.err, wxpush.ErrNotDelivered) || lost.res.Attempts != wxpush.DefaultAttempts {
		t.Errorf("push L = %+v, %v, want WeChat to give up after %d attempts", lost.res, lost.err, wxpush.DefaultAttempts)
	}
	if retried.err != nil || retried.res.Attempts < 2 {
		t.Errorf("push R = %+v, %v, want success at a retry after the recovery", retried.res, retried.err)
	}
	after := wx.sign(t, textSpec(openid, "after the outage"))
	if res, err := wechatPusher.Push(ctx, after); err != nil || res.Attempts != 1 {
		t.Errorf("Push(after) = %+v, %v, want success at the first attempt", res, err)
	}

	_, js := connectNATS(t, node.clientURL(t))
	stored, err := readStream(ctx, js, events.InboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range stored {
		count[m.msgID]++
	}
	id := func(r *wxpush.Request) string { return demo.AppID + ":" + r.Spec.MsgID }
	for name, r := range map[string]*wxpush.Request{"before": before, "R": retried.req, "after": after} {
		if n := count[id(r)]; n != 1 {
			t.Errorf("push %s stored %d times, want once", name, n)
		}
	}
	if n := count[id(lost.req)]; n > 1 {
		t.Errorf("push L stored %d times, want at most once", n)
	}
	for msgID, n := range count {
		if n != 1 {
			t.Errorf("%s stored %d times", msgID, n)
		}
	}
	m, err := scrape(context.Background(), adminURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outage: a single attempt got %d after %s; /readyz failed %s after the stop; NATS down %s; /readyz ok %s after the restart",
		res.Status, answered.Round(time.Millisecond), readyDown.Round(time.Millisecond), restart.Sub(t0).Round(time.Millisecond), readyAgain.Round(time.Millisecond))
	t.Logf("outage: push R delivered at attempt %d (T+%s); push L given up after %d attempts (T+%s), stored %d times anyway (a publish buffered during the outage); stream holds %d pushes; ingress published %v, duplicates %v, publish_failed %v",
		retried.res.Attempts, retried.end.Round(time.Millisecond), lost.res.Attempts, lost.end.Round(time.Millisecond), count[id(lost.req)], len(stored),
		m.sum("kfbridge_ingress_pushes_total", `outcome="published"`), m.sum("kfbridge_ingress_pushes_total", `outcome="duplicate"`),
		m.sum("kfbridge_ingress_pushes_total", `outcome="publish_failed"`))
}
