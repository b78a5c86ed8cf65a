package ws_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/ws"
	"github.com/callengine/callengine/engine"
)

// ring has alice call bob (on every connection of bob's given) and returns
// the call id once each of them got call.incoming.
func ring(t *testing.T, alice *client, bobs ...*client) string {
	t.Helper()
	alice.send(msg{"type": "call.create", "req_id": "c", "destination": "102", "sdp": "v=0 alice"})
	id := str(t, alice.next("call.trying"), "call_id")
	alice.nextFor("call.ringing", id)
	for _, b := range bobs {
		b.nextFor("call.incoming", id)
	}
	return id
}

func TestReject(t *testing.T) {
	for _, tc := range []struct {
		name         string
		busy         bool
		caller, mine string // the reason each side sees
	}{
		{"silent", false, "rejected", "rejected"},
		{"busy", true, "busy", "busy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, ws.Settings{})
			alice, _ := env.login(t, "alice")
			bob1, _ := env.login(t, "bob")
			bob2, _ := env.login(t, "bob")
			id := ring(t, alice, bob1, bob2)
			m := msg{"type": "call.reject", "call_id": id}
			if tc.busy {
				m["busy"] = true
			}
			fields(t, bob1.do("r", m), msg{"call_id": id})
			fields(t, alice.nextFor("call.ended", id), msg{"reason": tc.caller})
			fields(t, bob1.nextFor("call.ended", id), msg{"reason": tc.mine})
			fields(t, bob2.nextFor("call.ended", id), msg{"reason": tc.mine})
			for _, op := range []string{"close " + id + "/caller", "close " + id + "/callee/"} {
				if !waitOpPrefix(env.m, op) {
					t.Fatalf("relay did not see %q: %v", op, env.m.ops)
				}
			}
		})
	}
}

// TestIgnore: the callee's devices stop ringing and get call.ignored; the
// caller is told nothing and hears ringing until it gives up.
func TestIgnore(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, _ := env.login(t, "alice")
	bob1, _ := env.login(t, "bob")
	bob2, _ := env.login(t, "bob")
	id := ring(t, alice, bob1, bob2)
	fields(t, bob1.do("i", msg{"type": "call.ignore", "call_id": id}), msg{"call_id": id})
	for _, b := range []*client{bob1, bob2} {
		if m := b.nextFor("call.ignored", id); m["id"] == nil {
			t.Fatalf("call.ignored without id: %v", m)
		}
	}
	if !waitOpPrefix(env.m, "close "+id+"/callee/") {
		t.Fatalf("the ringing legs stayed open: %v", env.m.ops)
	}
	// The engine journals the ignore (CallIgnored on the call's stream, to
	// which alice's session is subscribed), but nothing of it reaches
	// alice's connection: her call still rings.
	alice.quiet(300 * time.Millisecond)
	if c, err := env.e.Call(t.Context(), id); err != nil || c.State != "ringing" {
		t.Fatalf("call %v %v, want ringing", c.State, err)
	}
	if env.m.has("close " + id + "/caller") {
		t.Fatalf("the caller's leg closed: %v", env.m.ops)
	}
	// a second device of bob cannot answer an ignored call
	bob2.refused(t, msg{"type": "call.answer", "call_id": id, "sdp": "v=0 b"}, 404, "not_found")
	alice.do("h", msg{"type": "call.hangup", "call_id": id})
	fields(t, alice.nextFor("call.ended", id), msg{"reason": "canceled"})
	bob1.nextFor("call.ended", id)
}

