package kfctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/spf13/cobra"

	"github.com/kfbridge/kfbridge/internal/buildinfo"
	"github.com/kfbridge/kfbridge/internal/wxsim"
)

// listener counts the TCP connections made to it: a "NATS server" where
// nothing answers, to prove a command never tried to connect.
type listener struct {
	ln        net.Listener
	accepted  atomic.Int64 // every connection, sentinels included
	sentinels int64        // dialled by connections
	sentinel  chan int64   // accepted when a sentinel was read
}

func newListener(t *testing.T) *listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{ln: ln, sentinel: make(chan int64, 1)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := l.accepted.Add(1)
			go func() {
				defer c.Close()
				buf := make([]byte, 1)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if k, _ := c.Read(buf); k == 1 && buf[0] == '!' {
					l.sentinel <- n
				}
			}()
		}
	}()
	return l
}

// connections returns how many connections were made before now: it dials
// a sentinel; connections are accepted first in, first out, so when the
// sentinel is, every earlier one has been counted.
func (l *listener) connections(t *testing.T) int64 {
	t.Helper()
	c, err := net.Dial("tcp", l.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("!")); err != nil {
		t.Fatal(err)
	}
	l.sentinels++
	return <-l.sentinel - l.sentinels
}

// commandPaths returns the path (without kfctl) of every command of the
// tree, hidden ones included.
func commandPaths() [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		out = append(out, path)
		for _, s := range c.Commands() {
			walk(s, append(append([]string{}, path...), s.Name()))
		}
	}
	r := &run{g: &globals{}}
	walk(r.rootCmd(), nil)
	return out
}

// dangerous are command lines that would change something, with --help
// added at the end (and, for some, in the middle).
var dangerous = [][]string{
	{"send", "--appid", appID, "--openid", user, "--text", "must not be sent", "--help"},
	{"send", "--help", "--appid", appID, "--openid", user, "--text", "must not be sent"},
	{"dlq", "replay", "--all", "--help"},
	{"dlq", "replay", "1", "2", "3", "-h"},
	{"business", "register", "--appid", appID, "--account-name", "apple_shop", "--nickname", "苹果小店", "--icon-media-id", "m", "--help"},
	{"kf", "del", "--appid", appID, "--kf-openid", "o1", "--help"},
	{"kf", "add", "--appid", appID, "--kf-wx", "w", "-h"},
	{"media", "upload", "--appid", appID, "--url", "https://example.com/a.png", "--help"},
	{"tail", "--events", "--results", "--help"},
	{"budget", "--appid", appID, "--openid", user, "--help"},
	{"help", "send"},
	{"help", "dlq", "replay"},
	{"completion", "bash", "--help"},
	{"budget", "get", "--appid", appID, "--openid", user, "-h"},
}

// TestHelpRunsNothing: --help (and -h, and kfctl help <command>) on every
// command prints that command's help, exits 0 and makes no connection.
func TestHelpRunsNothing(t *testing.T) {
	l := newListener(t)
	url := "nats://" + l.ln.Addr().String()
	var lines [][]string
	for _, p := range commandPaths() {
		lines = append(lines, append(append([]string{}, p...), "--help"), append(append([]string{}, p...), "-h"))
	}
	lines = append(lines, dangerous...)
	paths := 0
	for _, args := range lines {
		var out, errOut bytes.Buffer
		err := Run(t.Context(), Config{Args: append([]string{"--nats", url}, args...), Stdout: &out, Stderr: &errOut})
		if err != nil {
			t.Errorf("kfctl %q = %v, want nil", args, err)
		}
		if !strings.Contains(out.String(), "Usage:") {
			t.Errorf("kfctl %q printed no help:\n%s", args, out.String())
		}
		paths++
	}
	if n := l.connections(t); n != 0 {
		t.Errorf("%d command lines with --help made %d connections to NATS, want 0", paths, n)
	}
	// The listener counts a command that does connect (the test can fail).
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	Run(ctx, Config{Args: []string{"--nats", url, "--timeout", "100ms", "status"}})
	if n := l.connections(t); n == 0 {
		t.Errorf("status made no connection: the listener counts nothing")
	}
}

