package ws_test

import (
	"testing"

	"github.com/callengine/callengine/adapters/ws"
)

// In every test here alice (the caller) and bob talk; alice transfers bob
// to carol (103).

func TestBlindTransfer(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, id := env.connected(t)
	carol, _ := env.login(t, "carol")
	a := alice.do("t", msg{"type": "transfer.blind", "call_id": id, "to": "103"})
	xid, newID := str(t, a, "transfer_id"), str(t, a, "new_call_id")
	fields(t, a, msg{"call_id": id, "consult_call_id": nil})
	for who, cl := range map[string]*client{"alice": alice, "bob": bob, "carol": carol} {
		in := cl.next("transfer.initiated")
		fields(t, in, msg{"transfer_id": xid, "kind": "blind", "call_id": id, "new_call_id": newID, "target": "103", "state": "placing"})
		if in["id"] == nil {
			t.Fatalf("%s: transfer.initiated without id: %v", who, in)
		}
	}
	// bob, the transferred party, carries on in the new call as its caller,
	// on the same leg
	tr := bob.nextFor("call.trying", newID)
	fields(t, tr, msg{"to": "103", "req_id": nil})
	fields(t, bob.nextFor("call.ended", id), msg{"reason": "transferred"})
	fields(t, alice.nextFor("call.ended", id), msg{"reason": "transferred"})
	for _, cl := range []*client{alice, bob} {
		fields(t, cl.next("transfer.completed"), msg{"transfer_id": xid, "kind": "blind", "state": "completed"})
	}
	in := carol.nextFor("call.incoming", newID)
	fields(t, in, msg{"from": "102", "from_name": "Bob", "direction": "internal"})
	carol.answerCall(newID)
	bob.nextFor("call.answered", newID)
	carol.nextFor("call.answered", newID)
	if op := "connect " + id + "/callee " + newID + "/callee"; !waitOp(env.m, op) {
		t.Fatalf("bob's leg is not connected to carol's: %v", env.m.ops)
	}
	if env.m.has("close " + id + "/callee") {
		t.Fatalf("bob's leg closed with the old call: %v", env.m.ops)
	}
	if !waitOp(env.m, "close "+id+"/caller") {
		t.Fatalf("alice's leg stayed open: %v", env.m.ops)
	}
}

// consult starts an attended or supervised transfer and returns the ack,
// with the consultation call ringing carol; alice has answered the
// server's offer for it.
func consult(t *testing.T, alice, bob, carol *client, id, kind string, extra msg) (xid, consultID, newID string) {
	t.Helper()
	m := msg{"type": "transfer." + kind, "call_id": id, "to": "103"}
	for k, v := range extra {
		m[k] = v
	}
	a := alice.do("t", m)
	xid, consultID, newID = str(t, a, "transfer_id"), str(t, a, "consult_call_id"), str(t, a, "new_call_id")
	for _, cl := range []*client{alice, bob, carol} {
		fields(t, cl.next("transfer.initiated"), msg{"transfer_id": xid, "kind": kind, "state": "consulting",
			"call_id": id, "consult_call_id": consultID, "new_call_id": newID, "target": "103"})
	}
	fields(t, alice.nextFor("call.held", id), msg{"held_by": "local"})
	fields(t, bob.nextFor("call.held", id), msg{"held_by": "remote"})
	// the consultation call is a new call of alice's: call.trying without
	// req_id, and an offer for its media
	fields(t, alice.nextFor("call.trying", consultID), msg{"req_id": nil, "to": "103"})
	o := alice.nextFor("sdp.offer", consultID)
	if o["sdp"] != "v=0 offer "+consultID+"/caller" {
		t.Fatalf("sdp.offer = %v", o)
	}
	alice.nextFor("call.ringing", consultID)
	alice.do("o", msg{"type": "sdp.answer", "call_id": consultID, "sdp": "v=0 alice consult"})
	return xid, consultID, newID
}