func waitOpPrefix(m *fakeMedia, prefix string) bool {
	for range 100 {
		m.mu.Lock()
		for _, op := range m.ops {
			if len(op) >= len(prefix) && op[:len(prefix)] == prefix {
				m.mu.Unlock()
				return true
			}
		}
		m.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// twoHeldCalls returns alice on a held call with bob and a held call with
// carol, both placed by alice.
func twoHeldCalls(t *testing.T, env *env) (alice, bob, carol *client, withBob, withCarol string) {
	t.Helper()
	alice, bob, withBob = env.connected(t)
	alice.do("h1", msg{"type": "call.hold", "call_id": withBob})
	carol, _ = env.login(t, "carol")
	alice.send(msg{"type": "call.create", "req_id": "c2", "destination": "103", "sdp": "v=0 alice 2"})
	withCarol = str(t, alice.next("call.trying"), "call_id")
	carol.answerIncoming()
	alice.nextFor("call.answered", withCarol)
	alice.do("h2", msg{"type": "call.hold", "call_id": withCarol})
	return alice, bob, carol, withBob, withCarol
}

func TestMerge(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, carol, withBob, withCarol := twoHeldCalls(t, env)
	a := alice.do("m", msg{"type": "call.merge", "call_id": withBob, "other_call_id": withCarol})
	conf := str(t, a, "conference_id")
	fields(t, alice.nextFor("call.merged", withBob), msg{"conference_id": conf, "peer_call_id": withCarol})
	fields(t, alice.nextFor("call.merged", withCarol), msg{"conference_id": conf, "peer_call_id": withBob})
	fields(t, bob.nextFor("call.merged", withBob), msg{"conference_id": conf, "peer_call_id": withCarol})
	fields(t, carol.nextFor("call.merged", withCarol), msg{"conference_id": conf, "peer_call_id": withBob})
	// hold is not available in a conference: error, then the notice
	env.unchanged(t, func() {
		alice.refused(t, msg{"type": "call.hold", "call_id": withBob}, 409, "hold_not_available")
		fields(t, alice.nextFor("call.hold_not_available", withBob), msg{"held_by": "local", "id": 0.0})
	})
	// bob hangs up: the conference drops to alice and carol, an ordinary
	// call again, which alice can hold
	bob.do("h", msg{"type": "call.hangup", "call_id": withBob})
	fields(t, alice.nextFor("call.conference_left", withCarol), msg{"conference_id": conf, "peer_call_id": withBob})
	fields(t, carol.nextFor("call.conference_left", withCarol), msg{"conference_id": conf, "peer_call_id": withBob})
	alice.do("h3", msg{"type": "call.hold", "call_id": withCarol})
	fields(t, carol.nextFor("call.held", withCarol), msg{"held_by": "remote"})
}

func TestSwap(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, withBob := env.connected(t)
	carol, _ := env.login(t, "carol")
	carol.send(msg{"type": "call.create", "req_id": "c", "destination": "101", "sdp": "v=0 carol"})
	withCarol := str(t, carol.next("call.trying"), "call_id")
	alice.nextFor("call.incoming", withCarol)
	env.unchanged(t, func() {
		// the call rings this device: the answer to its offer is needed
		alice.refused(t, msg{"type": "call.swap", "call_id": withCarol}, 400, "missing_parameter")
	})
	alice.do("s1", msg{"type": "call.swap", "call_id": withCarol, "sdp": "v=0 alice answers carol"})
	fields(t, alice.nextFor("call.held", withBob), msg{"held_by": "local"})
	fields(t, bob.nextFor("call.held", withBob), msg{"held_by": "remote"})
	alice.nextFor("call.answered", withCarol)
	carol.nextFor("call.answered", withCarol)
	if op := "connect " + withCarol + "/caller " + withCarol + "/callee"; !waitOp(env.m, op) {
		t.Fatalf("carol's call is not connected: %v", env.m.ops)
	}
	alice.do("s2", msg{"type": "call.swap", "call_id": withBob})
	fields(t, alice.nextFor("call.held", withCarol), msg{"held_by": "local"})
	fields(t, alice.nextFor("call.resumed", withBob), msg{"resumed_by": "local", "held": false})
	fields(t, bob.nextFor("call.resumed", withBob), msg{"resumed_by": "remote", "held": false})
}

func TestParkUnpark(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, id := env.connected(t)
	carol, _ := env.login(t, "carol")
	fields(t, alice.do("k", msg{"type": "call.park", "call_id": id, "slot": "7"}), msg{"slot": "7", "call_id": id})
	fields(t, alice.nextFor("call.parked", id), msg{"slot": "7", "by": "local"})
	fields(t, bob.nextFor("call.parked", id), msg{"slot": "7", "by": "remote"})
	if !waitOp(env.m, "close "+id+"/caller") {
		t.Fatalf("the parking party's leg stayed open: %v", env.m.ops)
	}
	env.unchanged(t, func() {
		// alice left the call when she parked it
		alice.refused(t, msg{"type": "call.park", "call_id": id}, 403, "forbidden")
		carol.refused(t, msg{"type": "call.unpark", "slot": "8"}, 404, "not_found")
		carol.refused(t, msg{"type": "call.unpark", "call_id": "nope"}, 404, "not_found")
		bob.refused(t, msg{"type": "call.resume", "call_id": id}, 409, "invalid_state")
	})
	// anyone may unpark (the callpark line): carol, by the call's id
	fields(t, carol.do("u", msg{"type": "call.unpark", "call_id": id}), msg{"call_id": id})
	fields(t, carol.nextFor("call.unparked", id), msg{"by_client": "carol"})
	fields(t, bob.nextFor("call.unparked", id), msg{"by_client": "carol"})
	if o := carol.nextFor("sdp.offer", id); o["sdp"] == "" {
		t.Fatalf("sdp.offer = %v", o)
	}
}

func TestRecording(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, id := env.connected(t)
	// bob has no record permission
	env.unchanged(t, func() {
		bob.refused(t, msg{"type": "recording.start", "call_id": id}, 403, "recording_not_available")
		alice.refused(t, msg{"type": "recording.stop", "call_id": id}, 409, "invalid_state")
	})
	alice.do("r1", msg{"type": "recording.start", "call_id": id})
	started := bob.nextFor("recording.started", id)
	fields(t, started, msg{"by": "remote"})
	fields(t, alice.nextFor("recording.started", id), msg{"by": "local", "ref": started["ref"]})
	env.unchanged(t, func() {
		alice.refused(t, msg{"type": "recording.start", "call_id": id}, 409, "invalid_state")
	})
	alice.do("r2", msg{"type": "recording.stop", "call_id": id})
	fields(t, bob.nextFor("recording.stopped", id), msg{"by": "remote"})
}

// TestRestoreRecording: session.restored says whether each call is being
// recorded and under which ref (that of recording.started), to a page that
// reloads (auth with session_id) and to an explicit session.restore; the
// engine's view of the call is the source.
func TestRestoreRecording(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, _ := env.login(t, "alice")
	bob, okBob := env.login(t, "bob")
	id := ring(t, alice, bob)
	bob.answerCall(id)
	alice.nextFor("call.answered", id)

	// restored returns bob's call in a session.restored: after a reload
	// (a new connection, auth.token with the session) or, with reqID, as
	// the reply to session.restore on the connection cl.
	restored := func(cl *client, reqID string) map[string]any {
		t.Helper()
		if cl == nil {
			cl = env.dial(t)
			cl.send(msg{"type": "auth.token", "req_id": "t", "access": okBob["access"], "session_id": okBob["session_id"]})
			fields(t, cl.expect("auth.ok"), msg{"session_id": okBob["session_id"]})
		} else {
			cl.send(msg{"type": "session.restore", "req_id": reqID, "session_id": okBob["session_id"]})
		}
		r := cl.next("session.restored")
		calls, _ := r["calls"].([]any)
		if len(calls) != 1 {
			t.Fatalf("session.restored = %v, want bob's call", r)
		}
		c := calls[0].(map[string]any)
		fields(t, c, msg{"call_id": id, "state": "active", "side": "callee"})
		return c
	}
	// before any recording
	before := restored(nil, "")
	fields(t, before, msg{"recording": false, "recording_ref": ""})

	alice.do("r1", msg{"type": "recording.start", "call_id": id})
	ref := str(t, alice.nextFor("recording.started", id), "ref")
	bob.nextFor("recording.started", id)
	if v, err := env.e.Call(context.Background(), id); err != nil || !v.Recording || v.RecordingRef != ref {
		t.Fatalf("the engine's view: recording %v ref %q (err %v), the event's ref %q", v.Recording, v.RecordingRef, err, ref)
	}
	// during the recording: a reload and an explicit restore both say so
	again := restored(nil, "")
	fields(t, again, msg{"recording": true, "recording_ref": ref})
	fields(t, restored(bob, "s1"), msg{"recording": true, "recording_ref": ref})

	alice.do("r2", msg{"type": "recording.stop", "call_id": id})
	bob.nextFor("recording.stopped", id)
	// after it stopped: not recorded, no ref (the engine keeps the last one)
	fields(t, restored(nil, ""), msg{"recording": false, "recording_ref": ""})
	fields(t, restored(bob, "s2"), msg{"recording": false, "recording_ref": ""})

	// a second recording: its own ref
	alice.do("r3", msg{"type": "recording.start", "call_id": id})
	ref2 := str(t, alice.nextFor("recording.started", id), "ref")
	if ref2 == ref {
		t.Fatalf("two recordings under one ref %q", ref)
	}
	fields(t, restored(nil, ""), msg{"recording": true, "recording_ref": ref2})
}

// TestCallRefusals: refusals of the call messages, on a connected call
// (alice–bob), a ringing one (carol → alice) and an ended one.
func TestCallRefusals(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, id := env.connected(t)
	carol, _ := env.login(t, "carol")
	carol.send(msg{"type": "call.create", "req_id": "c", "destination": "101", "sdp": "v=0 carol"})
	ringing := str(t, carol.next("call.trying"), "call_id")
	alice.nextFor("call.incoming", ringing)
	for _, tc := range []struct {
		name   string
		who    *client
		send   msg
		status float64
		code   string
	}{
		{"reject: no call_id", alice, msg{"type": "call.reject"}, 400, "missing_parameter"},
		{"reject: busy not a bool", alice, msg{"type": "call.reject", "call_id": ringing, "busy": "yes"}, 400, "malformed"},
		{"reject: connected call", bob, msg{"type": "call.reject", "call_id": id}, 409, "invalid_state"},
		{"reject: by the caller", carol, msg{"type": "call.reject", "call_id": ringing}, 403, "forbidden"},
		{"reject: another client's call", carol, msg{"type": "call.reject", "call_id": id}, 403, "forbidden"},
		{"reject: unknown call", alice, msg{"type": "call.reject", "call_id": "nope"}, 404, "not_found"},
		{"ignore: no call_id", alice, msg{"type": "call.ignore"}, 400, "missing_parameter"},
		{"ignore: connected call", bob, msg{"type": "call.ignore", "call_id": id}, 409, "invalid_state"},
		{"ignore: by the caller", carol, msg{"type": "call.ignore", "call_id": ringing}, 403, "forbidden"},
		{"ignore: another client's call", bob, msg{"type": "call.ignore", "call_id": ringing}, 403, "forbidden"},
		{"merge: no other_call_id", alice, msg{"type": "call.merge", "call_id": id}, 400, "missing_parameter"},
		{"merge: not held", alice, msg{"type": "call.merge", "call_id": id, "other_call_id": ringing}, 409, "invalid_state"},
		{"merge: with itself", alice, msg{"type": "call.merge", "call_id": id, "other_call_id": id}, 400, "invalid_params"},
		{"merge: another client's call", carol, msg{"type": "call.merge", "call_id": ringing, "other_call_id": id}, 403, "forbidden"},
		{"swap: no call_id", alice, msg{"type": "call.swap"}, 400, "missing_parameter"},
		{"swap: bad sdp", alice, msg{"type": "call.swap", "call_id": ringing, "sdp": "hello"}, 400, "invalid_params"},
		{"swap: another client's call", carol, msg{"type": "call.swap", "call_id": id}, 403, "forbidden"},
		{"swap: unknown call", alice, msg{"type": "call.swap", "call_id": "nope"}, 404, "not_found"},
		{"swap: the caller's ringing call", carol, msg{"type": "call.swap", "call_id": ringing}, 409, "invalid_state"},
		{"park: no call_id", alice, msg{"type": "call.park", "slot": "1"}, 400, "missing_parameter"},
		{"park: ringing call", alice, msg{"type": "call.park", "call_id": ringing}, 409, "invalid_state"},
		{"park: another client's call", carol, msg{"type": "call.park", "call_id": id}, 403, "forbidden"},
		{"unpark: neither slot nor call_id", alice, msg{"type": "call.unpark"}, 400, "missing_parameter"},
		{"unpark: a call that is not parked", carol, msg{"type": "call.unpark", "call_id": id}, 409, "invalid_state"},
		{"recording.start: another client's call", carol, msg{"type": "recording.start", "call_id": id}, 403, "forbidden"},
		{"recording.stop: another client's call", carol, msg{"type": "recording.stop", "call_id": id}, 403, "forbidden"},
		{"recording.start: ringing call", alice, msg{"type": "recording.start", "call_id": ringing}, 403, "recording_not_available"},
		{"recording.start: no call_id", alice, msg{"type": "recording.start"}, 400, "missing_parameter"},
		{"create: no destination", alice, msg{"type": "call.create", "sdp": "v=0"}, 400, "missing_parameter"},
		{"create: unknown destination", alice, msg{"type": "call.create", "destination": "999", "sdp": "v=0"}, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.unchanged(t, func() { tc.who.refused(t, tc.send, tc.status, tc.code) })
		})
	}
	t.Run("ended call", func(t *testing.T) {
		alice.do("h", msg{"type": "call.hangup", "call_id": id})
		bob.nextFor("call.ended", id)
		for _, typ := range []string{"call.hangup", "call.hold", "call.mute", "call.park", "recording.start"} {
			env.unchanged(t, func() { bob.refused(t, msg{"type": typ, "call_id": id}, 409, "invalid_state") })
		}
		env.unchanged(t, func() {
			alice.refused(t, msg{"type": "transfer.blind", "call_id": id, "to": "103"}, 409, "invalid_state")
			alice.refused(t, msg{"type": "call.reoffer", "call_id": id, "sdp": "v=0"}, 409, "invalid_state")
		})
	})
}

// TestRoundRobinMovesOn: a round-robin group call rings bob; when his ring
// time runs out it moves on to carol: bob's device gets call.ended (missed)
// and carol's call.incoming, which she answers. The caller only ever hears
// ringing.
func TestRoundRobinMovesOn(t *testing.T) {
	env := newEnvConfig(t, ws.Settings{}, func(c *engine.Config) { c.RingTimeout = 300 * time.Millisecond })
	if _, err := env.e.DefineGroup(t.Context(), engine.GroupSpec{ID: "support", Extensions: []string{"400"}, Members: []string{"bob", "carol"}, Strategy: engine.RoundRobin}); err != nil {
		t.Fatal(err)
	}
	alice, _ := env.login(t, "alice")
	bob, _ := env.login(t, "bob")
	carol, _ := env.login(t, "carol")
	alice.send(msg{"type": "call.create", "req_id": "c", "destination": "400", "sdp": "v=0 alice"})
	id := str(t, alice.next("call.trying"), "call_id")
	alice.nextFor("call.ringing", id)
	bob.nextFor("call.incoming", id)
	fields(t, bob.nextFor("call.ended", id), msg{"reason": "missed"})
	carol.nextFor("call.incoming", id)
	carol.answerCall(id)
	alice.nextFor("call.answered", id)
	c, err := env.e.Call(t.Context(), id)
	if err != nil || c.State != engine.Connected || c.Callee.Client != "carol" || !slices.Equal(c.Tried, []string{"bob"}) {
		t.Fatalf("call %+v %v", c, err)
	}
}
