package sip

import (
	"net"
	"sync"
)

// A bound on the TCP and WebSocket connections open at once from one
// source IP (Settings.MaxConnsPerAddress): one address cannot take every
// file descriptor or goroutine of the process. Past it, a new connection
// is closed as soon as it is accepted, before sipgo reads from it.

type connLimit struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newConnLimit(max int) *connLimit {
	return &connLimit{max: max, n: map[string]int{}}
}

// acquire counts a connection from ip; false when ip has max already.
func (l *connLimit) acquire(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip] >= l.max {
		return false
	}
	l.n[ip]++
	return true
}

func (l *connLimit) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[ip] <= 1 {
		delete(l.n, ip)
		return
	}
	l.n[ip]--
}

// limitConns wraps a listener: each accepted connection counts against
// its source IP until it is closed.
func (a *Adapter) limitConns(l net.Listener) net.Listener {
	return &limitedListener{Listener: l, a: a}
}

type limitedListener struct {
	net.Listener
	a *Adapter
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		if !l.a.conns.acquire(ip) {
			l.a.stats.connsRejected.Add(1)
			l.a.log.Warn("too many connections from one address: closed", "from", ip, "max", l.a.conns.max)
			c.Close()
			continue
		}
		return &countedConn{Conn: c, release: func() { l.a.conns.release(ip) }}, nil
	}
}

func remoteIP(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// countedConn releases its count once, when it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
