package ws

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/callengine/callengine/engine"
)

// Accounts is what a Handler needs from the engine to log a client in and
// to make its connection a device. *engine.Engine implements it;
// SetAccounts replaces it.
type Accounts interface {
	Login(ctx context.Context, clientID, password string) (engine.Tokens, error)
	ConnectDevice(ctx context.Context, clientID string, d engine.Device) (engine.Client, error)
	DisconnectDevice(ctx context.Context, clientID, deviceID string) (engine.Client, error)
}

// Handler serves the WebSocket protocol (docs/websocket-protocol.md). It is
// an http.Handler; mount it at the path of your choice.
type Handler struct {
	eng      *engine.Engine
	accounts Accounts
	media    Media
	set      Settings
	legs     *legTable
	seq      atomic.Uint64 // device numbers

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewHandler returns a Handler that runs commands on eng and carries the
// calls' audio through m (nil: signalling only, no media).
func NewHandler(eng *engine.Engine, m Media, s Settings) *Handler {
	if m == nil {
		m = nopMedia{}
	}
	return &Handler{eng: eng, accounts: eng, media: m, set: s.withDefaults(), legs: newLegTable(), conns: map[*conn]struct{}{}}
}

// SetAccounts replaces the engine's login and device methods (a program
// that keeps passwords elsewhere). Call it before serving.
func (h *Handler) SetAccounts(a Accounts) { h.accounts = a }

// ServeHTTP upgrades the request and serves the connection until it ends.
// A cross-origin request not in Settings.AllowedOrigins is refused with
// 403.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.set.AllowedOrigins})
	if err != nil {
		return // Accept wrote the refusal (403 for a foreign origin)
	}
	ws.SetReadLimit(h.set.MaxMessageBytes)
	c := newConn(h, ws)
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	c.serve(r.Context())
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// Close closes every connection (status 1001, going away) and waits for
// them to end; new requests are refused with 503.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.StatusGoingAway, "server shutting down")
	}
	h.wg.Wait()
	return nil
}

// Connections returns the number of open connections.
func (h *Handler) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}
