package ws_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callengine/callengine/adapters/ws"
)

// rawLogin dials without a reader goroutine (the test decides when the
// client reads: coder/websocket answers pings only while reading) and
// logs alice in.
func rawLogin(t *testing.T, env *env) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, env.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"auth.login","client_id":"alice","password":"pa"}`)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"auth.ok"`) {
		t.Fatalf("login: %s %v", data, err)
	}
	return c
}

// closeStatus reads until the connection ends and returns its close status.
func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// TestSlowReaderIsClosed: a client that does not read has its queue
// overflow; the server closes it with 1008 instead of blocking.
func TestSlowReaderIsClosed(t *testing.T) {
	var dropped atomic.Bool
	var code atomic.Int32
	disconnected := make(chan struct{})
	env := newEnv(t, ws.Settings{SendQueue: 1, Hooks: ws.Hooks{
		Dropped:      func(string) { dropped.Store(true) },
		Disconnected: func(_ string, c int) { code.Store(int32(c)); close(disconnected) },
	}})
	c := rawLogin(t, env)
	// Pings with the longest req_id until the socket's buffers and the
	// queue of one are full. The client reads nothing meanwhile.
	ping := []byte(`{"type":"ping","req_id":"` + strings.Repeat("p", 128) + `"}`)
	for i := 0; !dropped.Load(); i++ {
		if i > 1_000_000 {
			t.Fatal("the queue never overflowed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Write(ctx, websocket.MessageText, ping)
		cancel()
		if err != nil {
			break // the server closed
		}
	}
	if got := closeStatus(t, c); got != websocket.StatusPolicyViolation {
		t.Fatalf("close status %v, want 1008", got)
	}
	select {
	case <-disconnected:
		if code.Load() != int32(websocket.StatusPolicyViolation) {
			t.Fatalf("Disconnected hook: code %d, want 1008", code.Load())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Disconnected hook")
	}
}

// TestKeepAlive: the server pings; a client that answers stays, one that
// does not (it reads nothing, so its library sends no pong) is closed
// with 1008 after MaxMissedPings.
func TestKeepAlive(t *testing.T) {
	env := newEnv(t, ws.Settings{PingInterval: 100 * time.Millisecond, MaxMissedPings: 3})
	t.Run("answered", func(t *testing.T) {
		cl, _ := env.login(t, "alice")     // reads all the time: pongs go back
		time.Sleep(700 * time.Millisecond) // several pings, each answered
		if err := cl.closeErr(); err != nil {
			t.Fatalf("closed: %v", err)
		}
		cl.send(msg{"type": "ping", "req_id": "still"})
		fields(t, cl.next("pong"), msg{"req_id": "still"})
	})
	t.Run("missed", func(t *testing.T) {
		c := rawLogin(t, env)
		time.Sleep(time.Second) // 3 pings of 100 ms without a pong, and a margin
		if got := closeStatus(t, c); got != websocket.StatusPolicyViolation {
			t.Fatalf("close status %v, want 1008", got)
		}
	})
}

// TestDraining: a draining server refuses new calls with unavailable;
// everything else goes on.
func TestDraining(t *testing.T) {
	var draining atomic.Bool
	env := newEnv(t, ws.Settings{Draining: draining.Load})
	alice, bob, id := env.connected(t)
	draining.Store(true)
	env.unchanged(t, func() {
		alice.refused(t, msg{"type": "call.create", "destination": "103", "sdp": "v=0 a"}, 503, "unavailable")
	})
	alice.do("h", msg{"type": "call.hold", "call_id": id})
	bob.nextFor("call.held", id)
	draining.Store(false)
	alice.send(msg{"type": "call.create", "req_id": "again", "destination": "103", "sdp": "v=0 a"})
	fields(t, alice.next("call.trying"), msg{"req_id": "again"})
}

// TestBinaryFrame: a binary frame is refused with malformed, before and
// after authentication; the connection stays.
func TestBinaryFrame(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	for _, authed := range []bool{false, true} {
		cl := env.dial(t)
		if authed {
			cl.send(msg{"type": "auth.login", "client_id": "alice", "password": "pa"})
			cl.expect("auth.ok")
		}
		env.unchanged(t, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			b, _ := json.Marshal(msg{"type": "ping", "req_id": "bin"})
			if err := cl.c.Write(ctx, websocket.MessageBinary, b); err != nil {
				t.Fatal(err)
			}
			e := cl.expect("error")
			if e["status"] != 400.0 || e["code"] != "malformed" || e["request"] != nil || e["req_id"] != nil {
				t.Fatalf("error = %v", e)
			}
		})
		cl.send(msg{"type": "ping", "req_id": "p"})
		fields(t, cl.expect("pong"), msg{"req_id": "p"})
	}
}
