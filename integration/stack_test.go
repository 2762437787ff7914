package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/kfbridge/kfbridge/internal/demo"
)

// Container ports, as deploy/'s Dockerfiles and NATS configuration set them.
const (
	natsClientPort  = "4222/tcp"
	natsMonitorPort = "8222/tcp"
	ingressPort     = "8080/tcp"
	egressPort      = "8081/tcp"
	// ingressAdminPort serves the ingress's /healthz, /readyz and /metrics.
	ingressAdminPort = "8082/tcp"
	wechatPort       = "9100/tcp"
	// wechatAlias is the simulated WeChat API's name on a test network.
	wechatAlias = "wechat"
)

// stack is one test's Docker network and the containers on it; all of it
// is removed when the test ends.
type stack struct {
	t   testing.TB
	s   *suite
	net *testcontainers.DockerNetwork
}

// newStack creates a network for t's containers.
func newStack(t testing.TB) *stack {
	t.Helper()
	s := setup(t)
	nw, err := network.New(t.Context())
	testcontainers.CleanupNetwork(t, nw)
	if err != nil {
		t.Fatalf("network: %v", err)
	}
	return &stack{t: t, s: s, net: nw}
}

// run starts a container of image on the stack's network as alias; it is
// terminated when the test ends, and a failed test logs its last lines.
func (st *stack) run(alias, image string, opts ...testcontainers.ContainerCustomizer) *testcontainers.DockerContainer {
	st.t.Helper()
	opts = append([]testcontainers.ContainerCustomizer{testcontainers.WithLogger(log.TestLogger(st.t))}, opts...)
	opts = append(opts, network.WithNetwork([]string{alias}, st.net))
	c, err := testcontainers.Run(st.t.Context(), st.s.images[image], opts...)
	testcontainers.CleanupContainer(st.t, c, testcontainers.StopTimeout(5*time.Second))
	st.t.Cleanup(func() {
		if st.t.Failed() && c != nil {
			logTail(st.t, alias, c, 40)
		}
	})
	if err != nil {
		st.t.Fatalf("container %s: %v", alias, err)
	}
	return c
}

// logTail logs the last n lines of c's output.
func logTail(t testing.TB, name string, c *testcontainers.DockerContainer, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Logs(ctx)
	if err != nil {
		t.Logf("logs of %s: %v", name, err)
		return
	}
	defer r.Close()
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	t.Logf("last lines of %s:\n\t%s", name, strings.Join(lines, "\n\t"))
}

// natsNode is one NATS server container.
type natsNode struct {
	name string
	c    *testcontainers.DockerContainer
}

// startNATS starts a NATS server with JetStream and without
// authentication as name: one node (deploy/nats/nats.conf), or one node of
// the cluster nats-1..nats-3 (deploy/nats/cluster.conf). The image's
// default, secure.conf, is compose's (compose_test.go).
func (st *stack) startNATS(name string, cluster bool) *natsNode {
	st.t.Helper()
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithCmd("--config", "/etc/nats/nats.conf"),
		testcontainers.WithExposedPorts(natsClientPort, natsMonitorPort),
		testcontainers.WithWaitStrategy(wait.ForLog("Server is ready").WithStartupTimeout(time.Minute)),
	}
	if cluster {
		opts = append(opts,
			testcontainers.WithCmd("--config", "/etc/nats/cluster.conf"),
			testcontainers.WithEnv(map[string]string{"NATS_NAME": name}))
	}
	return &natsNode{name: name, c: st.run(name, "nats", opts...)}
}

// clientURL is the node's client URL from the host. Its port changes when
// the container is restarted.
func (n *natsNode) clientURL(t testing.TB) string {
	t.Helper()
	return endpoint(t, n.c, natsClientPort, "nats")
}

// waitHealthy waits until the node's /healthz answers 200: connected and,
// in a cluster, JetStream current.
func (n *natsNode) waitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	url := endpoint(t, n.c, natsMonitorPort, "http") + "/healthz"
	waitFor(t, timeout, "nats "+n.name+" healthy", func() bool { return httpStatus(t.Context(), url) == http.StatusOK })
}

