package ws_test

import (
	"testing"
	"time"
)

// nextFor returns the next message of type typ about call callID,
// skipping the others.
func (cl *client) nextFor(typ, callID string) msg {
	cl.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-cl.ch:
			if !ok {
				cl.t.Fatalf("connection closed waiting for %s of %s: %v", typ, callID, cl.closeErr())
			}
			if m["type"] == typ && m["call_id"] == callID {
				return m
			}
		case <-timeout:
			cl.t.Fatalf("no %s of call %s within 5 s", typ, callID)
		}
	}
}

// quiet asserts that nothing but presence notices arrives within d, and
// returns what did arrive.
func (cl *client) quiet(d time.Duration) {
	cl.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-cl.ch:
			if !ok {
				cl.t.Fatalf("connection closed: %v", cl.closeErr())
			}
			if m["type"] != "presence.changed" {
				cl.t.Fatalf("unexpected message %v", m)
			}
		case <-timeout:
			return
		}
	}
}

// fields checks the fields of m.
func fields(t *testing.T, m msg, want msg) {
	t.Helper()
	for k, v := range want {
		if m[k] != v {
			t.Fatalf("%s: %s = %v, want %v (%v)", m["type"], k, m[k], v, m)
		}
	}
}

// str returns field k of m, which must be a non-empty string.
func str(t *testing.T, m msg, k string) string {
	t.Helper()
	s, _ := m[k].(string)
	if s == "" {
		t.Fatalf("%s has no %s: %v", m["type"], k, m)
	}
	return s
}

// unchanged runs f and asserts the journal did not move.
func (env *env) unchanged(t *testing.T, f func()) {
	t.Helper()
	before := env.e.Journal().LastSeq()
	f()
	// a refused command journals nothing: give a late append a moment
	time.Sleep(20 * time.Millisecond)
	if after := env.e.Journal().LastSeq(); after != before {
		t.Fatalf("journal moved from %d to %d", before, after)
	}
}

// refused sends m and expects an error with status and code.
func (cl *client) refused(t *testing.T, m msg, status float64, code string) msg {
	t.Helper()
	m["req_id"] = "refused"
	cl.send(m)
	e := cl.reply("refused")
	if e["type"] != "error" || e["status"] != status || e["code"] != code || e["req_id"] != "refused" || e["request"] != m["type"] {
		t.Fatalf("error = %v, want %v %s for %v", e, status, code, m)
	}
	return e
}

// answerIncoming answers the next call.incoming of cl and returns its call id.
func (cl *client) answerIncoming() string {
	cl.t.Helper()
	in := cl.next("call.incoming")
	id := str(cl.t, in, "call_id")
	cl.answerCall(id)
	return id
}

// answerCall answers call id, which rings cl.
func (cl *client) answerCall(id string) {
	cl.t.Helper()
	cl.send(msg{"type": "call.answer", "req_id": "ans", "call_id": id, "sdp": "v=0 answer"})
	if a := cl.reply("ans"); a["type"] != "ack" {
		cl.t.Fatalf("call.answer: %v", a)
	}
}

// reply returns the next ack or error with req_id reqID, skipping events.
func (cl *client) reply(reqID string) msg {
	cl.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-cl.ch:
			if !ok {
				cl.t.Fatalf("connection closed waiting for the reply to %s: %v", reqID, cl.closeErr())
			}
			if m["req_id"] == reqID && (m["type"] == "ack" || m["type"] == "error") {
				return m
			}
		case <-timeout:
			cl.t.Fatalf("no reply to %s within 5 s", reqID)
		}
	}
}

// do sends m with req_id reqID and returns its ack; an error fails the test.
func (cl *client) do(reqID string, m msg) msg {
	cl.t.Helper()
	m["req_id"] = reqID
	cl.send(m)
	a := cl.reply(reqID)
	if a["type"] != "ack" || a["request"] != m["type"] {
		cl.t.Fatalf("%s: %v", m["type"], a)
	}
	return a
}

// upTo returns the messages up to and including the first of type typ.
func (cl *client) upTo(typ string) []msg {
	cl.t.Helper()
	var got []msg
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-cl.ch:
			if !ok {
				cl.t.Fatalf("connection closed waiting for %s: %v", typ, cl.closeErr())
			}
			got = append(got, m)
			if m["type"] == typ {
				return got
			}
		case <-timeout:
			cl.t.Fatalf("no %s within 5 s (got %v)", typ, got)
		}
	}
}

// find returns the message of type typ about callID in ms.
func find(t *testing.T, ms []msg, typ, callID string) msg {
	t.Helper()
	for _, m := range ms {
		if m["type"] == typ && (callID == "" || m["call_id"] == callID) {
			return m
		}
	}
	t.Fatalf("no %s of call %s in %v", typ, callID, ms)
	return nil
}
