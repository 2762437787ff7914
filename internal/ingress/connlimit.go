package ingress

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// Bounds of the connection cap when ingress.max_conns is 0.
const (
	maxConnsCeiling = 10000
	maxConnsFloor   = 64
	// adminMaxConns caps the admin listener (monitoring only).
	adminMaxConns = 64
)

// defaultMaxConns is half the process's open-file limit (the other half is
// the reserve for NATS, JetStream's files, the admin listener and the
// egress's calls), between maxConnsFloor and maxConnsCeiling.
func defaultMaxConns() int {
	n := openFileLimit() / 2
	if n <= 0 || n > maxConnsCeiling {
		return maxConnsCeiling
	}
	return max(n, maxConnsFloor)
}

// connLimiter caps the open connections of the listeners it wraps.
//
// A connection is evictable while it carries no verified push: from its
// accept until the handler marks it busy (signature checked, publishing),
// and again once its response is written (keep-alive). Evictable
// connections are kept in order of their last progress (accepted, request
// headers read, response written). At the cap, accepting a connection
// first closes the evictable connection that made no progress the
// longest, so idle keep-alive connections and clients that never finish
// a request cannot lock WeChat out; only when every connection is a
// verified push being stored does the accept wait for one to finish.
// Blocking accepts alone (netutil.LimitListener) would leave new pushes in
// the kernel's backlog behind idle connections until they time out.
//
// It is safe for concurrent use.
type connLimiter struct {
	max     int
	onEvict func() // counts an eviction; may be nil

	mu   sync.Mutex
	cond sync.Cond // signalled when a slot frees or a connection becomes evictable
	open int
	// idle is the list of evictable connections, least recent progress
	// first; a sentinel whose next is the front.
	idle limitedConn
}

func newConnLimiter(maxConns int, onEvict func()) *connLimiter {
	l := &connLimiter{max: maxConns, onEvict: onEvict}
	l.cond.L = &l.mu
	l.idle.next, l.idle.prev = &l.idle, &l.idle
	return l
}

// listener wraps ln so that its connections count against the cap.
func (l *connLimiter) listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l}
}

// Open reports the connections open now.
func (l *connLimiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// connState is the http.Server ConnState hook: headers read and responses
// written are progress, and a written response makes the connection
// evictable again.
func (l *connLimiter) connState(c net.Conn, st http.ConnState) {
	lc := asLimited(c)
	if lc == nil {
		return
	}
	switch st {
	case http.StateActive, http.StateIdle:
		l.mu.Lock()
		if lc.closed {
			l.mu.Unlock()
			return
		}
		if lc.listed() {
			l.unlink(lc)
		}
		l.pushBack(lc)
		l.mu.Unlock()
		l.cond.Broadcast()
	}
}

// busy marks the connection of the request with ctx as carrying a verified
// push: it is not evicted until its response is written. A request not
// served through a limited listener is ignored.
func (l *connLimiter) busy(ctx context.Context) {
	lc, _ := ctx.Value(connKey{}).(*limitedConn)
	if lc == nil || lc.l != l {
		return
	}
	l.mu.Lock()
	if lc.listed() {
		l.unlink(lc)
	}
	l.mu.Unlock()
}

// connContext is the http.Server ConnContext hook: it makes the connection
// reachable from its requests for [connLimiter.busy].
func connContext(ctx context.Context, c net.Conn) context.Context {
	if lc := asLimited(c); lc != nil {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// connKey is the context key of a request's *limitedConn.
type connKey struct{}

// asLimited returns the limitedConn under c (also under TLS), or nil.
func asLimited(c net.Conn) *limitedConn {
	switch c := c.(type) {
	case *limitedConn:
		return c
	case *tls.Conn:
		lc, _ := c.NetConn().(*limitedConn)
		return lc
	}
	return nil
}

// admit counts a new connection, evicting or waiting while at the cap. It
// returns false when ln closed meanwhile.
func (l *connLimiter) admit(lc *limitedConn, ln *limitListener) bool {
	l.mu.Lock()
	for l.open >= l.max && !ln.closed {
		if v := l.idle.next; v != &l.idle {
			l.unlink(v)
			l.mu.Unlock()
			if l.onEvict != nil {
				l.onEvict()
			}
			v.Close() // releases its slot before returning
			l.mu.Lock()
			continue
		}
		l.cond.Wait()
	}
	if ln.closed {
		l.mu.Unlock()
		return false
	}
	l.open++
	l.pushBack(lc) // nothing read yet: evictable
	l.mu.Unlock()
	return true
}

// release frees lc's slot once it is closed.
func (l *connLimiter) release(lc *limitedConn) {
	l.mu.Lock()
	lc.closed = true
	if lc.listed() {
		l.unlink(lc)
	}
	l.open--
	l.mu.Unlock()
	l.cond.Broadcast()
}

// pushBack appends lc to the evictable list. The caller holds l.mu.
func (l *connLimiter) pushBack(lc *limitedConn) {
	last := l.idle.prev
	lc.prev, lc.next = last, &l.idle
	last.next = lc
	l.idle.prev = lc
}

// unlink removes lc from the evictable list. The caller holds l.mu.
func (l *connLimiter) unlink(lc *limitedConn) {
	lc.prev.next, lc.next.prev = lc.next, lc.prev
	lc.prev, lc.next = nil, nil
}

// limitListener is a listener whose connections count against a
// connLimiter.
type limitListener struct {
	net.Listener
	l      *connLimiter
	closed bool // guarded by l.mu
}

// Accept accepts a connection and admits it under the cap.
func (ln *limitListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: ln.l}
	if !ln.l.admit(lc, ln) {
		c.Close()
		return nil, net.ErrClosed
	}
	return lc, nil
}

// Close closes the listener and ends a wait for a free slot.
func (ln *limitListener) Close() error {
	ln.l.mu.Lock()
	ln.closed = true
	ln.l.mu.Unlock()
	ln.l.cond.Broadcast()
	return ln.Listener.Close()
}

// limitedConn is a connection counted by a connLimiter.
type limitedConn struct {
	net.Conn
	l          *connLimiter
	prev, next *limitedConn // in l.idle while evictable; guarded by l.mu
	closed     bool         // guarded by l.mu
	once       sync.Once
	err        error
}

func (c *limitedConn) listed() bool { return c.next != nil }

// Close closes the connection and frees its slot; later calls return the
// first call's error.
func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.l.release(c)
	})
	return c.err
}
