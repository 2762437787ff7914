package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReferenceDefaults: ${NAME:-default} takes the variable when it is set
// and not empty, the default otherwise (as the shell does); ${NAME} keeps
// its meaning (unset is an error, empty is empty).
func TestReferenceDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want string // cfg.NATS.URL
	}{
		{name: "unset takes the default", yaml: "nats: {url: \"${NATS_URL:-nats://a:4222}\"}", want: "nats://a:4222"},
		{name: "empty takes the default", yaml: "nats: {url: \"${NATS_URL:-nats://a:4222}\"}", env: map[string]string{"NATS_URL": ""}, want: "nats://a:4222"},
		{name: "set wins", yaml: "nats: {url: \"${NATS_URL:-nats://a:4222}\"}", env: map[string]string{"NATS_URL": "nats://b:4222"}, want: "nats://b:4222"},
		{name: "empty default", yaml: "nats: {url: \"${NATS_URL:-}\"}", want: ""},
		{name: "inside a value", yaml: "nats: {url: \"nats://${HOST:-localhost}:${PORT:-4222}\"}", env: map[string]string{"PORT": "4333"}, want: "nats://localhost:4333"},
		{name: "plain reference set empty", yaml: "nats: {url: \"${NATS_URL}\"}", env: map[string]string{"NATS_URL": ""}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), env(tt.env))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.yaml, err)
			}
			if cfg.NATS.URL != tt.want {
				t.Errorf("Parse(%q): nats.url = %q, want %q", tt.yaml, cfg.NATS.URL, tt.want)
			}
		})
	}
	if _, err := Parse([]byte("nats: {url: \"${NATS_URL}\"}"), env(nil)); !errors.Is(err, ErrUnsetVariable) {
		t.Errorf("Parse(unset ${NATS_URL}) = %v, want %v", err, ErrUnsetVariable)
	}
}

// TestCheckEnviron: every KFBRIDGE_ variable must name a configuration key
// (an app's keys at any index), a variable another kfbridge tool reads, or
// a variable the configuration file references; a misspelt one is refused
// with the nearest valid name, and nothing else of the environment is
// judged.
func TestCheckEnviron(t *testing.T) {
	ok := []string{
		"KFBRIDGE_NATS_URL=nats://x:4222",
		"KFBRIDGE_NATS_EMBEDDED_STORE_DIR=/tmp/x",
		"KFBRIDGE_APPS_0_SECRET=s",
		"KFBRIDGE_APPS_12_ENCODING_AES_KEY=k",
		"KFBRIDGE_APPS_0_MODES=safe",
		"KFBRIDGE_NATS_EMBEDDED_USERS_1_CONSUMERS_2_FILTER=wxkf.in.>",
		"KFBRIDGE_INGRESS_TRUSTED_PROXIES=10.0.0.0/8",
		"KFBRIDGE_EGRESS_TOKEN_FORCE_DAILY_CAP=3",
		"KFBRIDGE_REQUIRE_DOCKER=1", // integration tests, set by .ci/run
		"KFBRIDGE_APPID=wx1",        // kfctl
		"KFBRIDGE_NATS_CREDS=/x",    // kfctl
		"KFBRIDGE_MY_SECRET=s",      // referenced by the file
		"PATH=/bin", "KFB_TAG=local", "kfbridge_nats_urll=lower case is not ours",
		"NOEQUALS",
	}
	if err := CheckEnviron(ok, []string{"KFBRIDGE_MY_SECRET"}); err != nil {
		t.Errorf("CheckEnviron(valid) = %v", err)
	}
	tests := []struct {
		variable string
		want     string // the suggestion
	}{
		{"KFBRIDGE_NATS_URLL=x", "KFBRIDGE_NATS_URL"},
		{"KFBRIDGE_APPS_3_SECRT=x", "KFBRIDGE_APPS_3_SECRET"},
		{"KFBRIDGE_APP_0_TOKEN=x", "KFBRIDGE_APPS_0_TOKEN"},
		{"KFBRIDGE_APPS_0_ENCODINGAESKEY=x", "KFBRIDGE_APPS_0_ENCODING_AES_KEY"},
		{"KFBRIDGE_INGRESS_LISTN=x", "KFBRIDGE_INGRESS_LISTEN"},
		{"KFBRIDGE_NATS_EMBEDDED_STOREDIR=x", "KFBRIDGE_NATS_EMBEDDED_STORE_DIR"},
	}
	for _, tt := range tests {
		err := CheckEnviron([]string{"KFBRIDGE_NATS_URL=ok", tt.variable}, nil)
		if !errors.Is(err, ErrUnknownVariable) {
			t.Errorf("CheckEnviron(%q) = %v, want %v", tt.variable, err, ErrUnknownVariable)
			continue
		}
		name, value, _ := strings.Cut(tt.variable, "=")
		msg := err.Error()
		if !strings.Contains(msg, name) || !strings.Contains(msg, "did you mean "+tt.want+"?") {
			t.Errorf("CheckEnviron(%q) = %q, want it named and %s suggested", tt.variable, msg, tt.want)
		}
		if strings.Contains(msg, "="+value) {
			t.Errorf("CheckEnviron(%q) = %q shows the value", tt.variable, msg)
		}
	}
	err := CheckEnviron([]string{"KFBRIDGE_NATS_URLL=x", "KFBRIDGE_LOG_LEVLE=debug"}, nil)
	if n := len(strings.Split(err.Error(), "\n")); n != 2 {
		t.Errorf("CheckEnviron(two misspelt) = %q, want one line each", err)
	}
}

