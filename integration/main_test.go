package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// requireDockerEnv makes a missing Docker daemon a failure instead of a
// skip; .ci/run sets it.
const requireDockerEnv = "KFBRIDGE_REQUIRE_DOCKER"

// imageNames are the images the tests build, by Dockerfile
// (deploy/<name>.Dockerfile). The compose test builds its own, with the
// Compose CLI.
var imageNames = []string{"nats", "ingress", "egress", "wxsim"}

// binaryPackages are built into the staged build context; the name of each
// binary is the last element of its path (nats-server for .../v2).
var binaryPackages = []string{
	"./cmd/ingress", "./cmd/egress", "./cmd/wxsim", "./cmd/kfhealth",
	"./examples/echobot/cmd/echobot", "github.com/nats-io/nats-server/v2",
}

// caBundles are where hosts keep their CA certificates, as in the Makefile.
var caBundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}

// suite is what every test shares: the staged binaries and the built images.
type suite struct {
	// root is the module root (the repository).
	root string
	// bin is the staged build context: binaries, CA certificates, the
	// Dockerfiles and NATS configuration of deploy/.
	bin string
	// tag is this run's image tag (also the compose test's KFB_TAG).
	tag string
	// images maps an image name to its repo:tag.
	images map[string]string
	// buildTime is how long building binaries and images took.
	buildTime time.Duration
}

var (
	dockerOnce sync.Once
	dockerErr  error

	suiteOnce sync.Once
	theSuite  *suite
	suiteErr  error
	// built is the suite as far as it was built, for the cleanup.
	built *suite
	// workDir is removed at the end of the run.
	workDir string
)

func TestMain(m *testing.M) {
	// The reaper (Ryuk) is an image testcontainers would pull; the tests
	// remove their own containers and networks instead.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// Containers log to their test (t.Logf); the rest would be noise.
	log.SetDefault(log.NewNoopLogger())
	code := m.Run()
	if err := teardownSuite(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: cleanup:", err)
	}
	os.Exit(code)
}

// requireDocker skips t without a reachable Docker daemon, or fails it when
// KFBRIDGE_REQUIRE_DOCKER=1.
func requireDocker(t testing.TB) {
	t.Helper()
	dockerOnce.Do(func() { dockerErr = pingDocker() })
	if dockerErr == nil {
		return
	}
	if os.Getenv(requireDockerEnv) == "1" {
		t.Fatalf("integration tests need a Docker daemon and %s=1 makes that an error: %v", requireDockerEnv, dockerErr)
	}
	t.Skipf("skipping: integration tests need a Docker daemon (set %s=1 to fail instead): %v", requireDockerEnv, dockerErr)
}

func pingDocker() (err error) {
	defer func() {
		if r := recover(); r != nil { // testcontainers panics on some broken setups
			err = fmt.Errorf("docker provider: %v", r)
		}
	}()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.Health(ctx)
}

// setup returns the shared suite, building binaries and images on first
// use. It skips or fails t without Docker.
func setup(t testing.TB) *suite {
	t.Helper()
	requireDocker(t)
	suiteOnce.Do(func() {
		theSuite, suiteErr = buildSuite()
		if suiteErr == nil {
			t.Logf("built the binaries and images (tag %s) in %s", theSuite.tag, theSuite.buildTime.Round(time.Millisecond))
		}
	})
	if suiteErr != nil {
		t.Fatalf("building the binaries and images: %v", suiteErr)
	}
	return theSuite
}

func buildSuite() (*suite, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("module root: %w", err)
	}
	workDir, err = os.MkdirTemp("", "kfbridge-it-")
	if err != nil {
		return nil, err
	}
	var id [4]byte
	rand.Read(id[:])
	s := &suite{root: root, bin: filepath.Join(workDir, "bin"), tag: "it-" + hex.EncodeToString(id[:]), images: map[string]string{}}
	built = s
	if err := stageBinaries(ctx, s); err != nil {
		return nil, err
	}
	for _, name := range imageNames {
		ref, err := buildImage(ctx, s, name)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		s.images[name] = ref
	}
	if err := chooseHost(ctx, s); err != nil {
		return nil, err
	}
	s.buildTime = time.Since(start)
	return s, nil
}

