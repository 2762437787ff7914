package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/internal/demo"
	"github.com/kfbridge/kfbridge/internal/token"
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

// composePasswordVars are the NATS passwords deploy/nats/accounts.conf and
// the compose files read (`make secrets` writes them to .env).
var composePasswordVars = []string{
	"KFB_NATS_BRIDGE_PASSWORD", "KFB_NATS_OPS_PASSWORD", "KFB_NATS_SYS_PASSWORD",
	"KFB_NATS_ECHOBOT_PASSWORD", "KFB_NATS_ROUTE_PASSWORD",
}

// composeStack is one Compose project of the committed compose files,
// removed with its volumes when the test ends.
type composeStack struct {
	t       testing.TB
	s       *suite
	cli     []string
	project string
	// args precede every command: the files and profiles.
	args []string
	env  []string
	// passwords are the NATS passwords by variable.
	passwords map[string]string
	docker    *client.Client
}

// newCompose prepares the project of files (relative to the repository)
// with the demo profile, fresh random NATS passwords, the demo app, the
// simulated WeChat API and free host ports (every variable in freePorts
// empty), plus extraEnv (NAME=value).
func newCompose(t testing.TB, files []string, freePorts []string, extraEnv ...string) *composeStack {
	t.Helper()
	s := setup(t)
	c := &composeStack{t: t, s: s, cli: composeCLI(t), passwords: map[string]string{}}
	var id [3]byte
	rand.Read(id[:])
	c.project = "kfbridge-" + s.tag + "-" + hex.EncodeToString(id[:])
	for _, f := range files {
		c.args = append(c.args, "-f", filepath.Join(s.root, f))
	}
	c.args = append(c.args, "-p", c.project, "--profile", "demo")
	c.env = append(os.Environ(),
		"KFB_BIN="+s.bin, "KFB_TAG="+s.tag, "KFB_API_BASE=http://wxsim:9100",
		"KFB_APPID="+demo.AppID, "KFB_APP_SECRET="+demo.Secret, "KFB_APP_TOKEN="+demo.Token, "KFB_APP_AES_KEY="+demo.EncodingAESKey)
	for _, v := range freePorts {
		c.env = append(c.env, v+"=")
	}
	for _, v := range composePasswordVars {
		var b [16]byte
		rand.Read(b[:])
		c.passwords[v] = "p" + hex.EncodeToString(b[:])
		c.env = append(c.env, v+"="+c.passwords[v])
	}
	c.env = append(c.env, extraEnv...)
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	c.docker = cli
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := c.run(ctx, "logs", "--no-color", "--tail", "30")
			t.Logf("compose logs:\n%s", out)
		}
		if _, err := c.run(ctx, "down", "--volumes", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Errorf("compose down: %v", err)
		}
		cli.Close()
	})
	return c
}

