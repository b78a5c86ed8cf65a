package ws_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callengine/callengine/adapters/ws"
)

func TestLogin(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	t.Run("password", func(t *testing.T) {
		_, ok := env.login(t, "alice")
		if ok["req_id"] != "login" || ok["client_id"] != "alice" || ok["access"] == "" || ok["refresh"] == "" ||
			!strings.HasPrefix(ok["session_id"].(string), "s-") || !strings.HasPrefix(ok["device_id"].(string), "ws-") {
			t.Fatalf("auth.ok = %v", ok)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		cl := env.dial(t)
		cl.send(msg{"type": "auth.login", "req_id": "x", "client_id": "alice", "password": "nope"})
		e := cl.expect("error")
		if e["code"] != "invalid_credentials" || e["req_id"] != "x" || e["request"] != "auth.login" {
			t.Fatalf("error = %v", e)
		}
	})
	t.Run("token", func(t *testing.T) {
		_, ok := env.login(t, "bob")
		cl := env.dial(t)
		cl.send(msg{"type": "auth.token", "access": ok["access"]})
		if got := cl.expect("auth.ok"); got["client_id"] != "bob" {
			t.Fatalf("auth.ok = %v", got)
		}
	})
	t.Run("forged token", func(t *testing.T) {
		cl := env.dial(t)
		cl.send(msg{"type": "auth.token", "access": "forged.token"})
		if e := cl.expect("error"); e["code"] != "invalid_token" || e["status"] != 401.0 {
			t.Fatalf("error = %v", e)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		cl, ok := env.login(t, "carol")
		cl.send(msg{"type": "auth.refresh", "req_id": "r", "refresh": ok["refresh"]})
		if got := cl.expect("auth.ok"); got["session_id"] != ok["session_id"] || got["access"] == ok["access"] {
			t.Fatalf("auth.ok = %v", got)
		}
	})
	t.Run("ping", func(t *testing.T) {
		cl := env.dial(t)
		cl.send(msg{"type": "ping", "req_id": "p"})
		if got := cl.expect("pong"); got["req_id"] != "p" {
			t.Fatalf("pong = %v", got)
		}
	})
}

func TestCallBetweenTwoConnections(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, _ := env.login(t, "alice")
	bob, _ := env.login(t, "bob")
	alice.send(msg{"type": "call.create", "req_id": "c1", "destination": "102", "sdp": "v=0 alice"})
	tr := alice.expect("call.trying")
	id, _ := tr["call_id"].(string)
	if tr["req_id"] != "c1" || id == "" || tr["id"] == nil {
		t.Fatalf("call.trying = %v", tr)
	}
	if a := alice.expect("sdp.answer"); a["sdp"] != "v=0 answer "+id+"/caller" {
		t.Fatalf("sdp.answer = %v", a)
	}
	alice.expect("call.ringing")
	in := bob.next("call.incoming")
	if in["call_id"] != id || in["from"] != "+14155550101" || in["from_name"] != "Alice" || in["sdp"] != "v=0 offer "+id+"/callee" {
		t.Fatalf("call.incoming = %v", in)
	}
	if !env.m.has("offer " + id + "/callee match " + id + "/caller") {
		t.Fatalf("no offer matching the caller's leg: %v", env.m.ops)
	}
	// trickle ICE both ways
	bob.send(msg{"type": "ice.candidate", "call_id": id, "candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdp_mid": "0", "sdp_m_line_index": 0})
	bob.send(msg{"type": "call.answer", "req_id": "a1", "call_id": id, "sdp": "v=0 bob"})
	if a := bob.expect("ack"); a["request"] != "call.answer" || a["req_id"] != "a1" {
		t.Fatalf("ack = %v", a)
	}
	bob.expect("call.answered")
	alice.expect("call.answered")
	for _, op := range []string{"accept " + id + "/callee", "ice " + id + "/callee candidate:1 1 udp 1 127.0.0.1 5000 typ host",
		"connect " + id + "/caller " + id + "/callee"} {
		if !waitOp(env.m, op) {
			t.Fatalf("relay did not see %q: %v", op, env.m.ops)
		}
	}
	env.m.mu.Lock()
	ev := env.m.ev[id+"/caller"]
	env.m.mu.Unlock()
	ev.Candidate(ws.ICECandidate{Candidate: "candidate:relay"})
	if c := alice.expect("ice.candidate"); c["candidate"] != "candidate:relay" || c["call_id"] != id {
		t.Fatalf("ice.candidate = %v", c)
	}
	alice.send(msg{"type": "call.hangup", "req_id": "h", "call_id": id})
	alice.expect("ack")
	if e := alice.expect("call.ended"); e["reason"] != "hangup" {
		t.Fatalf("call.ended = %v", e)
	}
	if e := bob.expect("call.ended"); e["reason"] != "hangup" {
		t.Fatalf("call.ended = %v", e)
	}
	for _, op := range []string{"close " + id + "/caller", "close " + id + "/callee"} {
		if !waitOp(env.m, op) {
			t.Fatalf("relay did not see %q: %v", op, env.m.ops)
		}
	}
}

func waitOp(m *fakeMedia, op string) bool {
	for range 100 {
		if m.has(op) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestTwoDevicesAnsweredElsewhere(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, _ := env.login(t, "alice")
	bob1, _ := env.login(t, "bob")
	bob2, _ := env.login(t, "bob")
	alice.send(msg{"type": "call.create", "destination": "102", "sdp": "v=0 a"})
	id := alice.expect("call.trying")["call_id"].(string)
	in1 := bob1.next("call.incoming")
	in2 := bob2.next("call.incoming")
	if in1["sdp"] == in2["sdp"] {
		t.Fatalf("two devices got the same offer: %v", in1["sdp"])
	}
	bob2.send(msg{"type": "call.answer", "call_id": id, "sdp": "v=0 b2"})
	bob2.expect("ack")
	bob2.expect("call.answered")
	e := bob1.next("call.ended")
	if e["reason"] != "answered_elsewhere" || !strings.HasPrefix(e["answered_by_device"].(string), "ws-") {
		t.Fatalf("call.ended = %v", e)
	}
}

// TestControls: every control message reaches the engine and comes back
// as its event, on both connections.
func TestControls(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, id := env.connected(t)
	for _, tc := range []struct {
		send       msg
		event      string
		alice, bob map[string]any // fields of the event each side gets
		op         string         // a relay operation it implies
	}{
		{msg{"type": "call.hold"}, "call.held", msg{"held_by": "local"}, msg{"held_by": "remote"}, "held " + id + "/caller true"},
		{msg{"type": "call.resume"}, "call.resumed", msg{"resumed_by": "local"}, msg{"resumed_by": "remote"}, "held " + id + "/caller false"},
		{msg{"type": "call.mute"}, "call.muted", msg{"side": "local"}, msg{"side": "remote"}, "muted " + id + "/caller true"},
		{msg{"type": "call.unmute"}, "call.unmuted", msg{"side": "local"}, msg{"side": "remote"}, "muted " + id + "/caller false"},
		{msg{"type": "call.dtmf", "digits": "12#"}, "call.dtmf", msg{"digits": "12#", "from": "local"}, msg{"from": "remote"}, "dtmf " + id + "/callee 12#"},
		{msg{"type": "recording.start"}, "recording.started", msg{"by": "local"}, msg{"by": "remote"}, ""},
		{msg{"type": "recording.stop"}, "recording.stopped", msg{"by": "local"}, msg{"by": "remote"}, ""},
	} {
		t.Run(tc.send["type"].(string), func(t *testing.T) {
			tc.send["call_id"], tc.send["req_id"] = id, "r"
			alice.send(tc.send)
			if a := alice.expect("ack"); a["request"] != tc.send["type"] {
				t.Fatalf("ack = %v", a)
			}
			for who, cl := range map[string]*client{"alice": alice, "bob": bob} {
				got := cl.next(tc.event)
				want := tc.alice
				if who == "bob" {
					want = tc.bob
				}
				if got["call_id"] != id || got["id"] == nil {
					t.Fatalf("%s: %v", who, got)
				}
				for k, v := range want {
					if got[k] != v {
						t.Fatalf("%s: %s = %v, want %v (%v)", who, k, got[k], v, got)
					}
				}
			}
			if tc.op != "" && !waitOp(env.m, tc.op) {
				t.Fatalf("relay did not see %q: %v", tc.op, env.m.ops)
			}
		})
	}
	t.Run("in-band DTMF", func(t *testing.T) {
		env.m.mu.Lock()
		ev := env.m.ev[id+"/callee"]
		env.m.mu.Unlock()
		ev.DTMF('5')
		if got := alice.next("call.dtmf"); got["digits"] != "5" || got["from"] != "remote" {
			t.Fatalf("call.dtmf = %v", got)
		}
	})
	t.Run("presence", func(t *testing.T) {
		alice.send(msg{"type": "presence.set", "presence": "away", "activity": "lunch"})
		alice.expect("ack")
	})
	t.Run("directory", func(t *testing.T) {
		alice.send(msg{"type": "directory.query", "req_id": "d", "search": "bob"})
		d := alice.next("directory.result")
		if d["total"] != 1.0 || d["entries"].([]any)[0].(map[string]any)["client_id"] != "bob" {
			t.Fatalf("directory.result = %v", d)
		}
	})
	t.Run("subscribe.line", func(t *testing.T) {
		alice.send(msg{"type": "subscribe.line", "req_id": "l", "line": "103"})
		if a := alice.next("ack"); a["request"] != "subscribe.line" {
			t.Fatalf("ack = %v", a)
		}
	})
	t.Run("history", func(t *testing.T) {
		alice.send(msg{"type": "history.query", "req_id": "h"})
		if h := alice.next("history.result"); len(h["entries"].([]any)) == 0 {
			t.Fatalf("history.result = %v", h)
		}
	})
	t.Run("voicemail", func(t *testing.T) {
		alice.send(msg{"type": "voicemail.list", "req_id": "v"})
		alice.next("voicemail.result")
	})
	t.Run("park and unpark", func(t *testing.T) {
		alice.send(msg{"type": "call.park", "req_id": "k", "call_id": id})
		a := alice.next("ack")
		slot, _ := a["slot"].(string)
		if slot == "" {
			t.Fatalf("ack = %v", a)
		}
		bob.next("call.parked")
		alice.send(msg{"type": "call.unpark", "req_id": "u", "slot": slot})
		alice.next("ack")
		alice.next("call.unparked")
		if o := alice.next("sdp.offer"); o["call_id"] != id {
			t.Fatalf("sdp.offer = %v", o)
		}
	})
}

// TestRefusals: refused input changes nothing and answers with the right
// status and code.
func TestRefusals(t *testing.T) {
	env := newEnv(t, ws.Settings{MaxMessageBytes: 4096})
	alice, bob, id := env.connected(t)
	carol, _ := env.login(t, "carol")
	for _, tc := range []struct {
		name   string
		who    *client
		raw    string
		status float64
		code   string
	}{
		{"not JSON", alice, `{"type":`, 400, "malformed"},
		{"not an object", alice, `[1,2]`, 400, "malformed"},
		{"unknown type", alice, `{"type":"call.teleport","req_id":"1"}`, 400, "malformed"},
		{"no type", alice, `{"req_id":"1"}`, 400, "missing_parameter"},
		{"unknown field", alice, `{"type":"call.hold","call_id":"x","colour":"red"}`, 400, "malformed"},
		{"wrong JSON type", alice, `{"type":"call.hold","call_id":7}`, 400, "malformed"},
		{"missing call_id", alice, `{"type":"call.hold","req_id":"2"}`, 400, "missing_parameter"},
		{"missing sdp", alice, `{"type":"call.create","destination":"102"}`, 400, "missing_parameter"},
		{"bad presence", alice, `{"type":"presence.set","presence":"asleep"}`, 400, "invalid_params"},
		{"bad destination", alice, `{"type":"call.create","destination":"not a number","sdp":"v=0"}`, 400, "invalid_params"},
		{"unknown call", alice, `{"type":"call.hold","call_id":"nope"}`, 404, "not_found"},
		{"hold twice", alice, `{"type":"call.resume","call_id":"` + id + `"}`, 409, "invalid_state"},
		{"answer a connected call", bob, `{"type":"call.answer","call_id":"` + id + `","sdp":"v=0"}`, 404, "not_found"},
		{"another client's call", carol, `{"type":"call.hangup","call_id":"` + id + `"}`, 403, "forbidden"},
		{"another client's call (hold)", carol, `{"type":"call.hold","call_id":"` + id + `"}`, 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := env.e.Journal().LastSeq()
			tc.who.raw([]byte(tc.raw))
			e := tc.who.expect("error")
			if e["status"] != tc.status || e["code"] != tc.code {
				t.Fatalf("error = %v, want %v %s", e, tc.status, tc.code)
			}
			if after := env.e.Journal().LastSeq(); after != before {
				t.Fatalf("journal moved from %d to %d", before, after)
			}
		})
	}
	t.Run("oversized frame", func(t *testing.T) {
		cl, _ := env.login(t, "carol")
		cl.raw([]byte(`{"type":"ping","req_id":"` + strings.Repeat("x", 5000) + `"}`))
		if code := cl.closed(); code != websocket.StatusMessageTooBig {
			t.Fatalf("close status %v, want 1009", code)
		}
	})
	t.Run("before auth", func(t *testing.T) {
		cl := env.dial(t)
		for range 3 {
			cl.send(msg{"type": "call.hold", "call_id": id})
			if e := cl.expect("error"); e["status"] != 401.0 || e["code"] != "invalid_token" {
				t.Fatalf("error = %v", e)
			}
		}
		if code := cl.closed(); code != websocket.StatusPolicyViolation {
			t.Fatalf("close status %v, want 1008", code)
		}
	})
	t.Run("bad origin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, env.url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial from a foreign origin: %v %v", resp, err)
		}
	})
}

