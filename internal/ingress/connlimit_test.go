package ingress

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kfbridge/kfbridge/pkg/wxcodec"
)

// listenLoopback listens on a free loopback port until the test ends.
func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// serveLoopback runs serve (a [Server]'s Serve or ServeAdmin) on a free
// loopback port until the test ends, fails the test if it returns an
// error then, and returns the address.
func serveLoopback(tb testing.TB, serve func(context.Context, net.Listener) error) string {
	tb.Helper()
	ln := listenLoopback(tb)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			tb.Errorf("serve %s: %v", ln.Addr(), err)
		}
	})
	return ln.Addr().String()
}

// TestConnCapKeepsPushesFlowing fills ingress.max_conns with connections
// that carry no push — idle keep-alive connections, half-sent requests
// (slowloris) and connections that never send a byte — and checks that
// valid pushes on new connections and /readyz still get through, in
// WeChat's 5 s, by closing the connections idle the longest.
func TestConnCapKeepsPushesFlowing(t *testing.T) {
	const maxConns = 32
	e := newEnv(t, func(c *Config) {
		c.Ingress.MaxConns = maxConns
		// Only the cap may close a hog, however slow the machine.
		c.Ingress.ReadHeaderTimeout, c.Ingress.IdleTimeout = time.Hour, time.Hour
	})
	public, admin := serveLoopback(t, e.srv.Serve), serveLoopback(t, e.srv.ServeAdmin)

	hogs := make([]net.Conn, maxConns)
	for i := range hogs {
		c, err := net.Dial("tcp", public)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		hogs[i] = c
		switch i % 3 {
		case 0: // a keep-alive connection, idle after its response
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: ingress\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("hog %d: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		case 1: // half a request, never finished
			fmt.Fprintf(c, "POST /wx/%s?signature=x HTTP/1.1\r\nHost: ingress\r\nContent-Le", testAppID)
		case 2: // nothing at all
		}
	}

	// Connections are accepted in the order they were opened, so each push
	// below arrives at the cap and must take the slot of the oldest hog.
	const pushes = 3
	for i := range pushes {
		m := kinds()["text"]
		m.MsgID = fmt.Sprint(9_100_000 + i)
		q, body := e.push(t, wxcodec.FormatXML, wxcodec.ModeSafe, m)
		// A new connection per push, kept open (idle) afterwards.
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		resp, err := client.Post("http://"+public+"/wx/"+testAppID+"?"+q.Encode(), "text/xml", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("push %d at the cap: %v", i, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(answer) != "success" {
			t.Fatalf("push %d at the cap = %d %q, want 200 success", i, resp.StatusCode, answer)
		}
	}
	if got := e.count(t); got != pushes {
		t.Errorf("stream holds %d events, want %d", got, pushes)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatalf("/readyz at the cap: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz at the cap = %d, want 200", resp.StatusCode)
	}

	// Exactly as many hogs as pushes were closed by the server. Which ones
	// depends on when the server saw each hog's last progress (a keep-alive
	// hog turns idle only after its client read the answer), so this test
	// does not say; TestConnLimiterEvictsLeastRecentProgress does.
	closed := make(chan bool, len(hogs))
	for _, c := range hogs {
		go func() {
			// An evicted hog is closed already (the evictions counter
			// says so below); a live one just times out.
			c.SetReadDeadline(time.Now().Add(time.Second))
			_, err := c.Read(make([]byte, 1))
			closed <- err == io.EOF || isReset(err)
		}()
	}
	var n int
	for range hogs {
		if <-closed {
			n++
		}
	}
	if n != pushes {
		t.Errorf("%d hogs closed by the server, want %d", n, pushes)
	}
	if got := e.srv.conns.Open(); got > maxConns {
		t.Errorf("%d connections open, cap %d", got, maxConns)
	}
	if got := counterValue(t, e.srv.metrics.evicted); got != pushes {
		t.Errorf("evictions = %v, want %d", got, pushes)
	}
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// chanListener is a listener fed by a channel, for tests of connLimiter.
type chanListener struct {
	conns  chan net.Conn
	closed chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { close(l.closed); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestConnLimiterWaitsForBusyPushes: verified pushes being stored are
// never evicted; at the cap with only those, an accept waits until one
// finishes, and a connection that becomes idle is evicted at once.
func TestConnLimiterWaitsForBusyPushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		evictions := 0
		lim := newConnLimiter(2, func() { evictions++ })
		inner := &chanListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
		ln := lim.listener(inner)
		defer ln.Close()
		accept := func() *limitedConn {
			a, b := net.Pipe()
			t.Cleanup(func() { b.Close() })
			go func() { inner.conns <- a }()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			return c.(*limitedConn)
		}
		busy := func(c *limitedConn) {
			lim.connState(c, http.StateActive)
			lim.busy(connContext(context.Background(), c))
		}
		c1, c2 := accept(), accept()
		busy(c1)
		busy(c2)

		a, b := net.Pipe()
		defer b.Close()
		got := make(chan net.Conn, 1)
		go func() {
			inner.conns <- a
			c, _ := ln.Accept()
			got <- c
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("accepted a third connection while two verified pushes are in flight")
		default:
		}
		lim.connState(c2, http.StateIdle) // c2's answer is written: evictable
		synctest.Wait()
		select {
		case c := <-got:
			if c == nil {
				t.Fatal("Accept failed")
			}
		default:
			t.Fatal("the accept still waits although a connection became idle")
		}
		if evictions != 1 || lim.Open() != 2 {
			t.Errorf("evictions = %d, open = %d; want 1, 2", evictions, lim.Open())
		}
		lim.mu.Lock()
		closed1, closed2 := c1.closed, c2.closed
		lim.mu.Unlock()
		if !closed2 || closed1 {
			t.Errorf("closed: busy connection %v, idle one %v; want only the idle one", closed1, closed2)
		}
	})
}

// BenchmarkConnLimiterRequest measures what the connection cap adds to one
// request: the state hooks for headers read and answer written, and the
// busy mark of a verified push, from 64 connections at once.
func BenchmarkConnLimiterRequest(b *testing.B) {
	lim := newConnLimiter(1000, nil)
	inner := &chanListener{conns: make(chan net.Conn, 64), closed: make(chan struct{})}
	ln := lim.listener(inner)
	defer ln.Close()
	var ctxs []context.Context
	var conns []*limitedConn
	for range 64 {
		a, c := net.Pipe()
		defer c.Close()
		inner.conns <- a
		lc, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, lc.(*limitedConn))
		ctxs = append(ctxs, connContext(context.Background(), lc))
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % len(conns)
		c, ctx := conns[i], ctxs[i]
		for pb.Next() {
			lim.connState(c, http.StateActive)
			lim.busy(ctx)
			lim.connState(c, http.StateIdle)
		}
	})
}

// TestConnLimiterEvictsLeastRecentProgress: at the cap, the evictable
// connection whose last progress is oldest goes first; a connection marked
// busy is never evicted.
func TestConnLimiterEvictsLeastRecentProgress(t *testing.T) {
	l := newConnLimiter(3, nil)
	ln := &limitListener{l: l}
	conn := func() *limitedConn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		lc := &limitedConn{Conn: a, l: l}
		if !l.admit(lc, ln) {
			t.Fatal("admit refused below the cap")
		}
		return lc
	}
	first, second, third := conn(), conn(), conn()
	l.connState(first, http.StateIdle) // first made progress: now the newest
	l.busy(context.WithValue(t.Context(), connKey{}, second))
	fourth := conn() // evicts the least recent progress: third
	l.mu.Lock()
	got := []bool{first.closed, second.closed, third.closed, fourth.closed}
	l.mu.Unlock()
	if want := []bool{false, false, true, false}; !slices.Equal(got, want) {
		t.Fatalf("closed = %v, want %v", got, want)
	}
	conn() // evicts first; second is busy
	l.mu.Lock()
	got = []bool{first.closed, second.closed}
	l.mu.Unlock()
	if want := []bool{true, false}; !slices.Equal(got, want) {
		t.Fatalf("closed (first, second) = %v, want %v", got, want)
	}
}
