package helmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kfbridge/kfbridge/internal/bridge"
	"github.com/kfbridge/kfbridge/internal/demo"
)

// result is what `helmcheck check --json` prints for one case.
type result struct {
	Case      string   `json:"case"`
	OK        bool     `json:"ok"`
	Problems  []string `json:"problems"`
	Objects   []string `json:"objects"`
	Manifests string   `json:"manifests"`
}

const (
	chart      = "../kfbridge"
	production = "../kfbridge/ci/production-values.yaml"
	try        = "testdata/try-values.yaml"
	creds      = "testdata/creds-values.yaml"
)

// badCases are values files the check must refuse, each with a problem
// it must report.
var badCases = []struct{ file, want string }{
	{"testdata/bad-unknown-field.yaml", `Deployment kfbridge-ingress: error unmarshaling JSON: while decoding JSON: json: unknown field "limts"`},
	{"testdata/bad-misspelt-value.yaml", "helm lint --strict"},
	{"testdata/bad-misspelt-value.yaml", "additional properties 'ingres' not allowed"},
	{"testdata/bad-quantity.yaml", "quantities must match"},
	{"testdata/bad-root.yaml", "runAsNonRoot is not true"},
	{"testdata/bad-literal-secret.yaml", "env KFBRIDGE_NATS_PASSWORD: a secret as a literal value"},
	{"testdata/bad-secret-in-config.yaml", "at '/config': additional properties 'apps' not allowed"},
	{"testdata/bad-admin-port.yaml", "container port 8080 twice"},
	{"testdata/bad-missing-secret.yaml", "secrets.apps.wx0123456789abcdef.encoding_aes_key: needed without secrets.existingSecret"},
	{"testdata/bad-pdb.yaml", "PodDisruptionBudget kfbridge-egress: allows no disruption of Deployment kfbridge-egress's 2 replicas"},
}

// helmcheck runs tools/helmcheck's check once over the chart's default
// values, the production values, the try values and every bad case, and
// returns the results by case, with the rendered manifests in a
// temporary directory.
func helmcheck(t *testing.T) map[string]result {
	t.Helper()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cases := []string{"default", abs(production), abs(try), abs(creds)}
	for _, b := range badCases {
		if !slices.Contains(cases, abs(b.file)) {
			cases = append(cases, abs(b.file))
		}
	}
	args := append([]string{"run", ".", "check", "--json", "--out", t.TempDir(), abs(chart)}, cases...)
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = abs("../../../tools/helmcheck")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("helmcheck: %v\n%s", err, stderr.String())
	}
	results := map[string]result{}
	dec := json.NewDecoder(&stdout)
	for {
		var r result
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("helmcheck's output: %v\n%s", err, stderr.String())
		}
		results[r.Case] = r
	}
	if len(results) != len(cases) {
		t.Fatalf("helmcheck reported %d cases, want %d\n%s", len(results), len(cases), stderr.String())
	}
	return results
}

// TestChart: the chart lints clean (`helm lint --strict`) and renders
// (`helm template`) manifests that decode strictly into the Kubernetes API
// types and pass kfbridge's checks, with its default values, a production
// setup (existing Secret, 3 egress replicas, ServiceMonitor, NetworkPolicies,
// NATS with TLS), a try with the chart-made Secret and NATS with a
// credentials file and client certificates; each rendered pod's configuration
// loads and passes the preflight checks its binary runs at start; and
// every bad values file fails with its reason.
func TestChart(t *testing.T) {
	results := helmcheck(t)
	get := func(file string) result {
		if file != "default" {
			a, err := filepath.Abs(file)
			if err != nil {
				t.Fatal(err)
			}
			file = a
		}
		r, ok := results[file]
		if !ok {
			t.Fatalf("no result for %s", file)
		}
		return r
	}

	for _, good := range []string{"default", production, try, creds} {
		r := get(good)
		if !r.OK {
			t.Errorf("%s: refused:\n%s", good, strings.Join(r.Problems, "\n"))
		}
	}
	prod := get(production)
	for _, want := range []string{"ServiceMonitor/kfbridge", "PodDisruptionBudget/kfbridge-egress", "Deployment/kfbridge-ingress", "Service/kfbridge-ingress", "NetworkPolicy/kfbridge-ingress", "NetworkPolicy/kfbridge-egress"} {
		if !slices.Contains(prod.Objects, want) {
			t.Errorf("production: no %s in %v", want, prod.Objects)
		}
	}
	if slices.ContainsFunc(prod.Objects, func(o string) bool { return strings.HasPrefix(o, "Secret/") }) {
		t.Errorf("production (existingSecret): the chart rendered a Secret: %v", prod.Objects)
	}
	if slices.ContainsFunc(get("default").Objects, func(o string) bool { return strings.HasPrefix(o, "ServiceMonitor/") }) {
		t.Error("default: a ServiceMonitor, though serviceMonitor.enabled is false")
	}

	for _, b := range badCases {
		r := get(b.file)
		if r.OK {
			t.Errorf("%s: accepted", b.file)
			continue
		}
		if !slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, b.want) }) {
			t.Errorf("%s: no problem says %q:\n%s", b.file, b.want, strings.Join(r.Problems, "\n"))
		}
	}

	// The rendered pods' configurations, as the binaries load them.
	standIn := map[string]map[string]string{"kfbridge-secrets": { // production's existingSecret
		"wx0123456789abcdef.secret": "app-secret-1", "wx0123456789abcdef.token": "push-token-1",
		"wx0123456789abcdef.encoding_aes_key": demo.EncodingAESKey,
		"wxfedcba9876543210.secret":           "app-secret-2", "wxfedcba9876543210.token": "push-token-2",
		"wxfedcba9876543210.encoding_aes_key": demo.EncodingAESKey,
		"nats.password":                       "nats-password",
		"nats.creds":                          "a credentials file",
	}, "nats-client-tls": {"ca.crt": "a CA certificate", "tls.crt": "a certificate", "tls.key": "its key"}}
	for _, tc := range []struct {
		file     string
		replicas map[string]int
		want     string // the one preflight problem expected, if any
	}{
		{"default", map[string]int{"ingress": 2, "egress": 2}, "apps: none configured"},
		{production, map[string]int{"ingress": 3, "egress": 3}, ""},
		{try, map[string]int{"ingress": 1, "egress": 1}, ""},
		{creds, map[string]int{"ingress": 2, "egress": 2}, ""},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			r := get(tc.file)
			if r.Manifests == "" {
				t.Fatal("no manifests")
			}
			objs := decode(t, r.Manifests)
			for _, d := range objs {
				if d.Kind != "Deployment" {
					continue
				}
				part := strings.TrimPrefix(d.Metadata.Name, "kfbridge-")
				if got := d.Spec.Replicas; got == nil || *got != tc.replicas[part] {
					t.Errorf("%s: replicas %v, want %d", d.Metadata.Name, got, tc.replicas[part])
				}
				err := loadPod(t, objs, standIn, d)
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("%s: %v", d.Metadata.Name, err)
				case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
					t.Errorf("%s: %v, want only %q", d.Metadata.Name, err, tc.want)
				case tc.want != "" && strings.Count(err.Error(), "\n") > 0:
					t.Errorf("%s: more problems than %q: %v", d.Metadata.Name, tc.want, err)
				}
			}
		})
	}
}

