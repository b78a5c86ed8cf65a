package sip

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
)

// Adapter serves SIP phones for an engine: the registrar and the calls
// from and to its clients' SIP devices. New builds it, Start listens and
// follows the engine's events, Close stops it.
type Adapter struct {
	eng      *engine.Engine
	accounts Accounts
	set      Settings
	log      *slog.Logger
	nonces   nonces
	// nonceCounts rejects replayed credentials (auth_replay.go).
	nonceCounts *nonceCounts
	limiter     *limiter

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	regs []*trunkReg // registrations to trunks (trunk_register.go)

	udp      net.PacketConn
	tcp      net.Listener
	ws       net.Listener                  // SIP over WebSocket (transport_ws.go)
	tls, wss net.Listener                  // SIP over TLS and secure WebSocket (transport_tls.go)
	contacts map[string]*sip.ContactHeader // our Contact, by transport ("UDP", "TCP", "WS", "TLS", "WSS")

	flowMu sync.Mutex
	flows  map[string]flow // ws, wss, tls Contact host:port → its connection (transport_ws.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan string

	mu       sync.Mutex
	calls    map[string]*call          // engine call id → its SIP legs
	dialogs  map[string]dialogRef      // dialogKey → the leg it belongs to
	handover handovers                 // target phones of attended transfers under way (replaces.go)
	early    map[string][]engine.Event // events of calls whose Dial has not returned yet
	dialing  int                       // Dials in flight
	timers   map[string]clock.Timer    // binding device id → its expiry
	lanes    map[string]*lane          // engine call id → its commands in order (order.go)
	started  bool

	trunks *Trunks // nil: no SIP trunk (trunk.go)

	stats    counters   // for /metrics (stats.go)
	conns    *connLimit // TCP and ws connections by source IP (connlimit.go)
	features features   // digits held back as the start of a feature code (feature_codes.go)
}

// New returns an adapter for eng. The engine's DigestCredentials give the
// clients' credentials (SetAccounts replaces them).
func New(eng *engine.Engine, s Settings) (*Adapter, error) {
	s = s.withDefaults()
	if err := CheckFeatureCodes(s.RecordCode, s.TransferCode); err != nil {
		return nil, err
	}
	if err := CheckParkPrefix(s.ParkPrefix); err != nil {
		return nil, err
	}
	secret := s.NonceSecret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
	}
	a := &Adapter{
		eng: eng, set: s, log: s.Logger.With("adapter", "sip"),
		nonces:      nonces{secret: secret, clock: s.Clock, ttl: s.NonceTTL, last: new(atomic.Uint64)},
		nonceCounts: newNonceCounts(s.Clock, s.NonceTTL),
		limiter:     newLimiter(s.RegisterRate, s.RegisterBurst, s.Clock),
		calls:       map[string]*call{}, dialogs: map[string]dialogRef{}, early: map[string][]engine.Event{},
		timers: map[string]clock.Timer{}, lanes: map[string]*lane{}, kick: make(chan string, 64), contacts: map[string]*sip.ContactHeader{},
		conns: newConnLimit(s.MaxConnsPerAddress),
	}
	if acc, ok := any(eng).(Accounts); ok {
		a.accounts = acc
	} else {
		a.accounts = noAccounts{}
	}
	return a, nil
}

// SetAccounts replaces where the digest credentials come from. Call it
// before Start.
func (a *Adapter) SetAccounts(acc Accounts) { a.accounts = acc }

type noAccounts struct{}

func (noAccounts) DigestCredentials(context.Context, string) (string, string, error) {
	return "", "", errors.New("sip: no digest credentials")
}

