package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callengine/callengine/adapters/ws"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// fakeMedia records the relay operations.
type fakeMedia struct {
	mu   sync.Mutex
	ops  []string
	legs map[string]bool
	ev   map[string]ws.LegEvents
}

func newFakeMedia() *fakeMedia {
	return &fakeMedia{legs: map[string]bool{}, ev: map[string]ws.LegEvents{}}
}

func (m *fakeMedia) op(format string, args ...any) {
	m.mu.Lock()
	m.ops = append(m.ops, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

func (m *fakeMedia) has(op string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.ops, op)
}

func (m *fakeMedia) AnswerOffer(_ context.Context, leg, offer string, ev ws.LegEvents) (string, error) {
	if strings.Contains(offer, "refuse") {
		return "", errors.New("bad offer")
	}
	m.op("answer %s", leg)
	m.mu.Lock()
	m.legs[leg], m.ev[leg] = true, ev
	m.mu.Unlock()
	return "v=0 answer " + leg, nil
}

func (m *fakeMedia) CreateOffer(_ context.Context, leg string, opt ws.OfferOptions, ev ws.LegEvents) (string, error) {
	m.op("offer %s match %s", leg, opt.MatchLeg)
	m.mu.Lock()
	m.legs[leg], m.ev[leg] = true, ev
	m.mu.Unlock()
	return "v=0 offer " + leg, nil
}

func (m *fakeMedia) AcceptAnswer(leg, answer string) error { m.op("accept %s", leg); return nil }
func (m *fakeMedia) AddICECandidate(leg string, c ws.ICECandidate) error {
	m.op("ice %s %s", leg, c.Candidate)
	return nil
}
func (m *fakeMedia) Connect(a, b string) error   { m.op("connect %s %s", a, b); return nil }
func (m *fakeMedia) Disconnect(leg string) error { m.op("disconnect %s", leg); return nil }
func (m *fakeMedia) Echo(leg string) error       { m.op("echo %s", leg); return nil }
func (m *fakeMedia) SetMuted(leg string, muted bool) error {
	m.op("muted %s %v", leg, muted)
	return nil
}
func (m *fakeMedia) SetHeld(leg string, held bool) error { m.op("held %s %v", leg, held); return nil }
func (m *fakeMedia) SendDTMF(leg, digits string) error   { m.op("dtmf %s %s", leg, digits); return nil }
func (m *fakeMedia) CloseLeg(leg string) error {
	m.op("close %s", leg)
	m.mu.Lock()
	delete(m.legs, leg)
	m.mu.Unlock()
	return nil
}
func (m *fakeMedia) HasLeg(leg string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.legs[leg]
}

// env is an engine with alice (101, may record), bob (102) and carol
// (103), a Handler on an httptest server, and the fake relay.
type env struct {
	e     *engine.Engine
	h     *ws.Handler
	m     *fakeMedia
	srv   *httptest.Server
	url   string
	token map[string]string
}

func newEnv(t *testing.T, set ws.Settings) *env {
	t.Helper()
	return newEnvConfig(t, set, nil)
}

// newEnvConfig is newEnv with the engine's configuration changed by edit
// (e.g. an Adapter) when edit is not nil.
func newEnvConfig(t *testing.T, set ws.Settings, edit func(*engine.Config)) *env {
	t.Helper()
	ctx := context.Background()
	cfg := engine.Config{DataDir: t.TempDir(), TokenSecret: []byte("a test secret of at least 32 bytes!!")}
	if edit != nil {
		edit(&cfg)
	}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Name: "Alice", Extensions: []string{"101"}, Numbers: []string{"+14155550101"}, Permissions: []string{events.PermissionRecord}, Password: "pa"},
		{ID: "bob", Name: "Bob", Extensions: []string{"102"}, Numbers: []string{"+14155550102"}, Password: "pb"},
		{ID: "carol", Name: "Carol", Extensions: []string{"103"}, Numbers: []string{"+14155550103"}, Password: "pc"},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	m := newFakeMedia()
	h := ws.NewHandler(e, m, set)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); srv.Close() })
	return &env{e: e, h: h, m: m, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

type msg = map[string]any

type client struct {
	t  *testing.T
	c  *websocket.Conn
	ch chan msg
	// err is why the reader stopped
	mu  sync.Mutex
	err error
}

func (env *env) dial(t *testing.T) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, env.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	cl := &client{t: t, c: c, ch: make(chan msg, 256)}
	go func() {
		defer close(cl.ch)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				cl.mu.Lock()
				cl.err = err
				cl.mu.Unlock()
				return
			}
			var m msg
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("server sent non-JSON %q", data)
				return
			}
			cl.ch <- m
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return cl
}

func (cl *client) send(m msg) {
	cl.t.Helper()
	b, _ := json.Marshal(m)
	cl.raw(b)
}

func (cl *client) raw(b []byte) {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.c.Write(ctx, websocket.MessageText, b); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

// next returns the next message of type typ, skipping the others.
func (cl *client) next(typ string) msg {
	cl.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-cl.ch:
			if !ok {
				cl.t.Fatalf("connection closed waiting for %s: %v", typ, cl.closeErr())
			}
			if m["type"] == typ {
				return m
			}
		case <-timeout:
			cl.t.Fatalf("no %s within 5 s", typ)
		}
	}
}

// expect returns the next message, which must be of type typ.
func (cl *client) expect(typ string) msg {
	cl.t.Helper()
	select {
	case m, ok := <-cl.ch:
		if !ok {
			cl.t.Fatalf("connection closed waiting for %s: %v", typ, cl.closeErr())
		}
		if m["type"] == "presence.changed" && typ != "presence.changed" {
			return cl.expect(typ) // presence notices interleave with everything
		}
		if m["type"] != typ {
			cl.t.Fatalf("got %v, want a %s", m, typ)
		}
		return m
	case <-time.After(5 * time.Second):
		cl.t.Fatalf("no %s within 5 s", typ)
	}
	return nil
}

func (cl *client) closeErr() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.err
}

// closed waits for the server to close the connection and returns the
// close status.
func (cl *client) closed() websocket.StatusCode {
	cl.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-cl.ch:
			if !ok {
				return websocket.CloseStatus(cl.closeErr())
			}
		case <-timeout:
			cl.t.Fatal("connection still open after 5 s")
		}
	}
}

func (env *env) login(t *testing.T, who string) (*client, msg) {
	t.Helper()
	cl := env.dial(t)
	pw := map[string]string{"alice": "pa", "bob": "pb", "carol": "pc"}[who]
	cl.send(msg{"type": "auth.login", "req_id": "login", "client_id": who, "password": pw})
	ok := cl.expect("auth.ok")
	return cl, ok
}

// connected returns alice and bob on a connected call alice placed.
func (env *env) connected(t *testing.T) (alice, bob *client, callID string) {
	t.Helper()
	alice, _ = env.login(t, "alice")
	bob, _ = env.login(t, "bob")
	alice.send(msg{"type": "call.create", "req_id": "c1", "destination": "102", "sdp": "v=0 alice"})
	tr := alice.expect("call.trying")
	callID = tr["call_id"].(string)
	alice.expect("sdp.answer")
	alice.expect("call.ringing")
	in := bob.next("call.incoming")
	bob.send(msg{"type": "call.answer", "req_id": "a1", "call_id": in["call_id"], "sdp": "v=0 bob"})
	bob.expect("ack")
	bob.expect("call.answered")
	alice.expect("call.answered")
	return alice, bob, callID
}