// run runs one Compose command of the project.
func (c *composeStack) run(ctx context.Context, args ...string) (string, error) {
	full := append(slices.Clone(c.cli[1:]), c.args...)
	cmd := exec.CommandContext(ctx, c.cli[0], append(full, args...)...)
	cmd.Dir, cmd.Env = c.s.root, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", strings.Join(c.cli, " "), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// up builds the images and starts the project, then waits until every
// healthcheck of services passes; it returns how long each took.
func (c *composeStack) up(ctx context.Context, services ...string) (up, healthy time.Duration) {
	c.t.Helper()
	start := time.Now()
	if _, err := c.run(ctx, "up", "--detach", "--build"); err != nil {
		c.t.Fatal(err)
	}
	up = time.Since(start)
	for _, svc := range services {
		id := c.container(ctx, svc)
		waitFor(c.t, 2*time.Minute, svc+" healthy", func() bool {
			res, err := c.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			return err == nil && res.Container.State != nil && res.Container.State.Health != nil &&
				res.Container.State.Health.Status == "healthy"
		})
	}
	return up, time.Since(start)
}

// container returns the id of service's container.
func (c *composeStack) container(ctx context.Context, service string) string {
	c.t.Helper()
	out, err := c.run(ctx, "ps", "-q", service)
	if err != nil {
		c.t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	if id == "" {
		c.t.Fatalf("service %s has no container", service)
	}
	return id
}

// addr returns host:port of service's published port.
func (c *composeStack) addr(ctx context.Context, service, port string) string {
	c.t.Helper()
	out, err := c.run(ctx, "port", service, port)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// natsURL is a client URL of the NATS at hostport with user's password
// (user is one of deploy/nats/accounts.conf's).
func (c *composeStack) natsURL(scheme, user, hostport string) string {
	v := map[string]string{"kfbridge": "KFB_NATS_BRIDGE_PASSWORD", "ops": "KFB_NATS_OPS_PASSWORD", "sys": "KFB_NATS_SYS_PASSWORD", "echobot": "KFB_NATS_ECHOBOT_PASSWORD"}[user]
	return scheme + "://" + user + ":" + c.passwords[v] + "@" + hostport
}

// echoRoundTrip pushes a text through the ingress at ingressURL and waits
// for the echo bot's answer at the simulated WeChat; it returns how long
// that took.
func echoRoundTrip(t testing.TB, ctx context.Context, ingressURL, simURL, content string) time.Duration {
	t.Helper()
	wx := newWeChat(t, ingressURL, simURL)
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
	return time.Since(pushed)
}

// checkNotRoot fails t when a process of a service's container runs as
// root, or the image sets no user.
func (c *composeStack) checkNotRoot(ctx context.Context, services ...string) {
	c.t.Helper()
	for _, svc := range services {
		id := c.container(ctx, svc)
		res, err := c.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			c.t.Fatal(err)
		}
		if u := res.Container.Config.User; u == "" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root") {
			c.t.Errorf("%s: container user %q, want nobody", svc, u)
		}
		top, err := c.docker.ContainerTop(ctx, id, client.ContainerTopOptions{Arguments: []string{"-o", "pid,uid,comm"}})
		if err != nil {
			c.t.Fatal(err)
		}
		col := slices.Index(top.Titles, "UID")
		if len(top.Processes) == 0 || col < 0 {
			c.t.Errorf("%s: processes %v %v", svc, top.Titles, top.Processes)
		}
		for _, p := range top.Processes {
			if col >= len(p) || p[col] == "0" {
				c.t.Errorf("%s: process %v runs as root", svc, p)
			}
		}
	}
}

// TestComposeStack brings up the committed docker-compose.yml with its demo
// profile, as `make demo` does but on free ports, under its own project
// name and with its own passwords, waits for every healthcheck (exec
// form, kfhealth), and follows a push through the echo bot — connected
// with its bot account — to the simulated WeChat. Then it checks what
// secures the stack: every process runs as nobody, NATS refuses a client
// without credentials, the bot's account cannot read the access token
// (which the ops user can), nor use another bot's consumer, nor create
// one, nor ping the servers as the system account's user does; the admin
// listener and NATS monitoring are published on loopback only, and the
// public port serves no metrics.
func TestComposeStack(t *testing.T) {
	c := newCompose(t, []string{"docker-compose.yml"}, []string{
		"KFB_INGRESS_PORT", "KFB_INGRESS_ADMIN_PORT", "KFB_NATS_PORT", "KFB_NATS_MONITOR_PORT", "KFB_EGRESS_PORT", "KFB_WXSIM_PORT"})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	up, healthy := c.up(ctx, "nats", "ingress", "egress", "wxsim")

	// The README's round trip: a push, the echo bot's typing and reply.
	ingress, sim := c.addr(ctx, "ingress", "8080"), c.addr(ctx, "wxsim", "9100")
	echoed := echoRoundTrip(t, ctx, "http://"+ingress, "http://"+sim, "hello from the compose test "+c.s.tag)
	typed, err := newWeChat(t, "http://"+ingress, "http://"+sim).typing(ctx)
	if err != nil || len(typed) != 1 {
		t.Errorf("typing calls = %+v, %v, want the echo bot's one", typed, err)
	}
	natsAddr := c.addr(ctx, "nats", "4222")
	_, ops := connectNATS(t, c.natsURL("nats", "ops", natsAddr))
	var results map[string][]events.ResultData
	waitFor(t, 30*time.Second, "the echo bot's two results", func() bool {
		results, err = readResults(ctx, ops)
		return err == nil && len(results) >= 2
	})
	for id, rs := range results {
		if len(rs) != 1 || rs[0].Outcome != events.OutcomeDelivered {
			t.Errorf("results of %s = %+v, want one delivered", id, rs)
		}
	}

	c.checkNotRoot(ctx, "nats", "ingress", "egress", "wxsim", "echobot")

	// No credentials, wrong password: refused.
	if nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(3*time.Second)); err == nil {
		nc.Close()
		t.Error("NATS accepted a client without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a client without credentials: %v, want an authorization violation", err)
	}
	if nc, err := nats.Connect("nats://echobot:wrong@"+natsAddr, nats.Timeout(3*time.Second)); err == nil {
		nc.Close()
		t.Error("NATS accepted a wrong password")
	}

	// The ops user (the KFBRIDGE account) reads the token the egress
	// fetched; the bot's account has no such bucket.
	kv, err := ops.KeyValue(ctx, token.BucketName)
	if err != nil {
		t.Fatalf("ops: bucket %s: %v", token.BucketName, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tokenKeys []string
	for k := range keys.Keys() {
		tokenKeys = append(tokenKeys, k)
	}
	if len(tokenKeys) == 0 {
		t.Fatalf("ops: no access token in %s after a send", token.BucketName)
	}
	botNC, bot := connectNATS(t, c.natsURL("nats", "echobot", natsAddr))
	if _, err := bot.KeyValue(ctx, token.BucketName); err == nil {
		t.Errorf("the bot opened the bucket %s", token.BucketName)
	}
	// A direct get of the token's subject, as `nats kv get` does.
	if msg, err := botNC.Request("$JS.API.DIRECT.GET.KV_"+token.BucketName+".$KV."+token.BucketName+"."+tokenKeys[0], nil, 2*time.Second); err == nil {
		t.Errorf("the bot read the token: %q", msg.Data)
	}
	got := make(chan *nats.Msg, 1)
	sub, err := botNC.ChanSubscribe("$KV."+token.BucketName+".>", got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	// Its own consumers work; another's, and creating one, do not.
	if _, err := bot.Consumer(ctx, events.InboundStreamName, "echobot"); err != nil {
		t.Errorf("the bot's own consumer: %v", err)
	}
	if _, err := ops.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{Durable: "otherbot", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.Consumer(ctx, events.InboundStreamName, "otherbot"); err == nil {
		t.Error("the bot reached another bot's consumer")
	}
	if msg, err := botNC.Request("$JS.API.CONSUMER.MSG.NEXT."+events.InboundStreamName+".otherbot", []byte(`{"batch":1,"expires":1000000000}`), 2*time.Second); err == nil {
		t.Errorf("the bot pulled from another bot's consumer: %q %v", msg.Data, msg.Header)
	}
	if _, err := bot.CreateOrUpdateConsumer(ctx, events.InboundStreamName, jetstream.ConsumerConfig{Durable: "mine", AckPolicy: jetstream.AckExplicitPolicy}); err == nil {
		t.Error("the bot created a consumer")
	}
	// A second echo: the token is read and written again meanwhile; none
	// of it reaches the bot's subscription.
	echoRoundTrip(t, ctx, "http://"+ingress, "http://"+sim, "second "+c.s.tag)
	select {
	case m := <-got:
		t.Errorf("the bot saw %s", m.Subject)
	default:
	}

	// The system account's user monitors the server over NATS; a bot
	// cannot.
	sys, _ := connectNATS(t, c.natsURL("nats", "sys", natsAddr))
	if _, err := sys.Request("$SYS.REQ.SERVER.PING.VARZ", nil, 3*time.Second); err != nil {
		t.Errorf("sys: server ping: %v", err)
	}
	if msg, err := botNC.Request("$SYS.REQ.SERVER.PING.VARZ", nil, time.Second); err == nil {
		t.Errorf("the bot pinged the servers: %.80q", msg.Data)
	}

	// Listeners: admin and monitoring on the host's loopback only; the
	// public port has no metrics.
	admin, monitor := c.addr(ctx, "ingress", "8082"), c.addr(ctx, "nats", "8222")
	for _, a := range []string{ingress, admin, natsAddr, monitor} {
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Errorf("published on %s, want 127.0.0.1", a)
		}
	}
	if st := httpStatus(ctx, "http://"+ingress+"/metrics"); st != 404 {
		t.Errorf("public /metrics = %d, want 404", st)
	}
	if st := httpStatus(ctx, "http://"+admin+"/metrics"); st != 200 {
		t.Errorf("admin /metrics = %d, want 200", st)
	}
	t.Logf("compose: %s up (images built) in %s, healthy after %s; push → echo at WeChat in %s",
		strings.Join(c.cli, " "), up.Round(time.Millisecond), healthy.Round(time.Millisecond), echoed.Round(time.Millisecond))
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

// TestComposeRefusesWithoutPasswords checks that every compose file refuses
// to start while one of the NATS passwords it reads is unset, saying what
// to do, and accepts the set. It needs the Compose CLI, not the daemon.
func TestComposeRefusesWithoutPasswords(t *testing.T) {
	compose := composeCLI(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KFB_") {
			base = append(base, kv)
		}
	}
	envFile := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base = append(base, "KFB_BIN="+t.TempDir(), "KFB_NATS_TLS_DIR="+t.TempDir())
	config := func(files []string, env []string) (string, error) {
		args := slices.Clone(compose[1:])
		for _, f := range files {
			args = append(args, "-f", filepath.Join(root, f))
		}
		// --env-file: a .env of the developer's must not fill the gaps.
		args = append(args, "--env-file", envFile, "--profile", "demo", "config", "--quiet")
		cmd := exec.CommandContext(t.Context(), compose[0], args...)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, files := range [][]string{
		{"docker-compose.yml"}, {"docker-compose.yml", "docker-compose.tls.yml"},
		{"docker-compose.cluster.yml"}, {"docker-compose.cluster.yml", "docker-compose.cluster.tls.yml"},
	} {
		var all []string
		for _, v := range composePasswordVars {
			all = append(all, v+"=pTest1")
		}
		if out, err := config(files, append(slices.Clone(base), all...)); err != nil {
			t.Errorf("%v with every password: %v\n%s", files, err, out)
		}
		for i, v := range composePasswordVars {
			if v == "KFB_NATS_ROUTE_PASSWORD" && !strings.Contains(files[0], "cluster") {
				continue // only the cluster's routes use it
			}
			env := append(slices.Clone(base), slices.Delete(slices.Clone(all), i, i+1)...)
			out, err := config(files, env)
			if err == nil || !strings.Contains(out, "run make secrets") {
				t.Errorf("%v without %s: %v, %q; want a refusal saying to run make secrets", files, v, err, out)
			}
		}
	}
}
