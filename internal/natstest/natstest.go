// Package natstest runs a real in-process NATS server with JetStream for
// tests (the RunBasicJetStreamServer pattern of nats.go), so package tests
// need no Docker.
//
// # Concurrency
//
// Each call starts its own server on a free loopback port; tests may run in
// parallel.
//
// # Errors
//
// Failures (to start, to connect, to read a stream) end the test with
// t.Fatal.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RunServer starts a JetStream-enabled server storing in a temporary
// directory and shuts it down when the test ends.
func RunServer(t testing.TB) *server.Server {
	t.Helper()
	return RunServerWith(t, nil)
}

// RunServerWith is [RunServer] with tune (if not nil) applied to the
// server's options: a JetStream server on a free loopback port, storing
// in a temporary directory, without logs or signal handlers.
func RunServerWith(t testing.TB, tune func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	if tune != nil {
		tune(opts)
	}
	return StartServer(t, opts)
}

// StartServer starts a server with exactly opts, waits until it accepts
// connections and shuts it down when the test ends.
func StartServer(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect connects to s and closes the connection when the test ends.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return ConnectURL(t, s.ClientURL())
}

// ConnectURL connects to the server at url with opts and closes the
// connection when the test ends.
func ConnectURL(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect nats %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// WaitFor polls cond until it holds, failing the test after 30 s: the one
// way package tests wait for an observable instead of sleeping.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(time.Now().Add(30*time.Second), cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Poll polls cond every 5 ms until it holds or deadline passes, and
// reports whether it held: for a wait whose timeout is a measurement, not
// a failure.
func Poll(deadline time.Time, cond func() bool) bool {
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// StreamState returns the stream name of js and its current state; an
// error ends the test.
func StreamState(t testing.TB, js jetstream.JetStream, name string) (jetstream.Stream, jetstream.StreamState) {
	t.Helper()
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("stream %s: info: %v", name, err)
	}
	return s, info.State
}