// Start listens on the configured addresses, removes the bindings that
// expired while the adapter was down, re-arms the others' expiry, and
// follows the engine's call events until ctx ends or Close is called.
func (a *Adapter) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return errors.New("sip: adapter already started")
	}
	a.started = true
	a.mu.Unlock()
	a.ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, a.cancel)

	sipLog := slog.New(warnOnly{a.log.Handler()})
	parser := sip.NewParser()
	parser.MaxMessageLength = a.set.MaxMessageBytes
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(a.set.UserAgent),
		sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(append([]sip.TransportLayerOption{sip.WithTransportLayerLogger(sipLog)}, a.transportOptions()...)...),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipLog)),
		sipgo.WithUserAgenTLSConfig(a.clientTLS()),
	)
	if err != nil {
		return err
	}
	a.ua = ua
	if a.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog)); err != nil {
		return err
	}
	if a.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog)); err != nil {
		return err
	}
	a.routes()
	// Follow the engine first, then rebuild the dialogs of live calls
	// from their journaled records, then listen: a BYE that comes at once
	// finds its dialog, and an event after the rebuild is not missed.
	sub, err := a.eng.Subscribe(a.ctx, engine.Filter{Types: followedEvents})
	if err != nil {
		a.ua.Close()
		return err
	}
	a.restoreDialogs()
	if err := a.listen(); err != nil {
		sub.Close()
		a.ua.Close()
		return err
	}
	a.restoreBindings()
	a.startRestored() // re-INVITEs to relay ports that moved (media_restore.go)
	a.startTrunks()
	a.startRegistrations()
	a.startQualifying()
	a.startQualifyingPhones()
	if ls, ok := a.set.Media.(legStatter); ok && a.set.MediaTimeout > 0 {
		a.wg.Go(func() { a.watchMedia(ls) })
	}
	a.wg.Go(func() { a.follow(sub) })
	return nil
}

// listen opens every configured socket and names our Contact on each,
// then serves them all: a request that comes on one finds every Contact
// (the map is not written once a socket is served).
func (a *Adapter) listen() error {
	var serve []func()
	err := a.checkTLSTrunks()
	if err == nil && a.set.UDP != "" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", a.set.UDP); err != nil {
			err = fmt.Errorf("sip: listen udp %s: %w", a.set.UDP, err)
		} else {
			a.udp = c
			if size, err := setReadBuffer(c, a.set.UDPReadBuffer); err != nil || size < a.set.UDPReadBuffer {
				a.log.Warn("udp receive buffer smaller than asked: raise net.core.rmem_max, or run with CAP_NET_ADMIN",
					"asked", a.set.UDPReadBuffer, "got", size, "err", err)
			}
			a.contacts["UDP"] = a.contact(c.LocalAddr(), "udp")
			serve = append(serve, func() {
				if err := a.srv.ServeUDP(c); err != nil && a.ctx.Err() == nil {
					a.log.Warn("udp listener ended", "err", err)
				}
			})
		}
	}
	if err == nil && a.set.TCP != "" {
		var l net.Listener
		if l, err = net.Listen("tcp", a.set.TCP); err != nil {
			err = fmt.Errorf("sip: listen tcp %s: %w", a.set.TCP, err)
		} else {
			a.tcp = l
			a.contacts["TCP"] = a.contact(l.Addr(), "tcp")
			ll := a.limitConns(l)
			serve = append(serve, func() {
				if err := a.srv.ServeTCP(ll); err != nil && a.ctx.Err() == nil {
					a.log.Warn("tcp listener ended", "err", err)
				}
			})
		}
	}
	if err == nil {
		err = a.listenWS(&serve)
	}
	if err == nil {
		err = a.listenTLS(&serve)
	}
	if err != nil {
		for _, l := range []net.Listener{a.tcp, a.ws, a.tls, a.wss} {
			if l != nil {
				l.Close()
			}
		}
		if a.udp != nil {
			a.udp.Close()
		}
		return err
	}
	for _, f := range serve {
		a.wg.Go(f)
	}
	if a.udp != nil {
		a.awaitUDPServing(a.udp.LocalAddr().String())
	}
	return nil
}

func (a *Adapter) contact(addr net.Addr, transport string) *sip.ContactHeader {
	host, port := hostPort(addr)
	h := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "callengine", Host: host, Port: port, UriParams: sip.NewParams()}}
	if transport != "udp" {
		h.Address.UriParams.Add("transport", transport)
	}
	return h
}

func hostPort(addr net.Addr) (string, int) {
	switch v := addr.(type) {
	case *net.UDPAddr:
		return v.IP.String(), v.Port
	case *net.TCPAddr:
		return v.IP.String(), v.Port
	}
	return "127.0.0.1", 5060
}

