package sip

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// SIP over WebSocket (RFC 7118), for browser SIP stacks (JsSIP, SIP.js).
// sipgo's ws transport upgrades the connections of a listener of its own
// (subprotocol "sip"): Settings.WS is a port apart from the HTTP API's.
//
// A browser cannot be reached at its Contact: JsSIP registers
// sip:<random>@<random>.invalid;transport=ws. Every request to it must go
// back over the WebSocket connection the browser opened (RFC 7118 §5).
// The adapter keeps that flow: when an authenticated REGISTER or INVITE
// comes over ws, the host:port of each of its Contacts is mapped to the
// connection's remote address, and a request the adapter sends over ws to
// that host:port (an INVITE to the binding, an in-dialog BYE, re-INVITE,
// INFO, NOTIFY) is given that address as its destination: sipgo's
// connection pool then finds the browser's connection (it holds accepted
// connections by remote address). When the connection is gone the request
// fails (the browser registers again when it reconnects, from a new
// address). The flows live in memory: a restart loses them, as it loses
// the connections.

// wsWriteTimeout bounds one write to a WebSocket connection: a browser that
// stops reading does not block the adapter.
const wsWriteTimeout = 10 * time.Second

// maxFlows bounds the flow table; full, it forgets flows whose connection
// is gone, then arbitrary ones.
const maxFlows = 16384

var errWSTooLarge = errors.New("sip: websocket message too large")

// wsMaxMessage is the largest SIP message accepted over ws: MaxMessageBytes,
// and less than sipgo's read buffer (sip.TransportBufferReadSize, 32 KiB),
// which cuts a longer message short.
func (a *Adapter) wsMaxMessage() int {
	return min(a.set.MaxMessageBytes, int(sip.TransportBufferReadSize)-1)
}

// transportOptions are the transport layer options of the adapter's user
// agent: a read filter that enforces the ws message limit (a message over
// it closes the connection: sipgo ends a ws connection whose message it
// cannot read), and the ws transport with a write timeout. The read filter
// must come before the transports (sipgo copies it into them).
func (a *Adapter) transportOptions() []sip.TransportLayerOption {
	limit := a.wsMaxMessage()
	filter := func(p sip.TransportReadProps, data []byte) ([]byte, error) {
		if (p.Transport == "WS" || p.Transport == "WSS") && len(data) > limit {
			a.log.Warn("websocket message too large: connection closed", "from", addrString(p.RemoteAddr), "bytes", len(data), "max", limit)
			return nil, errWSTooLarge
		}
		return data, nil
	}
	return []sip.TransportLayerOption{
		sip.WithTransportLayerReadFilter(filter),
		sip.WithTransportLayerTransports(sip.TransportsConfig{WS: &sip.TransportWS{WriteTimeout: wsWriteTimeout}}),
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// listenWS opens the listener of SIP over WebSocket on Settings.WS and
// adds its serving to serve.
func (a *Adapter) listenWS(serve *[]func()) error {
	if a.set.WS == "" {
		return nil
	}
	l, err := net.Listen("tcp", a.set.WS)
	if err != nil {
		return fmt.Errorf("sip: listen ws %s: %w", a.set.WS, err)
	}
	g := newWSGuard(a.limitConns(l))
	g.origin = a.wsOriginAllowed
	a.ws = g
	a.contacts["WS"] = a.contact(l.Addr(), "ws")
	*serve = append(*serve, func() {
		if err := a.srv.ServeWS(g); err != nil && a.ctx.Err() == nil {
			a.log.Warn("ws listener ended", "err", err)
		}
	})
	return nil
}

// flowKey names a Contact's host:port in the flow table.
func flowKey(u *sip.Uri) string {
	return strings.ToLower(u.Host) + ":" + strconv.Itoa(u.Port)
}

// flow is the connection a Contact is reached through: its transport
// (as sipgo names its pool) and remote address.
type flow struct {
	network string // "ws", "wss", "tls"
	src     string
}

// noteFlow records, for an authenticated request that came over ws, wss
// or tls (transport_tls.go), the connection its Contacts are reached
// through.
func (a *Adapter) noteFlow(req *sip.Request) {
	if !flowTransport(req.Transport()) || req.Source() == "" {
		return
	}
	f := flow{network: strings.ToLower(req.Transport()), src: req.Source()}
	a.flowMu.Lock()
	defer a.flowMu.Unlock()
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || c.Address.Wildcard || c.Address.Host == "" {
			continue
		}
		if a.flows == nil {
			a.flows = map[string]flow{}
		}
		k := flowKey(&c.Address)
		if _, known := a.flows[k]; !known && len(a.flows) >= maxFlows {
			a.pruneFlowsLocked()
		}
		a.flows[k] = f
	}
}

// pruneFlowsLocked forgets the flows whose connection is gone; if none is,
// a quarter of them.
func (a *Adapter) pruneFlowsLocked() {
	for k, f := range a.flows {
		if a.flowGone(f) {
			delete(a.flows, k)
		}
	}
	for k := range a.flows {
		if len(a.flows) < maxFlows*3/4 {
			break
		}
		delete(a.flows, k)
	}
}

// hasFlow reports whether the Contact target is reached through a
// connection that is open.
func (a *Adapter) hasFlow(target *sip.Uri) bool {
	a.flowMu.Lock()
	f, ok := a.flows[flowKey(target)]
	a.flowMu.Unlock()
	return ok && !a.flowGone(f)
}

// flowGone reports whether f's connection is closed (sipgo's pool no
// longer holds it). A transport without a pool is not known to be gone.
func (a *Adapter) flowGone(f flow) bool {
	pool := a.ua.TransportLayer().Pool(f.network)
	if pool == nil {
		return false
	}
	c := pool.Get(f.src)
	if c == nil {
		return true
	}
	c.TryClose() // Get took a reference
	return false
}

// routeFlow gives a request over ws, wss or tls to a host:port we hold a
// flow for on that transport that flow's address as destination (no Route
// header: a proxy in between is reached by its own address).
func (a *Adapter) routeFlow(req *sip.Request) {
	if !flowTransport(req.Transport()) || req.GetHeader("Route") != nil {
		return
	}
	a.flowMu.Lock()
	f, ok := a.flows[flowKey(&req.Recipient)]
	a.flowMu.Unlock()
	if ok && strings.EqualFold(f.network, req.Transport()) {
		req.SetDestination(f.src)
	}
}

// The handshake guard. sipgo's ws listener upgrades each connection in its
// accept loop with no deadline: one client that connects and sends nothing
// would hold up every other. wsGuard hands sipgo only connections whose
// HTTP request (up to the blank line) arrived whole within
// wsHandshakeTimeout and wsMaxHandshake bytes; it reads them in goroutines
// of their own, at most wsMaxPending at once (past that, new connections
// are closed at once).
const (
	wsHandshakeTimeout = 10 * time.Second
	wsMaxHandshake     = 8 << 10
	wsMaxPending       = 256
)

type wsGuard struct {
	net.Listener
	conns   chan net.Conn
	pending chan struct{}
	done    chan struct{}
	once    sync.Once
	err     error // set before conns is closed

	// origin decides whether a handshake's Origin may open SIP over ws
	// (nil: any); a refused one gets 403 and is closed.
	origin func(origin, host string) bool
}

func newWSGuard(l net.Listener) *wsGuard {
	g := &wsGuard{Listener: l, conns: make(chan net.Conn), pending: make(chan struct{}, wsMaxPending), done: make(chan struct{})}
	go g.accept()
	return g
}

func (g *wsGuard) accept() {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			g.err = err
			close(g.conns)
			return
		}
		select {
		case g.pending <- struct{}{}:
			go g.handshake(c)
		default:
			c.Close()
		}
	}
}

