package bridge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/bridge/bridgetest"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestOneTokenManager: the egress and the management service of a bridge
// share one token manager. A management call fetches the app's token; the
// test then deletes it from the token bucket, so that only the manager that
// fetched it still holds it, in memory. The egress's send then uses that
// token without asking WeChat: with a manager of its own it would find the
// bucket empty and fetch a second one.
func TestOneTokenManager(t *testing.T) {
	sim, ends := startEgress(t, nil)
	nc, js := natstest.ConnectURL(t, ends.NATS)
	ctx := t.Context()
	tokenCalls := func() int { return sim.Calls().Calls["/cgi-bin/stable_token"][0] }

	api := manage.NewClient(nc)
	natstest.WaitFor(t, "kf.list from the management service", func() bool {
		_, err := api.Request(ctx, appID, manage.OpKFList, nil)
		return err == nil
	})
	if n := tokenCalls(); n != 1 {
		t.Fatalf("after kf.list: %d token calls, want 1", n)
	}
	tokens, err := js.KeyValue(ctx, token.BucketName)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Delete(ctx, appID); err != nil {
		t.Fatal(err)
	}

	results, err := js.OrderedConsumer(ctx, events.ResultStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sim.RecordInteraction(appID, "0", openID, "text", time.Time{})
	msg, err := events.NewCommandMsg(events.Conversation{AppID: appID, BusinessID: "0", OpenID: openID}, events.VerbSend,
		"shared-token-1", "/test/bridge", events.SendData{MsgType: "text", Text: &events.SendText{Content: "hello"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	m, err := results.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("the command's result: %v", err)
	}
	res, err := events.ParseResult(m.Data())
	if err != nil || res.Data.CommandID != "shared-token-1" || res.Data.Outcome != events.OutcomeDelivered {
		t.Fatalf("result = %s, %v", m.Data(), err)
	}
	if n := tokenCalls(); n != 1 {
		t.Errorf("after the send: %d token calls, want 1 (the egress did not use the management service's token manager)", n)
	}

	// One admin listener for the process: ready, and one refresh counted
	// by the one token manager.
	body := testworld.Get(t, "http://"+ends.Health+"/readyz", http.StatusOK)
	if body != "ready" {
		t.Errorf("/readyz = %q", body)
	}
	want := `kfbridge_egress_token_refreshes_total{appid="` + appID + `",kind="stable"} 1`
	if body := testworld.Get(t, "http://"+ends.Health+"/metrics", http.StatusOK); !strings.Contains(body, want) {
		t.Errorf("/metrics has no %s", want)
	}
}

// startEgress starts a whole egress process as bridge.Run starts it
// ([bridgetest.Start]) against a simulator of the app appID, with tune (if
// not nil) applied to its configuration, and returns the simulator and the
// bridge's endpoints.
func startEgress(t *testing.T, tune func(*config.Config)) (*wxsim.Sim, bridge.Endpoints) {
	t.Helper()
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	wx := testworld.ServeAPI(t, sim.Handler())
	cfg := bridgetest.Config(t, wx.URL, config.App{AppID: appID, Secret: secret})
	if tune != nil {
		tune(&cfg)
	}
	return sim, bridgetest.Start(t, &cfg, bridge.Options{Egress: true})
}
