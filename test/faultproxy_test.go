package e2e_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxyMode is what a faultProxy does with connections.
type proxyMode int

const (
	// proxyPass forwards both ways.
	proxyPass proxyMode = iota
	// proxyRefuse resets every new connection at once and cuts every
	// existing one: a server that is down.
	proxyRefuse
	// proxyHang accepts new connections and keeps them, and every
	// connection's bytes, without forwarding anything: a server that
	// hangs. Back in pass, what was held is forwarded.
	proxyHang
)

func (m proxyMode) String() string {
	switch m {
	case proxyPass:
		return "pass"
	case proxyRefuse:
		return "refuse"
	case proxyHang:
		return "hang"
	}
	return "unknown"
}

// maxProxyConns bounds the connections (and so the goroutines, three per
// connection) a faultProxy holds; more are reset.
const maxProxyConns = 512

// faultProxy is a TCP proxy on 127.0.0.1 in front of target that a test
// switches between passing, refusing and hanging while clients (a server
// process's MongoDB or Redis driver) use it. Close, also run at cleanup,
// closes every connection and waits for every goroutine.
type faultProxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu      sync.Mutex
	mode    proxyMode
	changed chan struct{} // closed and replaced on every change of mode
	closed  bool
	conns   map[net.Conn]struct{}
}

// newFaultProxy starts a proxy to target in pass mode.
func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{target: target, ln: ln, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the address clients connect to.
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the proxy. Switching to refuse cuts every connection.
func (p *faultProxy) SetMode(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == m {
		return
	}
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	if m == proxyRefuse {
		for c := range p.conns {
			reset(c)
		}
	}
}

// Close stops the proxy: no more connections, every one closed, every
// goroutine ended.
func (p *faultProxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.changed)
		_ = p.ln.Close()
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if !p.track(c) {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track registers c unless the proxy refuses, is closed or is full.
func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == proxyRefuse || len(p.conns) >= maxProxyConns {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

// forward waits while the proxy hangs and reports whether to forward now;
// false once it refuses or is closed.
func (p *faultProxy) forward() bool {
	for {
		p.mu.Lock()
		mode, closed, changed := p.mode, p.closed, p.changed
		p.mu.Unlock()
		switch {
		case closed || mode == proxyRefuse:
			return false
		case mode == proxyPass:
			return true
		}
		<-changed
	}
}

// serve connects client to the target once the proxy passes, and copies
// both ways until either side ends or the proxy cuts them.
func (p *faultProxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.forward() {
		p.untrack(client)
		return
	}
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(upstream) {
		_ = upstream.Close()
		p.untrack(client)
		return
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); p.pipe(upstream, client) }()
	go func() { defer pipes.Done(); p.pipe(client, upstream) }()
	pipes.Wait()
	p.untrack(client, upstream)
}

// pipe copies src to dst, holding each chunk while the proxy hangs; when
// either side fails it closes both, which ends the other direction too.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.forward() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// reset closes c with an RST rather than a FIN, as a host whose server is
// gone answers.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// TestFaultProxy checks the tool the outage tests stand on, against an
// echo server: pass forwards, hang holds every byte without closing, pass
// again delivers what was held, refuse cuts existing connections and resets
// new ones, and Close ends it all.
func TestFaultProxy(t *testing.T) {
	t.Parallel()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var echoes sync.WaitGroup
	echoes.Add(1)
	go func() {
		defer echoes.Done()
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			echoes.Add(1)
			go func() { defer echoes.Done(); defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() { _ = echo.Close(); echoes.Wait() })

	p := newFaultProxy(t, echo.Addr().String())
	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	roundTrip := func(c net.Conn, msg string, within time.Duration) (string, error) {
		if _, err := io.WriteString(c, msg); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(within))
		buf := make([]byte, len(msg))
		n, err := io.ReadFull(c, buf)
		return string(buf[:n]), err
	}

	a := dial()
	if got, err := roundTrip(a, "ping", 5*time.Second); err != nil || got != "ping" {
		t.Fatalf("pass: %q %v", got, err)
	}

	p.SetMode(proxyHang)
	b := dial() // accepted, but nothing goes through
	for name, c := range map[string]net.Conn{"existing": a, "new": b} {
		var ne net.Error
		if got, err := roundTrip(c, "held", 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("hang, %s connection: read %q, %v; want a timeout", name, got, err)
		}
	}
	p.SetMode(proxyPass)
	for name, c := range map[string]net.Conn{"existing": a, "new": b} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "held" {
			t.Fatalf("pass after hang, %s connection: %q %v; want what was held", name, buf, err)
		}
	}

	p.SetMode(proxyRefuse)
	if got, err := roundTrip(a, "gone", 5*time.Second); err == nil {
		t.Fatalf("refuse: an existing connection still answers %q", got)
	}
	// The kernel completes the handshake and the proxy resets it: the
	// reset may reach the dialer before connect returns, or after.
	if c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second); err == nil {
		t.Cleanup(func() { _ = c.Close() })
		if got, err := roundTrip(c, "gone", 5*time.Second); err == nil {
			t.Fatalf("refuse: a new connection answers %q", got)
		}
	}

	p.SetMode(proxyPass)
	if got, err := roundTrip(dial(), "back", 5*time.Second); err != nil || got != "back" {
		t.Fatalf("pass after refuse: %q %v", got, err)
	}
	p.Close()
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("the proxy still accepts after Close")
	}
}