// TestCommandHelp: every command but the groups has examples, and the help
// of one command is about it.
func TestCommandHelp(t *testing.T) {
	for _, p := range commandPaths() {
		var out bytes.Buffer
		if err := Run(t.Context(), Config{Args: append(append([]string{}, p...), "--help"), Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		h := out.String()
		if !strings.Contains(h, "kfctl "+strings.Join(p, " ")) {
			t.Errorf("help of %q does not name it:\n%s", p, h)
		}
		r := &run{g: &globals{}}
		c, _, err := r.rootCmd().Find(p)
		if err != nil {
			t.Fatal(err)
		}
		if c.Runnable() && !c.HasSubCommands() && c.Name() != "help" && !strings.HasPrefix(strings.Join(p, " "), "completion") && !strings.Contains(h, "Examples:") {
			t.Errorf("help of %q has no examples", p)
		}
	}
	var out bytes.Buffer
	Run(t.Context(), Config{Args: []string{"dlq", "list", "--help"}, Stdout: &out})
	for _, want := range []string{"--reason", "--errcode", "--older-than", "--newer-than", "--limit int", "(default 50)", "--all", "--json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dlq list --help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestHelpHidesEnvironment: the help never shows a password from the
// environment, though the commands use it.
func TestHelpHidesEnvironment(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"KFBRIDGE_NATS_PASSWORD": "s3cret-pw", "KFBRIDGE_NATS_URL": "nats://u:urlpw@127.0.0.1:1"}[k]
		return v, ok
	}
	var out bytes.Buffer
	if err := Run(t.Context(), Config{Args: []string{"status", "--help"}, Stdout: &out, LookupEnv: env}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cret-pw") || strings.Contains(out.String(), "urlpw") {
		t.Errorf("help shows a secret from the environment:\n%s", out.String())
	}
	err := Run(t.Context(), Config{Args: []string{"status"}, LookupEnv: env})
	if err == nil || !strings.Contains(err.Error(), "[redacted]@127.0.0.1:1") || strings.Contains(err.Error(), "urlpw") {
		t.Errorf("status with the environment = %v, want a connection error to the redacted URL", err)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := Run(t.Context(), Config{Args: []string{"--version"}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if want := "kfctl " + buildinfo.Read().String() + "\n"; out.String() != want {
		t.Errorf("--version printed %q, want %q", out.String(), want)
	}
	if !strings.Contains(out.String(), "(revision ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("--version printed %q", out.String())
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_kfctl", "zsh": "#compdef kfctl", "fish": "complete -c kfctl", "powershell": "Register-ArgumentCompleter"} {
		var out bytes.Buffer
		if err := Run(t.Context(), Config{Args: []string{"completion", shell}, Stdout: &out}); err != nil {
			t.Fatalf("completion %s: %v", shell, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("completion %s lacks %q", shell, want)
		}
	}
	// Cobra's completion of a command line lists the subcommands.
	var out bytes.Buffer
	if err := Run(t.Context(), Config{Args: []string{cobra.ShellCompRequestCmd, "dlq", ""}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "list") || !strings.Contains(out.String(), "replay") {
		t.Errorf("completion of dlq = %q", out.String())
	}
}

// TestTableWidths: Chinese characters are two columns wide; columns line
// up on a terminal; control characters do not pass.
func TestTableWidths(t *testing.T) {
	var out bytes.Buffer
	tb := newTable(&out, "BUSINESS_ID", "NICKNAME", "ICON_URL")
	tb.row(1, "苹果小店", "https://a")
	tb.row(22, "shop", "https://b")
	tb.row(333, "香蕉🍌 store", "https://c")
	tb.row(4, "evil\x1b[2J\ttab\nline", "")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("table:\n%s", out.String())
	}
	col := func(line, cell string) int { return runewidth.StringWidth(line[:strings.Index(line, cell)]) }
	want := col(lines[0], "ICON_URL")
	for i, cell := range []string{"https://a", "https://b", "https://c", "-"} {
		if got := col(lines[i+1], cell); got != want {
			t.Errorf("line %d: %q starts at column %d, want %d\n%s", i+1, cell, got, want, out.String())
		}
	}
	if strings.ContainsAny(out.String(), "\x1b\t") || !strings.Contains(lines[4], "evil [2J tab line") {
		t.Errorf("control characters in %q", lines[4])
	}
	if w := col(lines[0], "NICKNAME"); w != len("BUSINESS_ID  ") {
		t.Errorf("NICKNAME at column %d", w)
	}
}

// TestJSONEverywhere: every command that prints prints one JSON document
// with --json (tail: JSON Lines, see TestTail).
func TestJSONEverywhere(t *testing.T) {
	w := newWorld(t)
	w.sim.RecordInteraction(appID, "0", user, "text", time.Time{})
	icon := w.file("icon.png", wxsim.PlaceholderImage())
	lines := [][]string{
		{"status"},
		{"send", "--appid", appID, "--openid", user, "--text", "json"},
		{"send", "--appid", appID, "--openid", user, "--text", "json", "--wait", "0"},
		{"dlq", "list"},
		{"dlq", "replay", "--all"},
		{"media", "upload", "--appid", appID, "--file", icon},
		{"business", "register", "--appid", appID, "--account-name", "apple_shop", "--nickname", "苹果小店", "--icon-file", icon},
		{"business", "update", "--appid", appID, "--bid", "1", "--nickname", "香蕉小店"},
		{"business", "get", "--appid", appID, "--bid", "1"},
		{"business", "list", "--appid", appID},
		{"kf", "add", "--appid", appID, "--kf-wx", "agent_one"},
		{"kf", "list", "--appid", appID},
		{"kf", "online", "--appid", appID},
	}
	for _, args := range lines {
		out := w.ok(append(args, "--json")...)
		if !json.Valid([]byte(out)) {
			t.Errorf("kfctl %q --json printed %q", args, out)
		}
	}

	// Chinese and Latin nicknames line up in business list.
	w.ok("business", "register", "--appid", appID, "--account-name", "plain_shop", "--nickname", "plainshop", "--icon-file", icon)
	w.ok("business", "register", "--appid", appID, "--account-name", "mixed_shop", "--nickname", "小店shop", "--icon-file", icon)
	out := w.ok("business", "list", "--appid", appID)
	rows := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(rows) != 4 {
		t.Fatalf("business list:\n%s", out)
	}
	col := -1
	for _, line := range rows {
		i := strings.LastIndex(line, "  ")
		if c := runewidth.StringWidth(line[:i+2]); col == -1 {
			col = c
		} else if c != col {
			t.Errorf("business list: ICON_URL not aligned:\n%s", out)
			break
		}
	}
	if !strings.Contains(out, "香蕉小店") {
		t.Errorf("business list:\n%s", out)
	}
}
