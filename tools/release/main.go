// Command release builds a kfbridge release as release.yaml describes it:
// static binaries for every platform (CGO_ENABLED=0, -trimpath, the version
// stamped into internal/buildinfo), tar.gz archives of them with
// SHA256SUMS, and FROM scratch images per platform built from deploy/'s
// Dockerfiles (docker build --platform; FROM scratch needs no emulation and
// no registry).
//
//	go run ./tools/release --version v1.2.3            # into dist/v1.2.3, images kfbridge-*:v1.2.3-<arch>
//	go run ./tools/release --dry-run                   # everything in a temporary directory, then removed
//
// Publishing (docker push, uploading the archives) is left to the operator:
// nothing here talks to a registry.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is release.yaml.
type Config struct {
	Platforms []string `yaml:"platforms"`
	Binaries  []Binary `yaml:"binaries"`
	Images    []Image  `yaml:"images"`
	Context   []string `yaml:"context"`
	EmptyDirs []string `yaml:"empty_dirs"`
}

// Binary is one program to build.
type Binary struct {
	Name string `yaml:"name"`
	Main string `yaml:"main"`
	// Archive is false for binaries that only go into images.
	Archive *bool `yaml:"archive"`
}

// Image is one image to build from a Dockerfile.
type Image struct {
	Name       string `yaml:"name"`
	Dockerfile string `yaml:"dockerfile"`
}

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

func main() {
	cfgPath := flag.String("config", "release.yaml", "release configuration")
	version := flag.String("version", "", "release version, vMAJOR.MINOR.PATCH[-pre] (default v0.0.0-dryrun with --dry-run)")
	dryRun := flag.Bool("dry-run", false, "build everything into a temporary directory and throwaway image tags, check, then remove it all")
	out := flag.String("dist", "dist", "output directory (without --dry-run)")
	noImages := flag.Bool("no-images", false, "build the binaries and archives only")
	caCerts := flag.String("ca-certs", firstExisting("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"), "CA bundle copied into the images")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, logger, *cfgPath, *version, *out, *caCerts, *dryRun, !*noImages); err != nil {
		logger.Error("release failed", "err", err)
		os.Exit(1)
	}
}

func firstExisting(paths ...string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	if len(c.Platforms) == 0 || len(c.Binaries) == 0 {
		errs = append(errs, fmt.Errorf("%s: platforms and binaries are required", path))
	}
	for _, p := range c.Platforms {
		if os, arch, ok := strings.Cut(p, "/"); !ok || os != "linux" || arch == "" {
			errs = append(errs, fmt.Errorf("%s: platform %q: want linux/<arch>", path, p))
		}
	}
	for _, b := range c.Binaries {
		if b.Name == "" || b.Main == "" {
			errs = append(errs, fmt.Errorf("%s: a binary needs name and main", path))
		}
	}
	for _, im := range c.Images {
		if _, err := os.Stat(im.Dockerfile); err != nil {
			errs = append(errs, fmt.Errorf("%s: image %s: %w", path, im.Name, err))
		}
	}
	return &c, errors.Join(errs...)
}

