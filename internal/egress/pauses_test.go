package egress

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestQuotaPauseIsShared: a 45011 met by one replica pauses the app's sends
// on another replica too (no send call for it), while a second app still
// delivers.
func TestQuotaPauseIsShared(t *testing.T) {
	const appB, secretB = "wxfedcba9876543210", "test-secret-b"
	e := newEnv(t, wxsim.SimConfig{MinuteQuota: 1, Apps: map[string]string{appID: secret, appB: secretB}}, nil)
	e.apps = []config.App{{AppID: appID, Secret: secret}, {AppID: appB, Secret: secretB}}
	for _, u := range []string{"oA", "oB", "oC"} {
		e.interact("0", u)
	}
	e.sim.RecordInteraction(appB, "0", "oD", "text", e.sim.Now())
	command := func(appid, openid, id, content string) {
		t.Helper()
		raw, _ := json.Marshal(text(content))
		body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "/test",
			"type": "weixin.kf.command." + events.VerbSend, "data": json.RawMessage(raw)})
		e.publishFor(appid, "0", openid, events.VerbSend, id, body, events.ContentType)
	}
	const send = "/cgi-bin/message/custom/send"

	// Replica 1 uses app A's one call of the minute, then meets 45011.
	stop1 := e.replica(nil)
	command(appID, "oA", "first", "1")
	if r := e.results(1)["first"].Data; r.Outcome != events.OutcomeDelivered {
		t.Fatalf("first = %+v", r)
	}
	command(appID, "oB", "over", "2")
	res := e.results(2)
	if r := res["over"].Data; r.Reason != ReasonQuota || r.ErrCode != 45011 {
		t.Fatalf("over = %+v, want quota 45011", r)
	}
	natstest.WaitFor(t, "one 45011 answered", func() bool { return e.sim.Calls().Count(send, 45011) == 1 })
	stop1()

	// Replica 2, its own process, knows the pause: no call for app A.
	nc2, _ := natstest.ConnectURL(t, e.nc.ConnectedUrl())
	e.replica(nc2)
	calls := e.sim.Calls().Total(send)
	command(appID, "oC", "paused", "3")
	command(appB, "oD", "other app", "4")
	res = e.results(4)
	if r := res["paused"].Data; r.Reason != ReasonQuota {
		t.Errorf("paused = %+v, want quota", r)
	}
	if r := res["other app"].Data; r.Outcome != events.OutcomeDelivered {
		t.Errorf("other app = %+v, want delivered", r)
	}
	if got := e.sim.Calls().Total(send) - calls; got != 1 {
		t.Errorf("replica 2 made %d send calls, want 1 (app B's only)", got)
	}
	if got := e.sim.Calls().Count(send, 45011); got != 1 {
		t.Errorf("%d answers 45011, want 1: replica 2 called WeChat for the paused app", got)
	}
}

// TestPauseReachesRunningReplica: a pause one replica sets reaches a
// replica already running through its watch, and a shorter pause set later
// shortens it nowhere.
func TestPauseReachesRunningReplica(t *testing.T) {
	e := newEnv(t, wxsim.SimConfig{}, nil)
	writer := e.newEgress(e.js)
	_, js2 := natstest.ConnectURL(t, e.nc.ConnectedUrl())
	running := e.newEgress(js2)
	stop := testworld.Run(t, "egress", running.Run)
	defer stop()

	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	writer.pauses.set(t.Context(), appID, until, 45009)
	natstest.WaitFor(t, "the pause on the running replica", func() bool { return running.pauses.get(appID).Equal(until) })

	writer.pauses.set(t.Context(), appID, until.Add(-30*time.Minute), 45011)
	entry, err := writer.pauses.kv.Get(t.Context(), appID)
	if err != nil {
		t.Fatal(err)
	}
	var pe pauseEntry
	if err := json.Unmarshal(entry.Value(), &pe); err != nil {
		t.Fatal(err)
	}
	if !pe.Until.Equal(until) || pe.ErrCode != 45009 {
		t.Errorf("bucket holds %+v, want the longer pause until %v (45009)", pe, until)
	}
	if got := writer.pauses.get(appID); !got.Equal(until) {
		t.Errorf("writer's pause = %v, want %v", got, until)
	}
}