// handshake reads c's HTTP request head, then hands c to sipgo with what
// was read put back in front.
func (g *wsGuard) handshake(c net.Conn) {
	defer func() { <-g.pending }()
	head, err := readHead(c)
	if err != nil {
		c.Close()
		return
	}
	if g.origin != nil {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			refuseHandshake(c, "400 Bad Request")
			return
		}
		if !g.origin(req.Header.Get("Origin"), req.Host) {
			refuseHandshake(c, "403 Forbidden")
			return
		}
	}
	select {
	case g.conns <- &replayConn{Conn: c, head: head}:
	case <-g.done:
		c.Close()
	}
}

// refuseHandshake answers an upgrade request with status and closes c.
func refuseHandshake(c net.Conn, status string) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(c, "HTTP/1.1 "+status+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	c.Close()
}

// wsOriginAllowed is the Origin check of SIP over ws: no Origin (not a
// browser), one of Settings.WSOrigins ("*": any), or a page whose host
// is the host the browser connected to (any port: the page comes from
// the HTTP server, another port). Anything else is refused (counted).
func (a *Adapter) wsOriginAllowed(origin, host string) bool {
	if origin == "" {
		return true
	}
	for _, o := range a.set.WSOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" {
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		if h != "" && strings.EqualFold(u.Hostname(), h) {
			return true
		}
	}
	a.stats.originRejected.Add(1)
	a.log.Warn("SIP over WebSocket: Origin not allowed: 403", "origin", origin)
	return false
}

// readHead reads up to the end of an HTTP request head ("\r\n\r\n"),
// within the time and size limits.
func readHead(c net.Conn) ([]byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(wsHandshakeTimeout)); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	for !bytes.Contains(buf, []byte("\r\n\r\n")) {
		if len(buf) >= wsMaxHandshake {
			return nil, errWSTooLarge
		}
		n, err := c.Read(tmp[:min(len(tmp), wsMaxHandshake-len(buf))])
		buf = append(buf, tmp[:n]...)
		if err != nil {
			return nil, err
		}
	}
	return buf, c.SetReadDeadline(time.Time{})
}

func (g *wsGuard) Accept() (net.Conn, error) {
	c, ok := <-g.conns
	if !ok {
		return nil, g.err
	}
	return c, nil
}

func (g *wsGuard) Close() error {
	g.once.Do(func() { close(g.done) })
	return g.Listener.Close()
}

// replayConn reads head first, then the connection.
type replayConn struct {
	net.Conn
	mu   sync.Mutex
	head []byte
}

func (r *replayConn) Read(b []byte) (int, error) {
	r.mu.Lock()
	if len(r.head) > 0 {
		n := copy(b, r.head)
		r.head = r.head[n:]
		r.mu.Unlock()
		return n, nil
	}
	r.mu.Unlock()
	return r.Conn.Read(b)
}
