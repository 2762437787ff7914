package integration

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kfbridge/kfbridge/pkg/events"
)

// TestComposeTLS brings up docker-compose.yml with docker-compose.tls.yml
// and a throwaway certificate: NATS requires TLS, the bridge and the echo
// bot verify it with the given CA, and a push is echoed; a client that
// does not trust the CA is refused.
func TestComposeTLS(t *testing.T) {
	dir := writeTLSFiles(t, []string{"nats", "localhost"})
	c := newCompose(t, []string{"docker-compose.yml", "docker-compose.tls.yml"}, []string{
		"KFB_INGRESS_PORT", "KFB_INGRESS_ADMIN_PORT", "KFB_NATS_PORT", "KFB_NATS_MONITOR_PORT", "KFB_EGRESS_PORT", "KFB_WXSIM_PORT"},
		"KFB_NATS_TLS_DIR="+dir)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	up, healthy := c.up(ctx, "nats", "ingress", "egress", "wxsim")
	ingress, sim := c.addr(ctx, "ingress", "8080"), c.addr(ctx, "wxsim", "9100")
	echoed := echoRoundTrip(t, ctx, "http://"+ingress, "http://"+sim, "hello over TLS "+c.s.tag)

	natsAddr := c.addr(ctx, "nats", "4222")
	conn, err := net.DialTimeout("tcp", natsAddr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	info, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Errorf("NATS INFO = %q, %v; want tls_required", info, err)
	}
	if nc, err := nats.Connect(c.natsURL("nats", "ops", natsAddr), nats.Timeout(3*time.Second)); err == nil {
		nc.Close()
		t.Error("a client that does not trust the CA connected")
	}
	nc, err := nats.Connect(c.natsURL("tls", "ops", natsAddr), nats.RootCAs(filepath.Join(dir, "ca.pem")), nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatalf("ops over TLS: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var results map[string][]events.ResultData
	waitFor(t, 30*time.Second, "the echo bot's results", func() bool {
		results, err = readResults(ctx, js)
		return err == nil && len(results) >= 2
	})
	t.Logf("compose with TLS: up in %s, healthy after %s; push → echo at WeChat in %s",
		up.Round(time.Millisecond), healthy.Round(time.Millisecond), echoed.Round(time.Millisecond))
}

// TestComposeCluster brings up docker-compose.cluster.yml with its demo
// profile: three secured NATS nodes with authenticated routes, two ingress
// and three egress replicas; a push through each ingress is echoed, and
// the streams have three replicas.
func TestComposeCluster(t *testing.T) {
	composeCluster(t, "")
}

// TestComposeClusterTLS is TestComposeCluster with
// docker-compose.cluster.tls.yml and a throwaway certificate for the three
// nodes: every client, the bridge's and the echo bot's too, uses TLS.
func TestComposeClusterTLS(t *testing.T) {
	composeCluster(t, writeTLSFiles(t, []string{"nats-1", "nats-2", "nats-3", "localhost"}))
}

// composeCluster runs the cluster test, with TLS when tlsDir is set.
func composeCluster(t *testing.T, tlsDir string) {
	files, scheme, natsOpts := []string{"docker-compose.cluster.yml"}, "nats", []nats.Option{nats.Timeout(3 * time.Second)}
	var env []string
	if tlsDir != "" {
		files, scheme = append(files, "docker-compose.cluster.tls.yml"), "tls"
		env = append(env, "KFB_NATS_TLS_DIR="+tlsDir)
		natsOpts = append(natsOpts, nats.RootCAs(filepath.Join(tlsDir, "ca.pem")))
	}
	c := newCompose(t, files, []string{
		"KFB_NATS_PORT", "KFB_NATS_2_PORT", "KFB_NATS_3_PORT", "KFB_INGRESS_PORT", "KFB_INGRESS_ADMIN_PORT",
		"KFB_INGRESS_2_PORT", "KFB_INGRESS_2_ADMIN_PORT", "KFB_WXSIM_PORT"}, env...)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	up, healthy := c.up(ctx, "nats-1", "nats-2", "nats-3", "ingress-1", "ingress-2", "egress-1", "egress-2", "egress-3", "wxsim")
	sim := "http://" + c.addr(ctx, "wxsim", "9100")
	var echoed []time.Duration
	for _, svc := range []string{"ingress-1", "ingress-2"} {
		echoed = append(echoed, echoRoundTrip(t, ctx, "http://"+c.addr(ctx, svc, "8080"), sim, "hello through "+svc+" "+c.s.tag))
	}
	nc, err := nats.Connect(c.natsURL(scheme, "ops", c.addr(ctx, "nats-2", "4222")), append(natsOpts, nats.IgnoreDiscoveredServers())...)
	if err != nil {
		t.Fatalf("ops: %v", err)
	}
	defer nc.Close()
	ops, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ops.Stream(ctx, events.InboundStreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info := s.CachedInfo(); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Errorf("%s: replicas %d, cluster %+v; want 3 on three nodes", events.InboundStreamName, info.Config.Replicas, info.Cluster)
	}
	c.checkNotRoot(ctx, "nats-1", "nats-2", "nats-3")
	if nc, err := nats.Connect(scheme+"://"+c.addr(ctx, "nats-3", "4222"), natsOpts...); err == nil {
		nc.Close()
		t.Error("a cluster node accepted a client without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a client without credentials: %v, want an authorization violation", err)
	}
	t.Logf("compose cluster (TLS %v): up in %s, healthy after %s; push → echo at WeChat through ingress-1, ingress-2 in %v",
		tlsDir != "", up.Round(time.Millisecond), healthy.Round(time.Millisecond), echoed)
}

// writeTLSFiles writes a throwaway CA (ca.pem) and a server certificate it
// signed for names and 127.0.0.1 (server.pem, server-key.pem) into a new
// directory readable by the containers' user (nobody), and returns it.
func writeTLSFiles(t testing.TB, names []string) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfbridge test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: names, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The containers run as nobody: the directory and files must be
	// readable by it (the README says the same to operators).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"ca.pem":         {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem":     {Type: "CERTIFICATE", Bytes: der},
		"server-key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
