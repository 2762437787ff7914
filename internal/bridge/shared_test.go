package bridge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/manage"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// egressProcess returns the configuration of an egress process (as
// cmd/egress runs it) with embedded NATS in a temporary directory, against
// the simulator sim.
func egressProcess(t *testing.T, sim *wxsim.Sim) config.Config {
	t.Helper()
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	cfg := config.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:-1"
	cfg.NATS.Embedded.StoreDir = t.TempDir()
	cfg.NATS.Embedded.Sync = "2m"
	cfg.Egress.Listen = "127.0.0.1:0"
	cfg.Egress.APIBase = hs.URL
	cfg.Egress.Partitions = 4
	cfg.Apps = []config.App{{AppID: appID, Secret: secret}}
	return cfg
}

// startBridge runs bridge.Run with cfg and opts until the test ends and
// returns its endpoints once every part serves.
func startBridge(t *testing.T, cfg *config.Config, opts bridge.Options) bridge.Endpoints {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan bridge.Endpoints, 1)
	done := make(chan error, 1)
	opts.OnReady = func(e bridge.Endpoints) { ready <- e }
	go func() { done <- bridge.Run(ctx, cfg, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bridge.Run() = %v", err)
		}
	})
	select {
	case ends := <-ready:
		return ends
	case err := <-done:
		t.Fatalf("bridge.Run() = %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("bridge not ready")
	}
	return bridge.Endpoints{}
}

// TestOneTokenManager: the egress and the management service of a bridge
// share one token manager. A management call fetches the app's token; the
// test then deletes it from the token bucket, so that only the manager that
// fetched it still holds it, in memory. The egress's send then uses that
// token without asking WeChat: with a manager of its own it would find the
// bucket empty and fetch a second one.
func TestOneTokenManager(t *testing.T) {
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := egressProcess(t, sim)
	ends := startBridge(t, &cfg, bridge.Options{Egress: true})
	nc, err := nats.Connect(ends.NATS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tokenCalls := func() int { return sim.Calls().Calls["/cgi-bin/stable_token"][0] }

	api := manage.NewClient(nc)
	natstest.WaitFor(t, "kf.list from the management service", func() bool {
		_, err = api.Request(ctx, appID, manage.OpKFList, nil)
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
	body := get(t, "http://"+ends.Health+"/readyz", http.StatusOK)
	if body != "ready" {
		t.Errorf("/readyz = %q", body)
	}
	want := `kfbridge_egress_token_refreshes_total{appid="` + appID + `",kind="stable"} 1`
	if body := get(t, "http://"+ends.Health+"/metrics", http.StatusOK); !strings.Contains(body, want) {
		t.Errorf("/metrics has no %s", want)
	}
}

// get returns the body of a GET of url, which must answer status.
func get(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s = %d %s, want %d", url, resp.StatusCode, body, status)
	}
	return string(body)
}