func run(ctx context.Context, logger *slog.Logger, cfgPath, version, out, caCerts string, dryRun, images bool) (err error) {
	cfg, err := load(cfgPath)
	if err != nil {
		return err
	}
	if version == "" && dryRun {
		version = "v0.0.0-dryrun"
	}
	if !versionRE.MatchString(version) {
		return fmt.Errorf("--version %q: want vMAJOR.MINOR.PATCH[-pre]", version)
	}
	if images && caCerts == "" {
		return errors.New("no CA bundle found for the images; pass --ca-certs")
	}
	dist := filepath.Join(out, version)
	if dryRun {
		if dist, err = os.MkdirTemp("", "kfbridge-release-"); err != nil {
			return err
		}
		defer os.RemoveAll(dist)
	}
	var sums []string
	var tags []string
	if dryRun {
		defer func() {
			for _, tag := range tags {
				exec.Command("docker", "image", "rm", "-f", tag).Run()
			}
		}()
	}
	for _, platform := range cfg.Platforms {
		arch := strings.TrimPrefix(platform, "linux/")
		dir := filepath.Join(dist, "linux_"+arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, b := range cfg.Binaries {
			logger.Info("build", "binary", b.Name, "platform", platform)
			if err := goBuild(ctx, b, version, arch, filepath.Join(dir, b.Name)); err != nil {
				return err
			}
		}
		archive := filepath.Join(dist, fmt.Sprintf("kfbridge_%s_linux_%s.tar.gz", version, arch))
		var names []string
		for _, b := range cfg.Binaries {
			if b.Archive == nil || *b.Archive {
				names = append(names, b.Name)
			}
		}
		if err := writeArchive(archive, dir, names, []string{"LICENSE", "README.md", "CHANGELOG.md"}); err != nil {
			return err
		}
		sum, err := sha256File(archive)
		if err != nil {
			return err
		}
		sums = append(sums, sum+"  "+filepath.Base(archive))
		if !images {
			continue
		}
		for _, f := range append(slices.Clone(cfg.Context), caCerts) {
			name := filepath.Base(f)
			if f == caCerts {
				name = "ca-certificates.crt"
			}
			if err := copyFile(f, filepath.Join(dir, name)); err != nil {
				return err
			}
		}
		for _, d := range cfg.EmptyDirs {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Base(d)), 0o755); err != nil {
				return err
			}
		}
		for _, im := range cfg.Images {
			// --no-cache: the classic builder's layer cache is not keyed by
			// platform, and would hand an arm64 build an amd64 layer.
			tag := fmt.Sprintf("%s:%s-%s", im.Name, version, arch)
			logger.Info("image", "tag", tag, "platform", platform)
			cmd := exec.CommandContext(ctx, "docker", "build", "--quiet", "--no-cache", "--platform", platform,
				"--label", "org.opencontainers.image.version="+version, "-t", tag, "-f", im.Dockerfile, dir)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("docker build %s: %w\n%s", tag, err, b)
			}
			tags = append(tags, tag)
			got, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", tag).Output()
			if err != nil {
				return fmt.Errorf("docker image inspect %s: %w", tag, err)
			}
			if strings.TrimSpace(string(got)) != platform {
				return fmt.Errorf("image %s is %s, want %s", tag, strings.TrimSpace(string(got)), platform)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(strings.Join(sums, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if dryRun {
		logger.Info("dry run complete: everything built and removed", "platforms", len(cfg.Platforms),
			"binaries", len(cfg.Binaries), "images", len(tags))
		return nil
	}
	logger.Info("release built", "dist", dist, "images", tags)
	return nil
}

// goBuild builds one static binary for linux/arch, checks that it is one
// for that architecture, and that it reports version.
func goBuild(ctx context.Context, b Binary, version, arch, out string) error {
	ldflags := "-s -w -X github.com/kfbridge/kfbridge/internal/buildinfo.version=" + version
	// -buildvcs=auto: record the revision even where GOFLAGS turns it off.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=auto", "-ldflags", ldflags, "-o", out, b.Main)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %w\n%s", b.Name, arch, err, msg)
	}
	info, err := exec.CommandContext(ctx, "go", "version", "-m", out).Output()
	if err != nil {
		return fmt.Errorf("go version -m %s: %w", out, err)
	}
	for _, want := range []string{"GOARCH=" + arch, "CGO_ENABLED=0"} {
		if !strings.Contains(string(info), want) {
			return fmt.Errorf("%s: build info lacks %s", out, want)
		}
	}
	// A main that prints its version (it imports buildinfo, or bridge whose
	// Main does) must carry the stamp; elsewhere the linker drops it.
	imports, err := exec.CommandContext(ctx, "go", "list", "-f", `{{join .Imports " "}}`, b.Main).Output()
	if err != nil {
		return fmt.Errorf("go list %s: %w", b.Main, err)
	}
	pkgs := strings.Fields(string(imports))
	if slices.Contains(pkgs, "github.com/kfbridge/kfbridge/internal/buildinfo") || slices.Contains(pkgs, "github.com/kfbridge/kfbridge/internal/bridge") {
		// -trimpath keeps -ldflags out of the build info: look for the
		// stamped string itself (works for any architecture).
		bin, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if !bytes.Contains(bin, []byte(version)) {
			return fmt.Errorf("%s: version %s not stamped", out, version)
		}
	}
	return nil
}

func writeArchive(path, dir string, names, docs []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	add := func(src, name string) error {
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime()}); err != nil {
			return err
		}
		_, err = io.Copy(tw, in)
		return err
	}
	for _, n := range names {
		if err := add(filepath.Join(dir, n), n); err != nil {
			return err
		}
	}
	for _, d := range docs {
		if err := add(d, d); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