// stageBinaries builds the static binaries and stages the build context,
// as `make bin` does.
func stageBinaries(ctx context.Context, s *suite) error {
	if err := os.MkdirAll(s.bin, 0o755); err != nil {
		return err
	}
	args := append([]string{"build", "-trimpath", "-o", s.bin + string(filepath.Separator)}, binaryPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	// The images copy the CA bundle; the tests call WeChat over http, so an
	// empty bundle will do on a host without one.
	var certs []byte
	for _, p := range caBundles {
		if b, err := os.ReadFile(p); err == nil {
			certs = b
			break
		}
	}
	if err := os.WriteFile(filepath.Join(s.bin, "ca-certificates.crt"), certs, 0o644); err != nil {
		return err
	}
	staged, err := filepath.Glob(filepath.Join(s.root, "deploy", "*.Dockerfile"))
	if err != nil {
		return err
	}
	confs, err := filepath.Glob(filepath.Join(s.root, "deploy", "nats", "*.conf"))
	if err != nil {
		return err
	}
	for _, src := range append(staged, confs...) {
		if err := copyFile(src, filepath.Join(s.bin, filepath.Base(src))); err != nil {
			return err
		}
	}
	// The NATS image's /data, owned by nobody (as `make bin`).
	return os.MkdirAll(filepath.Join(s.bin, "nats-data"), 0o755)
}

// buildImage builds deploy/<name>.Dockerfile with a context of only the
// files it copies (hard links into the staged directory), keeps the image
// for the whole run, and returns its reference.
func buildImage(ctx context.Context, s *suite, name string) (string, error) {
	dockerfile := filepath.Join(s.bin, name+".Dockerfile")
	df, err := os.ReadFile(dockerfile)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(workDir, "ctx-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := append(copySources(string(df)), name+".Dockerfile")
	for _, f := range files {
		if err := linkOrCopy(filepath.Join(s.bin, f), filepath.Join(dir, f)); err != nil {
			return "", err
		}
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", err
	}
	defer p.Close()
	req := testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context:    dir,
		Dockerfile: name + ".Dockerfile",
		Repo:       "kfbridge-it/" + name,
		Tag:        s.tag,
		KeepImage:  true,
	}}
	return p.BuildImage(ctx, &req)
}

// hostOverride is testcontainers' setting of the host that reaches the
// containers' published ports.
const hostOverride = "TESTCONTAINERS_HOST_OVERRIDE"

// chooseHost makes sure testcontainers reaches published ports: where
// /.dockerenv exists it assumes the tests run in a container beside the
// daemon and uses the Docker network's gateway, which is wrong when the
// daemon runs in the same sandbox; then 127.0.0.1 is used. An explicit
// TESTCONTAINERS_HOST_OVERRIDE is left alone.
func chooseHost(ctx context.Context, s *suite) error {
	if _, ok := os.LookupEnv(hostOverride); ok {
		return nil
	}
	c, err := testcontainers.Run(ctx, s.images["nats"],
		testcontainers.WithCmd("--config", "/etc/nats/nats.conf"),
		testcontainers.WithExposedPorts(natsClientPort),
		testcontainers.WithWaitStrategy(wait.ForLog("Server is ready").WithStartupTimeout(time.Minute)))
	defer testcontainers.TerminateContainer(c, testcontainers.StopTimeout(time.Second))
	if err != nil {
		return fmt.Errorf("probe container: %w", err)
	}
	port, err := c.MappedPort(ctx, natsClientPort)
	if err != nil {
		return err
	}
	inferred, err := c.Host(ctx)
	if err != nil {
		return err
	}
	for _, h := range []string{inferred, "127.0.0.1"} {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(h, port.Port()), 2*time.Second)
		if err != nil {
			continue
		}
		conn.Close()
		if h != inferred {
			os.Setenv(hostOverride, h)
		}
		return nil
	}
	return fmt.Errorf("published ports are reachable neither at %s nor at 127.0.0.1; set %s", inferred, hostOverride)
}

// copySources returns the sources of a Dockerfile's COPY instructions,
// after their flags (--chown=…; no globs: deploy/'s Dockerfiles use none).
func copySources(dockerfile string) []string {
	var srcs []string
	for line := range strings.Lines(dockerfile) {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.EqualFold(f[0], "COPY") {
			continue
		}
		f = f[1:]
		for len(f) > 0 && strings.HasPrefix(f[0], "--") {
			f = f[1:]
		}
		if len(f) >= 2 {
			srcs = append(srcs, f[:len(f)-1]...)
		}
	}
	return srcs
}

// linkOrCopy hard-links src to dst, or copies it; a directory is made
// anew, empty (the staged ones are).
func linkOrCopy(src, dst string) error {
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		return os.MkdirAll(dst, fi.Mode().Perm())
	}
	if err := os.Link(src, dst); err == nil || errors.Is(err, os.ErrExist) {
		return nil
	}
	return copyFile(src, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// teardownSuite removes this run's images and the staged files.
func teardownSuite() error {
	var errs []error
	if built != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := testcontainers.NewDockerProvider()
		if err == nil {
			var refs []string
			for _, name := range imageNames {
				refs = append(refs, "kfbridge-it/"+name+":"+built.tag)
			}
			refs = append(refs, composeImages(built.tag)...)
			for _, ref := range refs {
				_, err := p.Client().ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
				if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such image") {
					errs = append(errs, fmt.Errorf("remove image %s: %w", ref, err))
				}
			}
			p.Close()
		} else {
			errs = append(errs, err)
		}
	}
	if workDir != "" {
		errs = append(errs, os.RemoveAll(workDir))
	}
	return errors.Join(errs...)
}