func TestAttendedTransfer(t *testing.T) {
	t.Run("complete", func(t *testing.T) {
		env := newEnv(t, ws.Settings{})
		alice, bob, id := env.connected(t)
		carol, _ := env.login(t, "carol")
		xid, consultID, newID := consult(t, alice, bob, carol, id, "attended", nil)
		if got := carol.answerIncoming(); got != consultID {
			t.Fatalf("carol answered %s, want the consultation %s", got, consultID)
		}
		alice.nextFor("call.answered", consultID)
		if op := "connect " + consultID + "/caller " + consultID + "/callee"; !waitOp(env.m, op) {
			t.Fatalf("the consultation's legs are not connected: %v", env.m.ops)
		}
		for _, cl := range []*client{alice, bob, carol} {
			fields(t, cl.next("transfer.answered"), msg{"transfer_id": xid, "kind": "attended", "state": "answered"})
		}
		a := alice.do("c", msg{"type": "transfer.complete", "transfer_id": xid})
		fields(t, a, msg{"transfer_id": xid, "call_id": id, "consult_call_id": consultID, "new_call_id": newID})
		fields(t, alice.nextFor("call.ended", id), msg{"reason": "transferred"})
		fields(t, alice.nextFor("call.ended", consultID), msg{"reason": "transferred"})
		// bob and carol carry on in the new call without a new offer
		bob.nextFor("call.trying", newID)
		carol.nextFor("call.answered", newID)
		for _, cl := range []*client{alice, bob, carol} {
			fields(t, cl.next("transfer.completed"), msg{"transfer_id": xid, "kind": "attended", "state": "completed"})
		}
		if op := "connect " + id + "/callee " + consultID + "/callee"; !waitOp(env.m, op) {
			t.Fatalf("bob's and carol's legs are not connected: %v", env.m.ops)
		}
		for _, op := range []string{"close " + id + "/caller", "close " + consultID + "/caller"} {
			if !waitOp(env.m, op) {
				t.Fatalf("alice's leg stayed open (%s): %v", op, env.m.ops)
			}
		}
	})
	t.Run("cancel", func(t *testing.T) {
		env := newEnv(t, ws.Settings{})
		alice, bob, id := env.connected(t)
		carol, _ := env.login(t, "carol")
		xid, consultID, _ := consult(t, alice, bob, carol, id, "attended", nil)
		a := alice.do("x", msg{"type": "transfer.cancel", "transfer_id": xid})
		fields(t, a, msg{"transfer_id": xid, "call_id": id})
		// carol's view: a call that rang and was given up is missed
		fields(t, carol.nextFor("call.ended", consultID), msg{"reason": "missed"})
		alice.nextFor("call.ended", consultID)
		fields(t, alice.nextFor("call.resumed", id), msg{"resumed_by": "local", "held": false})
		fields(t, bob.nextFor("call.resumed", id), msg{"resumed_by": "remote", "held": false})
		for _, cl := range []*client{alice, bob} {
			fields(t, cl.next("transfer.canceled"), msg{"transfer_id": xid, "kind": "attended", "state": "canceled"})
		}
		if !waitOp(env.m, "close "+consultID+"/caller") || env.m.has("close "+id+"/caller") {
			t.Fatalf("alice's legs: %v", env.m.ops)
		}
	})
	t.Run("not answered", func(t *testing.T) {
		env := newEnv(t, ws.Settings{})
		alice, bob, id := env.connected(t)
		carol, _ := env.login(t, "carol")
		xid, consultID, _ := consult(t, alice, bob, carol, id, "attended", nil)
		carol.next("call.incoming")
		carol.do("r", msg{"type": "call.reject", "call_id": consultID, "busy": true})
		fields(t, alice.nextFor("call.ended", consultID), msg{"reason": "busy"})
		alice.nextFor("call.resumed", id)
		for _, cl := range []*client{alice, bob} {
			fields(t, cl.next("transfer.not_answered"), msg{"transfer_id": xid, "kind": "attended", "reason": "busy"})
		}
	})
}

func TestSupervisedTransfer(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, id := env.connected(t)
	carol, _ := env.login(t, "carol")
	xid, consultID, newID := consult(t, alice, bob, carol, id, "supervised", msg{"invite_timer_ms": 15000})
	carol.answerIncoming()
	// answered in time: the transfer completes by itself
	got := map[string][]msg{}
	for who, cl := range map[string]*client{"alice": alice, "bob": bob, "carol": carol} {
		got[who] = cl.upTo("transfer.completed")
		fields(t, find(t, got[who], "transfer.completed", ""), msg{"transfer_id": xid, "kind": "supervised", "state": "completed"})
	}
	fields(t, find(t, got["alice"], "call.ended", consultID), msg{"reason": "transferred"})
	fields(t, find(t, got["alice"], "call.ended", id), msg{"reason": "transferred"})
	find(t, got["bob"], "call.trying", newID)
	find(t, got["carol"], "call.answered", newID)
	bob.hangupAll(newID)
	carol.nextFor("call.ended", newID)
}

