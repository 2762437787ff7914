// Package cbottest builds the C echo bot (examples/cbot) with the system's
// C compiler, libnats (the official NATS C client) and cJSON, and runs it
// against a real bridge: a bot in which no Go code runs.
package cbottest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfbridge/kfbridge/pkg/events"
	"github.com/kfbridge/kfbridge/pkg/kfbridgetest"
)

// build compiles echobot.c, or skips (fails with KFBRIDGE_REQUIRE_CBOT=1,
// as .ci/run sets) when the compiler or the libraries are missing.
func build(t *testing.T) string {
	t.Helper()
	missing := func(what string, err error) {
		msg := what + " not available (apt-get install gcc pkg-config libnats-dev libcjson-dev): " + err.Error()
		if os.Getenv("KFBRIDGE_REQUIRE_CBOT") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libnats", "libcjson").Output()
	if err != nil {
		missing("pkg-config with libnats and libcjson", err)
	}
	bin := filepath.Join(t.TempDir(), "cbot")
	args := append([]string{"-Wall", "-Wextra", "-Werror", "-O2", "-o", bin, "../echobot.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		if _, lerr := exec.LookPath("cc"); lerr != nil {
			missing("a C compiler (cc)", lerr)
		}
		t.Fatalf("cc: %v\n%s", err, out)
	}
	return bin
}

// TestCBotAnswersThroughTheBridge: the C bot, with a restricted bot
// account, answers a Chinese text push with typing and "echo: …" at
// WeChat, greets a user entering the session, and reads its results.
func TestCBotAnswersThroughTheBridge(t *testing.T) {
	bin := build(t)
	const user, password, openid = "cbot", "cbot-password-1", "oCbotUser"
	b := kfbridgetest.Start(t, kfbridgetest.WithBotUser(user, password))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	cmd := exec.Command(bin, "--nats", b.NATSURL(), "--user", user)
	cmd.Env = append(os.Environ(), "ECHOBOT_PASSWORD="+password)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Log(sc.Text())
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	waitLine := func(what string, ok func(string) bool) {
		t.Helper()
		for {
			select {
			case l, open := <-lines:
				if !open {
					t.Fatalf("cbot exited before %s", what)
				}
				if ok(l) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s from cbot: %v", what, ctx.Err())
			}
		}
	}
	waitLine("start", func(l string) bool { return strings.HasPrefix(l, "cbot running") })

	if err := b.PushText(ctx, openid, "你好, C"); err != nil {
		t.Fatal(err)
	}
	got, err := b.WaitDelivered(ctx, openid, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text != "echo: 你好, C" {
		t.Errorf("delivered %q, want %q", got[0].Text, "echo: 你好, C")
	}
	if typing := b.Typing(openid); len(typing) != 1 || typing[0].Command != events.TypingOn {
		t.Errorf("typing at WeChat = %+v, want one Typing before the reply", typing)
	}
	waitLine("delivered result", func(l string) bool {
		return strings.Contains(l, "cbot: result command_id=echo-") && strings.Contains(l, "outcome=delivered")
	})

	// Its commands are the contract's: one delivered result each, read
	// back with the Go parser.
	results, err := b.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verbs := map[string]string{}
	for _, r := range results {
		verbs[r.Data.Verb] = r.Data.Outcome
	}
	if verbs[events.VerbSend] != events.OutcomeDelivered || verbs[events.VerbTyping] != events.OutcomeDelivered {
		t.Errorf("results by verb = %v, want send and typing delivered", verbs)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	stopped = true
	for range lines {
	}
	if err := <-exited; err != nil {
		t.Errorf("cbot after SIGTERM: %v", err)
	}
}