// bridgeEnv is the configuration of an ingress or egress container: the
// demo app, NATS at natsURL, streams with replicas, WeChat at the
// simulator, and few partitions so that start-up stays quick.
func bridgeEnv(natsURL string, replicas int, extra map[string]string) map[string]string {
	env := map[string]string{
		"KFBRIDGE_NATS_URL":                natsURL,
		"KFBRIDGE_NATS_STREAMS_REPLICAS":   fmt.Sprint(replicas),
		"KFBRIDGE_EGRESS_API_BASE":         "http://" + wechatAlias + ":9100",
		"KFBRIDGE_EGRESS_PARTITIONS":       "16",
		"KFBRIDGE_APPS_0_APPID":            demo.AppID,
		"KFBRIDGE_APPS_0_SECRET":           demo.Secret,
		"KFBRIDGE_APPS_0_TOKEN":            demo.Token,
		"KFBRIDGE_APPS_0_ENCODING_AES_KEY": demo.EncodingAESKey,
	}
	maps.Copy(env, extra)
	return env
}

// startIngress starts an ingress container and waits for /readyz on its
// admin port.
func (st *stack) startIngress(alias string, env map[string]string) *testcontainers.DockerContainer {
	st.t.Helper()
	return st.run(alias, "ingress",
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts(ingressPort, ingressAdminPort),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(ingressAdminPort).WithStartupTimeout(2*time.Minute)))
}

// startEgress starts an egress container and waits for /readyz.
func (st *stack) startEgress(alias string, env map[string]string) *testcontainers.DockerContainer {
	st.t.Helper()
	return st.run(alias, "egress",
		testcontainers.WithEnv(env),
		testcontainers.WithExposedPorts(egressPort),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(egressPort).WithStartupTimeout(2*time.Minute)))
}

// startWeChat starts `wxsim serve` as the WeChat API, answering after
// latency.
func (st *stack) startWeChat(latency time.Duration) *testcontainers.DockerContainer {
	st.t.Helper()
	return st.run(wechatAlias, "wxsim",
		testcontainers.WithCmd("serve", "--listen", "0.0.0.0:9100", "--latency", latency.String()),
		testcontainers.WithExposedPorts(wechatPort),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/sim/clock").WithPort(wechatPort).WithStartupTimeout(time.Minute)))
}

// endpoint returns proto://host:port of c's port from the host.
func endpoint(t testing.TB, c *testcontainers.DockerContainer, port, proto string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := c.PortEndpoint(ctx, port, proto)
	if err != nil {
		t.Fatalf("endpoint of %s: %v", port, err)
	}
	return u
}

// killer sends SIGKILL to containers: a crash, no graceful shutdown. It
// holds its Docker client, so a kill takes one API call.
type killer struct {
	cli *testcontainers.DockerClient
}

func newKiller(t testing.TB) *killer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return &killer{cli: cli}
}

// kill kills c and waits until Docker reports it stopped.
func (k *killer) kill(t testing.TB, c *testcontainers.DockerContainer) {
	t.Helper()
	k.signal(t, c)
}

// signal kills c, waits until Docker reports it stopped, and returns when
// it died as Docker recorded it (FinishedAt).
func (k *killer) signal(t testing.TB, c *testcontainers.DockerContainer) (died time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := k.cli.ContainerKill(ctx, c.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatalf("kill %s: %v", c.GetContainerID(), err)
	}
	returned := time.Now()
	var finished string
	waitFor(t, 20*time.Second, "the killed container to stop", func() bool {
		s, err := c.State(ctx)
		if err != nil || s.Running {
			return false
		}
		finished = s.FinishedAt
		return true
	})
	died, err := time.Parse(time.RFC3339Nano, finished)
	if err != nil || died.IsZero() || died.After(returned.Add(time.Second)) {
		t.Logf("kill: Docker's FinishedAt %q unusable (%v); using the time the kill returned", finished, err)
		return returned
	}
	return died
}

// waitFor polls cond every 100 ms until it holds, failing t after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Since(start)
}

// httpStatus GETs url and returns the status, 0 when there is no answer.
func httpStatus(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
