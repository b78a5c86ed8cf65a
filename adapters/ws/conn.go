package ws

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// conn is one WebSocket connection. Three goroutines serve it: the reader
// (frames → decoded requests), the writer (the bounded send queue →
// frames) and the pinger; everything else — requests, engine events, relay
// callbacks — runs on the loop (serve), one thing at a time, in order.
type conn struct {
	h   *Handler
	ws  *websocket.Conn
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	out    chan outItem
	in     chan inbound
	tasks  chan func()

	closeOnce sync.Once
	dropOnce  sync.Once
	closeCode atomic.Int32 // a websocket.StatusCode; set by close from any goroutine

	// The loop's state: read and written only by serve and what it calls.
	authed    bool
	refused   int
	principal engine.Principal
	pctx      context.Context // carries the principal
	client    string
	session   string
	device    string
	sub       *engine.Subscription
	legs      map[string]*leg     // call id → the leg of this device in it
	transfers map[string]xferInfo // transfer id → its calls
	ringing   map[string]string   // call id → the leg offered to this device while it rings
	created   map[string]bool     // calls this connection created: their call.trying is sent
	pending   []engine.Event      // events read ahead (dialSeq), handled first
}

// leg is a relay leg this connection holds for a call.
type leg struct {
	name string
	call string
	side events.Side
}

// xferInfo is what a connection remembers of a transfer it is part of.
type xferInfo struct {
	call, consult, newCall string
	kept                   events.Side
}

type outItem struct {
	b      []byte
	code   websocket.StatusCode // close after b when set
	reason string
}

type inbound struct {
	req Request
	err error
}

func newConn(h *Handler, ws *websocket.Conn) *conn {
	return &conn{
		h: h, ws: ws, log: h.set.Logger,
		out: make(chan outItem, h.set.SendQueue), in: make(chan inbound, 16), tasks: make(chan func(), 64),
		legs: map[string]*leg{}, transfers: map[string]xferInfo{}, ringing: map[string]string{}, created: map[string]bool{},
	}
}

func (c *conn) serve(parent context.Context) {
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(parent))
	defer c.cancel()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); c.readLoop() }()
	go func() { defer wg.Done(); c.writeLoop() }()
	go func() { defer wg.Done(); c.pingLoop() }()
	c.loop()
	c.cleanup()
	c.cancel()
	wg.Wait()
	_ = c.ws.CloseNow()
}

func (c *conn) loop() {
	for {
		for len(c.pending) > 0 && c.ctx.Err() == nil {
			ev := c.pending[0]
			c.pending = c.pending[1:]
			c.event(&ev)
		}
		var evs <-chan engine.Event
		if c.sub != nil {
			evs = c.sub.Events()
		}
		select {
		case <-c.ctx.Done():
			return
		case in := <-c.in:
			c.handle(in)
		case f := <-c.tasks:
			f()
		case ev, ok := <-evs:
			if !ok {
				c.subscriptionEnded()
				continue
			}
			c.event(&ev)
		}
	}
}

// subscriptionEnded: the session's events stopped — destroyed, too slow,
// or the engine closed.
func (c *conn) subscriptionEnded() {
	err := c.sub.Err()
	c.sub = nil
	if err == nil || c.ctx.Err() != nil {
		return
	}
	code := websocket.StatusPolicyViolation
	if errcode.CodeOf(err) == errcode.Closed {
		code = websocket.StatusInternalError
	}
	c.send(errorMessage("", "", err))
	c.closeAfterQueue(code, string(errcode.CodeOf(err)))
}

func (c *conn) readLoop() {
	defer c.cancel()
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return // closed by the peer, too big (1009, sent by the library), or ctx
		}
		var in inbound
		if typ != websocket.MessageText {
			in.err = &DecodeError{Err: errcode.New(errcode.Malformed, "binary frames are not messages")}
		} else {
			in.req, in.err = Decode(data)
		}
		select {
		case c.in <- in:
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *conn) writeLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case it := <-c.out:
			if it.b != nil {
				ctx, cancel := context.WithTimeout(c.ctx, c.h.set.WriteTimeout)
				err := c.ws.Write(ctx, websocket.MessageText, it.b)
				cancel()
				if err != nil {
					c.cancel()
					return
				}
			}
			if it.code != 0 {
				c.close(it.code, it.reason)
				return
			}
		}
	}
}

