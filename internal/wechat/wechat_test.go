package wechat_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/natstest"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/token"
	"github.com/kfbridge/kfbridge/internal/wechat"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

const appID = "wx0123456789abcdef"

func TestNewRequires(t *testing.T) {
	eg := config.Default().Egress
	eg.APIBase = "ftp://wechat"
	eg.MediaFetch.Allow = []string{"not a host"}
	_, err := wechat.New(t.Context(), wechat.Config{Egress: eg, Apps: []config.App{{AppID: appID}}})
	for _, want := range []string{"JS is required", "app " + appID + " has no secret", "egress.api_base", "egress.media_fetch"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New() = %v, want it to say %q", err, want)
		}
	}
}

// TestNew: the parts are built, the token bucket and the media store exist
// with the configured settings, and a second process's New (every replica
// calls it) succeeds on them.
func TestNew(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	cfg := wechat.Config{JS: js, Egress: config.Default().Egress, Streams: config.Default().NATS.Streams,
		Apps: []config.App{{AppID: appID, Secret: "app-secret"}}}
	cfg.Streams.Storage = "memory"
	cfg.Streams.MaxBytes.Media = 1 << 20
	for replica := range 2 {
		cfg.Registry = prometheus.NewRegistry()
		wx, err := wechat.New(t.Context(), cfg)
		if err != nil {
			t.Fatalf("replica %d: %v", replica, err)
		}
		if wx.API == nil || wx.Tokens == nil || wx.Fetcher == nil || wx.Media == nil {
			t.Fatalf("replica %d: parts %+v, want all built", replica, wx)
		}
	}
	if _, err := js.KeyValue(t.Context(), token.BucketName); err != nil {
		t.Errorf("token bucket: %v", err)
	}
	store, err := js.Stream(t.Context(), "OBJ_"+wechat.MediaStore)
	if err != nil {
		t.Fatal(err)
	}
	if got := store.CachedInfo().Config.MaxBytes; got != 1<<20 {
		t.Errorf("media store max_bytes %d, want %d", got, 1<<20)
	}
}

// TestNewSameRegistry: New again with the same Registry succeeds, and the
// second parts' token refreshes count on the counter the first registered.
func TestNewSameRegistry(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: "app-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	api := testworld.ServeAPI(t, sim.Handler())
	reg := prometheus.NewRegistry()
	cfg := wechat.Config{JS: js, Egress: testworld.Egress(api.URL, 1), Streams: config.Default().NATS.Streams,
		Apps: []config.App{{AppID: appID, Secret: "app-secret"}}, Registry: reg}
	cfg.Streams.Storage = "memory"
	if _, err := wechat.New(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	wx, err := wechat.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("second New with the same Registry: %v", err)
	}
	if _, err := wx.Tokens.Token(t.Context(), appID); err != nil {
		t.Fatal(err)
	}
	if refreshes := counterSum(t, reg, "kfbridge_egress_token_refreshes_total", ""); refreshes != 1 {
		t.Errorf("token refreshes counted %v, want 1 (the second parts' fetch)", refreshes)
	}
}

// TestNewRegistryConflict: a Registry holding another collector under the
// counter's name is an error, not silently shared.
func TestNewRegistryConflict(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "kfbridge_egress_token_refreshes_total",
		Help: "Access tokens fetched from WeChat, by app and kind (stable, stable_forced, classic)."}))
	cfg := wechat.Config{JS: js, Egress: config.Default().Egress, Streams: config.Default().NATS.Streams,
		Apps: []config.App{{AppID: appID, Secret: "app-secret"}}, Registry: reg}
	cfg.Streams.Storage = "memory"
	if _, err := wechat.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "wechat metrics") {
		t.Errorf("New with a conflicting collector = %v, want a metrics error", err)
	}
}

// TestRefreshFailuresCounted: a token fetch WeChat refuses (a wrong secret)
// is counted by app, so an alert can see it, and no token is stored.
func TestRefreshFailuresCounted(t *testing.T) {
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: "app-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	api := testworld.ServeAPI(t, sim.Handler())
	reg := prometheus.NewRegistry()
	cfg := wechat.Config{JS: js, Egress: testworld.Egress(api.URL, 1), Streams: config.Default().NATS.Streams,
		Apps: []config.App{{AppID: appID, Secret: "not-the-secret"}}, Registry: reg}
	cfg.Streams.Storage = "memory"
	wx, err := wechat.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wx.Tokens.Token(t.Context(), appID); err == nil {
		t.Fatal("Token with a wrong secret succeeded")
	}
	if failures := counterSum(t, reg, "kfbridge_egress_token_refresh_failures_total", appID); failures < 1 {
		t.Errorf("token refresh failures counted %v, want ≥ 1", failures)
	}
}

// counterSum sums the counter name's series in reg; with appid, each must
// carry that appid as its first label.
func counterSum(t *testing.T, reg *prometheus.Registry, name, appid string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if appid != "" && m.GetLabel()[0].GetValue() != appid {
				t.Errorf("%s label %v, want appid %s", name, m.GetLabel(), appid)
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