func TestAllowedOrigin(t *testing.T) {
	env := newEnv(t, ws.Settings{AllowedOrigins: []string{"app.example"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, env.url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://app.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
}

// TestRestore: a connection that drops mid-call comes back with the
// session and re-offers its media.
func TestRestore(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, ok := env.login(t, "alice")
	bob, _ := env.login(t, "bob")
	alice.send(msg{"type": "call.create", "destination": "102", "sdp": "v=0 a"})
	id := alice.expect("call.trying")["call_id"].(string)
	bob.send(msg{"type": "call.answer", "call_id": bob.next("call.incoming")["call_id"], "sdp": "v=0 b"})
	alice.next("call.answered")
	alice.c.Close(websocket.StatusGoingAway, "reload")
	if !waitOp(env.m, "close "+id+"/caller") {
		t.Fatalf("the dropped connection's leg stayed open: %v", env.m.ops)
	}
	again := env.dial(t)
	again.send(msg{"type": "auth.login", "client_id": "alice", "password": "pa", "session_id": ok["session_id"]})
	if got := again.expect("auth.ok"); got["session_id"] != ok["session_id"] {
		t.Fatalf("auth.ok = %v", got)
	}
	r := again.expect("session.restored")
	calls := r["calls"].([]any)
	if len(calls) != 1 || calls[0].(map[string]any)["call_id"] != id || calls[0].(map[string]any)["state"] != "active" {
		t.Fatalf("session.restored = %v", r)
	}
	again.send(msg{"type": "call.reoffer", "req_id": "ro", "call_id": id, "sdp": "v=0 again"})
	if a := again.expect("sdp.answer"); a["req_id"] != "ro" || a["call_id"] != id {
		t.Fatalf("sdp.answer = %v", a)
	}
	if !waitOp(env.m, "connect "+id+"/caller "+id+"/callee") {
		t.Fatalf("not connected again: %v", env.m.ops)
	}
}