// TestEnvNamesFollowTheStruct: the valid names come from Config itself, so
// a field added later is a valid variable without a list to update.
func TestEnvNamesFollowTheStruct(t *testing.T) {
	names := envTemplates()
	for _, want := range []string{"KFBRIDGE_LOG_LEVEL", "KFBRIDGE_NATS_STREAMS_MAX_BYTES_DLQ", "KFBRIDGE_APPS_#_PREVIOUS_ENCODING_AES_KEY",
		"KFBRIDGE_NATS_EMBEDDED_USERS_#_CONSUMERS_#_STREAM", "KFBRIDGE_EGRESS_MEDIA_FETCH_ALLOW"} {
		if !names[want] {
			t.Errorf("envTemplates() lacks %s", want)
		}
	}
	for name := range names {
		if strings.HasSuffix(name, "_") || strings.Contains(name, "__") {
			t.Errorf("envTemplates() has %q", name)
		}
	}
}

func TestReferences(t *testing.T) {
	got := References([]byte("a: ${ONE}\nb: \"x${TWO:-d}y\"\nc: $THREE\n"))
	if strings.Join(got, ",") != "ONE,TWO" {
		t.Errorf("References() = %q, want ONE, TWO", got)
	}
}

// TestCheckIndexes: an override of a list element the configuration does
// not have (an index that skips one) applied nowhere, and is refused.
func TestCheckIndexes(t *testing.T) {
	environ := []string{"KFBRIDGE_APPS_0_APPID=wx0", "KFBRIDGE_APPS_1_APPID=wx1", "KFBRIDGE_APPS_1_SECRET=s", "KFBRIDGE_NATS_URL=nats://x:4222"}
	cfg, err := Load("", lookupEnviron(environ))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckIndexes(cfg, environ); err != nil {
		t.Errorf("CheckIndexes(contiguous) = %v", err)
	}
	environ = append(environ, "KFBRIDGE_APPS_3_SECRET=s", "KFBRIDGE_NATS_EMBEDDED_USERS_0_USER=u", "KFBRIDGE_NATS_EMBEDDED_USERS_0_PASSWORD=p")
	cfg, err = Load("", lookupEnviron(environ))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckIndexes(cfg, environ)
	if !errors.Is(err, ErrUnknownVariable) || !strings.Contains(err.Error(), "KFBRIDGE_APPS_3_SECRET") || strings.Contains(err.Error(), "USERS_0") {
		t.Errorf("CheckIndexes(APPS_3 after APPS_1) = %v, want APPS_3 named and nothing else", err)
	}
}

func lookupEnviron(environ []string) LookupFunc {
	return func(name string) (string, bool) {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v, true
			}
		}
		return "", false
	}
}

// TestRepositoryVariablesAccepted: every KFBRIDGE_ variable the repository
// sets or documents (scripts, compose, Dockerfiles, README, Go code) is
// accepted, so that a tool's new variable in the same shell does not stop
// the bridge. This package's and internal/bridge's tests, which misspell
// names on purpose, are left out.
func TestRepositoryVariablesAccepted(t *testing.T) {
	name := regexp.MustCompile(`\bKFBRIDGE_[A-Z0-9_]+`)
	found := map[string]string{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		base := d.Name()
		switch {
		case strings.HasSuffix(base, "_test.go") && (strings.Contains(path, "internal/config") || strings.Contains(path, "internal/bridge")):
			return nil
		case strings.HasSuffix(base, ".go"), strings.HasSuffix(base, ".md"), strings.HasSuffix(base, ".yml"), strings.HasSuffix(base, ".yaml"),
			strings.HasSuffix(base, ".sh"), strings.HasSuffix(base, "Dockerfile"), base == "Makefile", base == "run":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range name.FindAllString(string(data), -1) {
			if !strings.HasSuffix(v, "_") { // a prefix or a placeholder (KFBRIDGE_APPS_<n>_…)
				found[v] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 10 {
		t.Fatalf("found only %d variables: %v", len(found), found)
	}
	delete(found, "KFBRIDGE_APPS_0_SECRT") // README's example of a refused name
	for v, path := range found {
		if err := CheckEnviron([]string{v + "=x"}, nil); err != nil {
			t.Errorf("%s (in %s): %v", v, path, err)
		}
	}
}
