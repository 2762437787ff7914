package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/wxsim"
	"github.com/kfbridge/kfbridge/pkg/events"
)

// composeServices are the services of docker-compose.yml that build an image.
var composeServices = []string{"nats", "ingress", "egress", "wxsim", "echobot"}

// composeImages are the images docker-compose.yml builds with KFB_TAG=tag.
func composeImages(tag string) []string {
	var refs []string
	for _, s := range composeServices {
		refs = append(refs, "kfbridge/"+s+":"+tag)
	}
	return refs
}

// TestComposeStack brings up the committed docker-compose.yml with its demo
// profile, as `make demo` does but on free ports and under its own project
// name, waits for every healthcheck (exec form, kfhealth), and follows a
// push through the echo bot to the simulated WeChat.
func TestComposeStack(t *testing.T) {
	s := setup(t)
	compose := composeCLI(t)
	project := "kfbridge-" + s.tag
	env := append(os.Environ(),
		"KFB_BIN="+s.bin, "KFB_TAG="+s.tag, "KFB_API_BASE=http://wxsim:9100",
		"KFB_INGRESS_PORT=", "KFB_INGRESS_ADMIN_PORT=", "KFB_NATS_PORT=", "KFB_EGRESS_PORT=", "KFB_WXSIM_PORT=", // free ports
		"KFB_APPID="+demo.AppID, "KFB_APP_SECRET="+demo.Secret, "KFB_APP_TOKEN="+demo.Token, "KFB_APP_AES_KEY="+demo.EncodingAESKey)
	run := func(ctx context.Context, args ...string) (string, error) {
		full := append(slices.Clone(compose[1:]), "-f", filepath.Join(s.root, "docker-compose.yml"), "-p", project, "--profile", "demo")
		cmd := exec.CommandContext(ctx, compose[0], append(full, args...)...)
		cmd.Dir, cmd.Env = s.root, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %w\n%s", strings.Join(compose, " "), strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := run(ctx, "logs", "--no-color", "--tail", "30")
			t.Logf("compose logs:\n%s", out)
		}
		if _, err := run(ctx, "down", "--volumes", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Errorf("compose down: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := run(ctx, "up", "--detach", "--build"); err != nil {
		t.Fatal(err)
	}
	up := time.Since(start)
	addr := func(service, port string) string {
		out, err := run(ctx, "port", service, port)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}

	// Every healthcheck passes: kfhealth in the scratch images.
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for _, svc := range []string{"nats", "ingress", "egress", "wxsim"} {
		out, err := run(ctx, "ps", "-q", svc)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(out)
		var status string
		waitFor(t, 2*time.Minute, svc+" healthy", func() bool {
			res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil || res.Container.State == nil || res.Container.State.Health == nil {
				return false
			}
			status = string(res.Container.State.Health.Status)
			return status == "healthy"
		})
	}
	healthy := time.Since(start)

	// The README's round trip: a push, the echo bot's typing and reply.
	wx := newWeChat(t, "http://"+addr("ingress", "8080"), "http://"+addr("wxsim", "9100"))
	content := "hello from the compose test " + s.tag
	req := wx.sign(t, textSpec(demo.OpenID, content))
	if err := wx.recordFirst(ctx, req); err != nil {
		t.Fatal(err)
	}
	pushed := time.Now()
	if res, err := wx.pusher(t).Push(ctx, req); err != nil {
		t.Fatalf("Push = %+v, %v", res, err)
	}
	want := "echo: " + content
	waitFor(t, time.Minute, "the echo at WeChat", func() bool {
		d, err := wx.delivered(ctx)
		return err == nil && slices.ContainsFunc(d, func(d wxsim.Delivered) bool { return deliveredText(d) == want })
	})
	echoed := time.Since(pushed)
	typed, err := wx.typing(ctx)
	if err != nil || len(typed) != 1 {
		t.Errorf("typing calls = %+v, %v, want the echo bot's one", typed, err)
	}
	_, js := connectNATS(t, "nats://"+addr("nats", "4222"))
	var results map[string][]events.ResultData
	waitFor(t, 30*time.Second, "the echo bot's two results", func() bool {
		results, err = readResults(ctx, js)
		return err == nil && len(results) >= 2
	})
	for id, rs := range results {
		if len(rs) != 1 || rs[0].Outcome != events.OutcomeDelivered {
			t.Errorf("results of %s = %+v, want one delivered", id, rs)
		}
	}
	t.Logf("compose: %s up (images built) in %s, healthy after %s; push → echo at WeChat in %s",
		strings.Join(compose, " "), up.Round(time.Millisecond), healthy.Round(time.Millisecond), echoed.Round(time.Millisecond))
}

// composeCLI returns the installed Compose command: "docker compose" (v2)
// or "docker-compose" (v1.28+). Without one the test skips, or fails with
// KFBRIDGE_REQUIRE_DOCKER=1.
func composeCLI(t testing.TB) []string {
	t.Helper()
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		cmd := exec.Command(c[0], append(slices.Clone(c[1:]), "version")...)
		if err := cmd.Run(); err == nil {
			return c
		}
	}
	if os.Getenv(requireDockerEnv) == "1" {
		t.Fatalf("neither `docker compose` nor `docker-compose` is installed, and %s=1", requireDockerEnv)
	}
	t.Skipf("skipping: neither `docker compose` nor `docker-compose` is installed (set %s=1 to fail instead)", requireDockerEnv)
	return nil
}