// Addr returns the address the adapter listens on for network "udp",
// "tcp", "ws", "tls" or "wss", or "" when it does not.
func (a *Adapter) Addr(network string) string {
	for n, l := range map[string]net.Listener{"tls": a.tls, "wss": a.wss} {
		if n == network && l != nil {
			return l.Addr().String()
		}
	}
	switch network {
	case "udp":
		if a.udp != nil {
			return a.udp.LocalAddr().String()
		}
	case "tcp":
		if a.tcp != nil {
			return a.tcp.Addr().String()
		}
	case "ws":
		if a.ws != nil {
			return a.ws.Addr().String()
		}
	}
	return ""
}

// Close stops listening, stops the expiry timers and waits for the
// adapter's goroutines. Calls in progress are left to the engine; their
// confirmed dialogs are journaled and come back at the next Start.
func (a *Adapter) Close() error {
	if a.cancel == nil {
		return nil
	}
	a.unregister() // while the sockets are open
	a.cancel()
	a.mu.Lock()
	for id, t := range a.timers {
		t.Stop()
		delete(a.timers, id)
	}
	a.mu.Unlock()
	if a.udp != nil {
		a.udp.Close()
	}
	if a.tcp != nil {
		a.tcp.Close()
	}
	for _, l := range []net.Listener{a.ws, a.tls, a.wss} {
		if l != nil {
			l.Close()
		}
	}
	if a.ua != nil {
		a.ua.Close()
	}
	a.wg.Wait()
	return nil
}

// command returns a context for one engine command on behalf of client
// (no principal: the adapter itself).
func (a *Adapter) command(client string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(a.ctx, a.set.CommandTimeout)
	if client != "" {
		ctx = engine.WithPrincipal(ctx, engine.Principal{Client: client, Role: engine.RoleAgent})
	}
	return ctx, cancel
}

// response builds a response to req with st, our Server header and, for
// an INVITE, our tag.
func (a *Adapter) response(req *sip.Request, st status) *sip.Response {
	res := sip.NewResponseFromRequest(req, st.Code, st.Reason, nil)
	res.AppendHeader(sip.NewHeader("Server", a.set.UserAgent))
	return res
}

// respond sends res on tx, logging a failure; a final response is
// counted (Stats).
func (a *Adapter) respond(tx sip.ServerTransaction, res *sip.Response) {
	a.stats.response(res)
	a.resend(tx, res)
}

// resend sends res on tx again (a retransmission of a 2xx: not counted).
func (a *Adapter) resend(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		a.log.Debug("cannot respond", "status", res.StatusCode, "err", err)
	}
}

// ourContact is our Contact for a transport.
func (a *Adapter) ourContact(transport string) *sip.ContactHeader {
	if c, ok := a.contacts[strings.ToUpper(transport)]; ok {
		return c
	}
	for _, c := range a.contacts {
		return c
	}
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}}
}

// prepare sets the local address a request leaves from: the UDP listener
// (else sipgo would pick an ephemeral port the peer cannot answer); a
// request over ws, wss or tls goes back through the peer's connection
// (routeFlow).
func (a *Adapter) prepare(req *sip.Request) {
	a.routeFlow(req)
	if strings.EqualFold(req.Transport(), "UDP") && a.udp != nil {
		host, port := hostPort(a.udp.LocalAddr())
		req.Laddr = sip.Addr{IP: net.ParseIP(host), Port: port, Hostname: host}
	}
}

// noBuild sends a request as we built it.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// warnOnly passes sipgo's logs of level warn and above.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}
func (w warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(as)} }
func (w warnOnly) WithGroup(n string) slog.Handler       { return warnOnly{w.Handler.WithGroup(n)} }

// awaitUDPServing waits (at most 5 s) until sipgo serves the UDP socket at
// addr. Requests the adapter sends over UDP leave from that socket
// (prepare sets their Laddr); before sipgo has it in its pool, a request
// makes it bind a second socket on the same address, which fails — a
// REGISTER to a trunk sent right after Start did, under load, and waited
// RegisterRetry for its next try.
func (a *Adapter) awaitUDPServing(addr string) {
	pool := a.ua.TransportLayer().Pool("udp")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if pool == nil {
			return
		}
		if c := pool.Get(addr); c != nil {
			c.Ref(-1)
			return
		}
	}
	a.log.Warn("sipgo does not serve the UDP socket yet: requests sent now may fail", "addr", addr)
}