func (cl *client) hangupAll(callID string) {
	cl.t.Helper()
	cl.do("h", msg{"type": "call.hangup", "call_id": callID})
	cl.nextFor("call.ended", callID)
}

// TestTransferRefusals: each refusal answers an error and journals nothing.
func TestTransferRefusals(t *testing.T) {
	env := newEnv(t, ws.Settings{})
	alice, bob, id := env.connected(t)
	carol, _ := env.login(t, "carol")
	// a ringing call: carol calls alice, who lets it ring
	carol.send(msg{"type": "call.create", "destination": "101", "sdp": "v=0 c"})
	carol.next("call.trying")
	ringing := alice.next("call.incoming")["call_id"].(string)
	for _, tc := range []struct {
		name   string
		who    *client
		send   msg
		status float64
		code   string
	}{
		{"blind: no to", alice, msg{"type": "transfer.blind", "call_id": id}, 400, "missing_parameter"},
		{"blind: no call_id", alice, msg{"type": "transfer.blind", "to": "103"}, 400, "missing_parameter"},
		{"blind: blank to", alice, msg{"type": "transfer.blind", "call_id": id, "to": "  "}, 400, "missing_parameter"},
		{"blind: unknown call", alice, msg{"type": "transfer.blind", "call_id": "nope", "to": "103"}, 404, "not_found"},
		{"blind: another client's call", carol, msg{"type": "transfer.blind", "call_id": id, "to": "103"}, 403, "forbidden"},
		{"blind: ringing call", alice, msg{"type": "transfer.blind", "call_id": ringing, "to": "102"}, 409, "invalid_state"},
		{"blind: to a party of the call", alice, msg{"type": "transfer.blind", "call_id": id, "to": "102"}, 400, "transfer_failed"},
		{"blind: unknown target", alice, msg{"type": "transfer.blind", "call_id": id, "to": "999"}, 400, "transfer_failed"},
		{"blind: invite timer", alice, msg{"type": "transfer.blind", "call_id": id, "to": "103", "invite_timer_ms": 1000}, 400, "invalid_params"},
		{"attended: another client's call", carol, msg{"type": "transfer.attended", "call_id": id, "to": "103"}, 403, "forbidden"},
		{"attended: ringing call", carol, msg{"type": "transfer.attended", "call_id": ringing, "to": "102"}, 409, "invalid_state"},
		{"supervised: negative timer", alice, msg{"type": "transfer.supervised", "call_id": id, "to": "103", "invite_timer_ms": -1}, 400, "invalid_params"},
		{"supervised: no to", alice, msg{"type": "transfer.supervised", "call_id": id}, 400, "missing_parameter"},
		{"complete: no transfer_id", alice, msg{"type": "transfer.complete"}, 400, "missing_parameter"},
		{"complete: unknown transfer", alice, msg{"type": "transfer.complete", "transfer_id": "nope"}, 404, "not_found"},
		{"cancel: no transfer_id", alice, msg{"type": "transfer.cancel"}, 400, "missing_parameter"},
		{"cancel: unknown transfer", alice, msg{"type": "transfer.cancel", "transfer_id": "nope"}, 404, "not_found"},
		{"cancel: a bad id", alice, msg{"type": "transfer.cancel", "transfer_id": "a/b"}, 400, "invalid_params"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.unchanged(t, func() { tc.who.refused(t, tc.send, tc.status, tc.code) })
		})
	}
	t.Run("live transfer", func(t *testing.T) {
		xid, _, _ := consult(t, alice, bob, carol, id, "attended", nil)
		for _, tc := range []struct {
			name   string
			who    *client
			send   msg
			status float64
			code   string
		}{
			{"complete before the target answered", alice, msg{"type": "transfer.complete", "transfer_id": xid}, 409, "invalid_state"},
			{"complete another client's transfer", carol, msg{"type": "transfer.complete", "transfer_id": xid}, 403, "forbidden"},
			{"cancel another client's transfer", carol, msg{"type": "transfer.cancel", "transfer_id": xid}, 403, "forbidden"},
			{"a second transfer of the call", alice, msg{"type": "transfer.blind", "call_id": id, "to": "103"}, 409, "conflict"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				env.unchanged(t, func() { tc.who.refused(t, tc.send, tc.status, tc.code) })
			})
		}
	})
}