// object is the part of a rendered object the configuration check reads.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				Containers []container `yaml:"containers"`
				Volumes    []volume    `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type container struct {
	Name string   `yaml:"name"`
	Args []string `yaml:"args"`
	Env  []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
		Items      []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"secret"`
}

func decode(t *testing.T, path string) []object {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var objs []object
	dec := yaml.NewDecoder(f)
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatal(err)
		}
		if o.Kind != "" {
			objs = append(objs, o)
		}
	}
}

// loadPod lays out the files the pod of d mounts under a temporary root
// (the ConfigMap's configuration file, the Secrets' items), builds its
// environment (secrets from the rendered Secret or from standIn), then
// loads the configuration as its binary does and runs the preflight
// checks of its part.
func loadPod(t *testing.T, objs []object, standIn map[string]map[string]string, d object) error {
	t.Helper()
	byName := func(kind, name string) *object {
		for i := range objs {
			if objs[i].Kind == kind && objs[i].Metadata.Name == name {
				return &objs[i]
			}
		}
		return nil
	}
	secret := func(name, key string) (string, bool) {
		if s := byName("Secret", name); s != nil {
			v, ok := s.StringData[key]
			return v, ok
		}
		v, ok := standIn[name][key]
		return v, ok
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", d.Metadata.Name, len(pod.Containers))
	}
	c := pod.Containers[0]
	root := t.TempDir()
	var configPath string
	var moved []string // mount paths of files the configuration names
	for _, vm := range c.VolumeMounts {
		i := slices.IndexFunc(pod.Volumes, func(v volume) bool { return v.Name == vm.Name })
		if i < 0 {
			t.Fatalf("%s: volume %s missing", d.Metadata.Name, vm.Name)
		}
		v := pod.Volumes[i]
		dir := filepath.Join(root, vm.MountPath)
		switch {
		case v.ConfigMap != nil:
			cm := byName("ConfigMap", v.ConfigMap.Name)
			if cm == nil || vm.SubPath == "" {
				t.Fatalf("%s: volume %s: ConfigMap %s not rendered, or no subPath", d.Metadata.Name, vm.Name, v.ConfigMap.Name)
			}
			configPath = vm.MountPath
			writeFile(t, dir, cm.Data[vm.SubPath])
		case v.Secret != nil:
			moved = append(moved, vm.MountPath)
			for _, it := range v.Secret.Items {
				value, ok := secret(v.Secret.SecretName, it.Key)
				if !ok {
					t.Errorf("%s: volume %s: Secret %s has no key %s", d.Metadata.Name, vm.Name, v.Secret.SecretName, it.Key)
				}
				writeFile(t, filepath.Join(dir, it.Path), value)
			}
		}
	}
	if i := slices.Index(c.Args, "--config"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != configPath {
		t.Fatalf("%s: args %v do not name the mounted configuration %s", d.Metadata.Name, c.Args, configPath)
	}
	// The configuration names the mounted files by their paths in the pod.
	file := filepath.Join(root, configPath)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, p := range moved {
		text = strings.ReplaceAll(text, p+"/", filepath.Join(root, p)+"/")
	}
	writeFile(t, file, text)

	var environ []string
	for _, e := range c.Env {
		value := e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secret(ref.Name, ref.Key)
			if !ok && !ref.Optional {
				t.Errorf("%s: env %s: Secret %s has no key %s", d.Metadata.Name, e.Name, ref.Name, ref.Key)
			}
			if !ok {
				continue
			}
			value = v
		}
		environ = append(environ, e.Name+"="+value)
	}
	cfg, err := bridge.LoadConfig(file, environ)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return bridge.Preflight(cfg, bridge.Options{Ingress: c.Name == "ingress", Egress: c.Name == "egress"})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
