package bridge_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/bridge/bridgetest"
	"github.com/kfbridge/kfbridge/internal/config"
	"github.com/kfbridge/kfbridge/internal/telemetry"
	"github.com/kfbridge/kfbridge/internal/testworld"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// recorder is a registry that remembers every descriptor registered on it.
type recorder struct {
	telemetry.Registry
	mu    sync.Mutex
	descs []*prometheus.Desc
}

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	var ds []*prometheus.Desc
	for d := range ch {
		ds = append(ds, d)
	}
	r.mu.Lock()
	r.descs = append(r.descs, ds...)
	r.mu.Unlock()
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var descRE = regexp.MustCompile(`fqName: "([^"]+)".*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)

// exported is every metric name a process exports, with its label names.
func (r *recorder) exported(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	add := func(name string, labels ...string) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, l := range labels {
			if l != "" {
				out[name][l] = true
			}
		}
	}
	r.mu.Lock()
	for _, d := range r.descs {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read descriptor %s", d)
		}
		var labels []string
		for _, kv := range strings.Split(m[2], ",") {
			labels = append(labels, strings.TrimSpace(strings.SplitN(kv, "=", 2)[0]))
		}
		for _, l := range strings.Split(m[3], ",") {
			labels = append(labels, strings.TrimSpace(l))
		}
		add(m[1], labels...)
	}
	r.mu.Unlock()
	// What the registry held before the recorder wrapped it (the runtime
	// collectors and kfbridge_build_info) shows in a gathering.
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				add(mf.GetName(), l.GetName())
			}
		}
		add(mf.GetName())
	}
	return out
}

// missing returns the uses (lines "name label,label" as promcheck prints
// them) that name a metric or a label no part exports. Histograms are
// used through their _bucket (with le), _sum and _count series.
func missing(uses string, exported map[string]map[string]bool) []string {
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(uses), "\n") {
		name, labels, _ := strings.Cut(line, " ")
		have, base := exported[name], name
		if have == nil {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && exported[b] != nil {
					have, base = exported[b], b
				}
			}
		}
		if have == nil {
			bad = append(bad, "metric "+name)
			continue
		}
		for _, l := range strings.Split(labels, ",") {
			if l == "" || have[l] || (l == "le" && base != name) {
				continue
			}
			bad = append(bad, fmt.Sprintf("label %s of %s", l, name))
		}
	}
	return bad
}

// promcheck runs tools/promcheck (Prometheus's rule checks, in its own
// module) on the given arguments.
func promcheck(t *testing.T, args ...string) (string, error) {
	t.Helper()
	dir, err := filepath.Abs("../../tools/promcheck")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"run", "."}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return stdout.String(), nil
}

// TestAlertsAndDashboardMetricsExist: deploy/prometheus/alerts.yml passes
// Prometheus's own rule checks (what `promtool check rules` runs), every
// dashboard query parses, and every metric and label they use is exported
// by a bridge running ingress and egress.
func TestAlertsAndDashboardMetricsExist(t *testing.T) {
	rules, err := filepath.Abs("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := filepath.Abs("../../deploy/grafana/kfbridge.json")
	if err != nil {
		t.Fatal(err)
	}
	uses, err := promcheck(t, "--rules", rules, "--dashboard", dashboard)
	if err != nil {
		t.Fatalf("promcheck: %v", err)
	}

	sim, err := wxsim.NewSim(wxsim.SimConfig{Apps: map[string]string{appID: secret}})
	if err != nil {
		t.Fatal(err)
	}
	wx := testworld.ServeAPI(t, sim.Handler())
	cfg := bridgetest.Config(t, wx.URL, config.App{AppID: appID, Secret: secret, Token: "push-token"})
	rec := &recorder{Registry: telemetry.NewRegistry()}
	bridgetest.Start(t, &cfg, bridge.Options{Ingress: true, Egress: true, Registry: rec})
	exported := rec.exported(t)
	if bad := missing(uses, exported); len(bad) > 0 {
		t.Errorf("the alerts or the dashboard use what no part exports:\n%s", strings.Join(bad, "\n"))
	}
	// The comparison finds a misspelt metric and a label a metric lacks.
	if bad := missing("kfbridge_ingress_pushez_total appid\nkfbridge_egress_retries_total appid,kind", exported); len(bad) != 2 {
		t.Errorf("missing() found %v in two wrong uses, want 2", bad)
	}
}

// TestPromcheckRefusesBrokenRules: the rule check is Prometheus's, not a
// YAML read: an expression that does not parse fails it.
func TestPromcheckRefusesBrokenRules(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(kfbridge_ingress_pushes_total[5m]) > \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := promcheck(t, "--rules", bad); err == nil {
		t.Error("promcheck accepted a rule whose expression does not parse")
	}
}