func (c *conn) pingLoop() {
	t := time.NewTicker(c.h.set.PingInterval)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.h.set.PingInterval)
		err := c.ws.Ping(ctx)
		cancel()
		if err == nil {
			missed = 0
			continue
		}
		if c.ctx.Err() != nil {
			return
		}
		missed++
		if missed >= c.h.set.MaxMissedPings {
			c.close(websocket.StatusPolicyViolation, "ping timeout")
			return
		}
	}
}

// send queues a message. A full queue closes the connection (1008): the
// client reads too slowly and will restore its session.
func (c *conn) send(m Message) {
	select {
	case c.out <- outItem{b: encode(&m)}:
	case <-c.ctx.Done():
	default:
		c.dropOnce.Do(func() {
			if f := c.h.set.Hooks.Dropped; f != nil {
				f(c.client)
			}
			c.log.Warn("ws: send queue full, closing", slog.String("client", c.client))
			c.close(websocket.StatusPolicyViolation, "send queue full")
		})
	}
}

// closeAfterQueue closes the connection once what is queued is written.
func (c *conn) closeAfterQueue(code websocket.StatusCode, reason string) {
	select {
	case c.out <- outItem{code: code, reason: reason}:
	default:
		c.close(code, reason)
	}
}

// close sends a close frame and ends the connection; safe from any
// goroutine, and more than once.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode.Store(int32(code))
		go func() {
			_ = c.ws.Close(code, reason)
			c.cancel()
		}()
	})
}

// post runs f on the loop (for the relay's callbacks).
func (c *conn) post(f func()) {
	select {
	case c.tasks <- f:
	case <-c.ctx.Done():
	}
}

// cleanup runs when the loop ends: the legs close, the device goes, the
// session counts the closed connection.
func (c *conn) cleanup() {
	if c.sub != nil {
		c.sub.Close()
	}
	for _, l := range c.legs {
		c.closeLeg(l)
	}
	for _, name := range c.ringing {
		_ = c.h.media.CloseLeg(name)
		c.h.legs.drop(name)
	}
	if !c.authed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.h.set.CommandTimeout)
	defer cancel()
	pctx := engine.WithPrincipal(ctx, c.principal)
	if c.h.accounts != nil {
		if _, err := c.h.accounts.DisconnectDevice(pctx, c.client, c.device); err != nil {
			c.log.Debug("ws: disconnect device", slog.String("device", c.device), slog.Any("err", err))
		}
	}
	if c.session != "" {
		if _, err := c.h.eng.CloseConnection(pctx, c.session); err != nil {
			c.log.Debug("ws: close connection", slog.String("session", c.session), slog.Any("err", err))
		}
	}
	if f := c.h.set.Hooks.Disconnected; f != nil {
		f(c.client, int(c.closeCode.Load()))
	}
}

func (c *conn) closeLeg(l *leg) {
	delete(c.legs, l.call)
	for _, o := range c.legs {
		if o.name == l.name {
			return // the leg carries on in another call (a transfer)
		}
	}
	_ = c.h.media.CloseLeg(l.name)
	c.h.legs.drop(l.name)
}

// cmdCtx is the context of one engine command: the principal's, bounded.
func (c *conn) cmdCtx() (context.Context, context.CancelFunc) {
	base := c.pctx
	if base == nil {
		base = c.ctx
	}
	return context.WithTimeout(base, c.h.set.CommandTimeout)
}

func (c *conn) newDeviceID() string {
	return "ws-" + c.session + "-" + strconv.FormatUint(c.h.seq.Add(1), 10)
}

var errNoLeg = errors.New("no media leg")
