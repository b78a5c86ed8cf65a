package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"

	"github.com/callengine/callengine/adapters/ws"
	"github.com/callengine/callengine/media"
)

// Peer is the media side of a call: a WebRTC peer connection that offers or
// answers, and takes the server's trickled candidates.
// *mediatest.TestPeer implements it.
type Peer interface {
	Offer(ctx context.Context) (string, error)
	Answer(ctx context.Context, offer string) (string, error)
	SetAnswer(answer string) error
	AddICECandidate(c media.ICECandidate) error
}

// Error is the server's error message for a request.
type Error struct{ Msg ws.Message }

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (%d %s)", e.Msg.Request, e.Msg.Message, e.Msg.Status, e.Msg.Code)
}

// Client is one connection. Its methods may be called from several
// goroutines.
type Client struct {
	conn   *websocket.Conn
	events chan ws.Message
	done   chan struct{}
	err    error // why the read loop ended; set before done closes

	mu      sync.Mutex
	next    int
	waiting map[string]chan ws.Message
	peers   map[string]Peer // by call id: where the server's candidates go

	writeMu sync.Mutex
}

// Options shape Dial.
type Options struct {
	// Origin is sent as the Origin header (a browser's page); "" sends none.
	Origin string
	// Events is the capacity of the events channel (default 1024). A client
	// that does not read its events loses the connection when it is full.
	Events int
}

// Dial opens a connection to the server's WebSocket URL (ws://host/ws).
func Dial(ctx context.Context, url string, opt Options) (*Client, error) {
	var h http.Header
	if opt.Origin != "" {
		h = http.Header{"Origin": {opt.Origin}}
	}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	if opt.Events <= 0 {
		opt.Events = 1024
	}
	c := &Client{conn: conn, events: make(chan ws.Message, opt.Events), done: make(chan struct{}),
		waiting: map[string]chan ws.Message{}, peers: map[string]Peer{}}
	go c.readLoop()
	return c, nil
}

// Close closes the connection normally (1000).
func (c *Client) Close() error {
	err := c.conn.Close(websocket.StatusNormalClosure, "")
	<-c.done
	return err
}

// Done is closed when the connection ends; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (a *websocket.CloseError for a close
// by the server), or nil while it is open.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Events are the server's messages that are not replies to a request, nor
// candidates of a call with a Peer.
func (c *Client) Events() <-chan ws.Message { return c.events }

func (c *Client) readLoop() {
	defer close(c.done)
	defer close(c.events)
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		var m ws.Message
		if err := json.Unmarshal(b, &m); err != nil {
			c.err = fmt.Errorf("wsclient: a message that is not JSON: %w", err)
			return
		}
		if m.ReqID != "" && (m.ID == nil || m.Type == "call.trying") {
			c.mu.Lock()
			ch := c.waiting[m.ReqID]
			delete(c.waiting, m.ReqID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
				continue
			}
		}
		if m.Type == "ice.candidate" || m.Type == "ice.done" {
			c.mu.Lock()
			p := c.peers[m.CallID]
			c.mu.Unlock()
			if p != nil {
				if m.Type == "ice.candidate" && m.Candidate != nil {
					_ = p.AddICECandidate(media.ICECandidate{Candidate: *m.Candidate, SDPMid: m.SDPMid, SDPMLineIndex: m.SDPMLineIndex})
				}
				continue
			}
		}
		select {
		case c.events <- m:
		default:
			c.err = errors.New("wsclient: events not read; the channel is full")
			c.conn.Close(websocket.StatusPolicyViolation, "client too slow")
			return
		}
	}
}

// Send writes a message without waiting for anything.
func (c *Client) Send(ctx context.Context, msg map[string]any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// Do sends a request (msg with a "type"; a req_id is added) and waits for
// its reply. A reply of type "error" is returned as an *Error.
func (c *Client) Do(ctx context.Context, msg map[string]any) (ws.Message, error) {
	c.mu.Lock()
	c.next++
	id := "r" + strconv.Itoa(c.next)
	ch := make(chan ws.Message, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	msg["req_id"] = id
	if err := c.Send(ctx, msg); err != nil {
		return ws.Message{}, err
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return m, &Error{Msg: m}
		}
		return m, nil
	case <-c.done:
		return ws.Message{}, fmt.Errorf("wsclient: connection ended waiting for %s: %w", msg["type"], c.err)
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
		return ws.Message{}, ctx.Err()
	}
}

// Next returns the next event for which match is true, dropping the others.
func (c *Client) Next(ctx context.Context, match func(ws.Message) bool) (ws.Message, error) {
	for {
		select {
		case m, ok := <-c.events:
			if !ok {
				return ws.Message{}, fmt.Errorf("wsclient: connection ended: %w", c.err)
			}
			if match(m) {
				return m, nil
			}
		case <-ctx.Done():
			return ws.Message{}, ctx.Err()
		}
	}
}

// Is matches an event by type and, when callID is not "", by call.
func Is(typ, callID string) func(ws.Message) bool {
	return func(m ws.Message) bool { return m.Type == typ && (callID == "" || m.CallID == callID) }
}

// Login logs in with a password (and restores session when it is not "").
func (c *Client) Login(ctx context.Context, client, password, session string) (ws.Message, error) {
	msg := map[string]any{"type": "auth.login", "client_id": client, "password": password}
	if session != "" {
		msg["session_id"] = session
	}
	return c.Do(ctx, msg)
}

// Call places a call to destination with p as its media: p offers, the
// server's sdp.answer is set on p, and the server's candidates go to p. It
// returns the call's id once the answer is set.
func (c *Client) Call(ctx context.Context, destination string, p Peer) (string, error) {
	offer, err := p.Offer(ctx)
	if err != nil {
		return "", err
	}
	r, err := c.Do(ctx, map[string]any{"type": "call.create", "destination": destination, "sdp": offer})
	if err != nil {
		return "", err
	}
	c.SetPeer(r.CallID, p)
	ans, err := c.Next(ctx, Is("sdp.answer", r.CallID))
	if err != nil {
		return r.CallID, err
	}
	return r.CallID, p.SetAnswer(ans.SDP)
}

// Answer answers a call.incoming with p as its media: p answers the
// engine's offer, and the server's candidates go to p.
func (c *Client) Answer(ctx context.Context, incoming ws.Message, p Peer) error {
	c.SetPeer(incoming.CallID, p)
	answer, err := p.Answer(ctx, incoming.SDP)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, map[string]any{"type": "call.answer", "call_id": incoming.CallID, "sdp": answer})
	return err
}

// Reoffer gives a call back its media after a reconnect (call.reoffer): p
// offers, the server answers.
func (c *Client) Reoffer(ctx context.Context, callID string, p Peer) error {
	offer, err := p.Offer(ctx)
	if err != nil {
		return err
	}
	c.SetPeer(callID, p)
	r, err := c.Do(ctx, map[string]any{"type": "call.reoffer", "call_id": callID, "sdp": offer})
	if err != nil {
		return err
	}
	return p.SetAnswer(r.SDP)
}

// SetPeer sends the server's candidates for callID to p from now on.
func (c *Client) SetPeer(callID string, p Peer) {
	c.mu.Lock()
	c.peers[callID] = p
	c.mu.Unlock()
}

// Command sends a call control (call.hold, call.mute, call.hangup …) for
// callID and waits for its ack.
func (c *Client) Command(ctx context.Context, typ, callID string, extra map[string]any) (ws.Message, error) {
	msg := map[string]any{"type": typ, "call_id": callID}
	for k, v := range extra {
		msg[k] = v
	}
	return c.Do(ctx, msg)
}
