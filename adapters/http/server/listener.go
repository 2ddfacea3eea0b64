package server

import (
	"net"
	"sync"
	"sync/atomic"
)

// trackingListener remembers accepted connections that have not yet sent a
// byte. fasthttp counts such a connection as busy, so one silent client (a
// load balancer's TCP probe, a browser's preconnect) would hold a graceful
// shutdown until its timeout; Shutdown closes them instead. A connection
// that has sent anything is left to finish its request.
type trackingListener struct {
	net.Listener

	mu    sync.Mutex
	fresh map[*trackedConn]struct{}
}

func newTrackingListener(ln net.Listener) *trackingListener {
	return &trackingListener{Listener: ln, fresh: map[*trackedConn]struct{}{}}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, owner: l}
	l.mu.Lock()
	l.fresh[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

func (l *trackingListener) forget(c *trackedConn) {
	l.mu.Lock()
	delete(l.fresh, c)
	l.mu.Unlock()
}

// closeSilent closes every connection that has not sent a byte yet.
func (l *trackingListener) closeSilent() {
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.fresh))
	for c := range l.fresh {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		if !c.spoke.Load() {
			_ = c.Close()
		}
	}
}

type trackedConn struct {
	net.Conn
	owner *trackingListener
	spoke atomic.Bool
	once  sync.Once
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.spoke.Load() {
		c.spoke.Store(true)
		c.owner.forget(c)
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.owner.forget(c) })
	return c.Conn.Close()
}
