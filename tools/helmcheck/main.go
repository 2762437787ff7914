// Command helmcheck is Helm's own CLI, built from Helm's Go module, and a
// check of kfbridge's chart with it. It lives in its own module so that
// Helm's and Kubernetes's many dependencies stay out of kfbridge's go.mod.
//
//	go run -C tools/helmcheck . helm template kfbridge ../../deploy/helm/kfbridge
//	go run -C tools/helmcheck . check ../../deploy/helm/kfbridge default ../../deploy/helm/kfbridge/ci/production-values.yaml
//
// `helm ARGS…` runs Helm's CLI (lint, template, show values, …) exactly as
// the helm binary does. `check [--json] [--out DIR] CHART [CASE…]` runs,
// for each case (the chart's default values, or a comma-separated list of
// values files), `helm lint --strict` and `helm template`, then validates
// every rendered manifest offline (see validate.go): strict decoding into
// the Kubernetes API types (unknown fields are errors) and kfbridge's
// rules. It prints one line per case (a JSON object with --json) and exits
// 1 when any case fails, 2 on a usage error.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "helm" {
		os.Exit(runHelm(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:], os.Stdout, os.Stderr))
	}
	fmt.Fprintln(os.Stderr, "usage: helmcheck helm ARGS… | helmcheck check [--json] [--out DIR] CHART [default | VALUES[,VALUES…]]…")
	os.Exit(2)
}

// runHelm runs Helm's CLI as cmd/helm's main does.
func runHelm(args []string) int {
	cmd, err := helmcmd.NewRootCmd(os.Stdout, args, helmcmd.SetupLogging)
	if err != nil {
		slog.Warn("command failed", slog.Any("error", err))
		return 1
	}
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		var cerr helmcmd.CommandError
		if errors.As(err, &cerr) {
			return cerr.ExitCode
		}
		return 1
	}
	return 0
}

// Result is what check reports for one case.
type Result struct {
	Case      string   `json:"case"`
	OK        bool     `json:"ok"`
	Problems  []string `json:"problems,omitempty"`
	Objects   []string `json:"objects,omitempty"`   // Kind/name of each rendered object
	Manifests string   `json:"manifests,omitempty"` // the file --out wrote them to
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	out := fs.String("out", "", "write each case's rendered manifests to DIR/case-N.yaml")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 {
		fmt.Fprintln(stderr, "check: want CHART [CASE…]")
		return 2
	}
	chart, cases := fs.Arg(0), fs.Args()[1:]
	if len(cases) == 0 {
		cases = []string{"default"}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return 2
	}
	home, err := os.MkdirTemp("", "helmcheck-")
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return 2
	}
	defer os.RemoveAll(home)
	h := helper{self: self, home: home}
	failed := false
	for i, c := range cases {
		r := h.checkCase(chart, c)
		if *out != "" && r.Manifests != "" {
			path := filepath.Join(*out, fmt.Sprintf("case-%d.yaml", i))
			if err := os.WriteFile(path, []byte(r.Manifests), 0o600); err != nil {
				fmt.Fprintln(stderr, "check:", err)
				return 2
			}
			r.Manifests = path
		} else {
			r.Manifests = ""
		}
		failed = failed || !r.OK
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
			continue
		}
		if r.OK {
			fmt.Fprintf(stdout, "ok    %s: %s\n", r.Case, strings.Join(r.Objects, ", "))
			continue
		}
		fmt.Fprintf(stdout, "FAIL  %s\n", r.Case)
		for _, p := range r.Problems {
			fmt.Fprintf(stdout, "      %s\n", strings.ReplaceAll(p, "\n", "\n      "))
		}
	}
	if failed {
		return 1
	}
	return 0
}

// helper runs Helm's CLI as a child process of this binary (Helm's CLI
// keeps global state, so each command gets a fresh process), with Helm's
// cache, configuration and data in a directory of its own.
type helper struct{ self, home string }

func (h helper) helm(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(h.self, append([]string{"helm"}, args...)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"),
		"HELM_NO_PLUGINS=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func (h helper) checkCase(chart, c string) Result {
	r := Result{Case: c}
	var values []string
	if c != "default" {
		for _, f := range strings.Split(c, ",") {
			values = append(values, "--values", f)
		}
	}
	lintOut, lintErr, err := h.helm(append([]string{"lint", "--strict", chart}, values...)...)
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("helm lint --strict: %v\n%s\n%s", err, strings.TrimSpace(lintOut), strings.TrimSpace(lintErr)))
	}
	manifests, tmplErr, err := h.helm(append([]string{"template", "kfbridge", chart, "--namespace", "kfbridge"}, values...)...)
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("helm template: %v\n%s", err, strings.TrimSpace(tmplErr)))
		return r
	}
	r.Manifests = manifests
	objects, problems := Validate([]byte(manifests))
	r.Objects = objects
	r.Problems = append(r.Problems, problems...)
	r.OK = len(r.Problems) == 0
	return r
}
