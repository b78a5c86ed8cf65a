package engine_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/journal"
)

func (h *harness) waitSession(id string, ok func(engine.Session, error) bool) engine.Session {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := h.e.Session(ctx, id)
		if ok(s, err) {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("session %s: %+v, %v", id, s, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSessionCounter follows the seed's counter exactly: create sets 1,
// each closed connection takes 1, each restore adds 1; at 0 the grace timer
// starts, a restore stops it, and when it fires the session is destroyed.
func TestSessionCounter(t *testing.T) {
	h := newHarness(t)
	ok := must[engine.Session](t)
	h.register("alice", "101", nil, "a1")

	s := ok(h.e.CreateSession(ctx, "alice", engine.SessionOptions{}))
	if s.Connections != 1 || s.State != fsm.SessionActive || !s.AutoAnswer {
		t.Fatalf("created: %+v", s)
	}
	s = ok(h.e.RestoreSession(ctx, s.ID)) // a second tab
	if s.Connections != 2 {
		t.Fatalf("restored: %+v", s)
	}
	s = ok(h.e.CloseConnection(ctx, s.ID))
	if s.Connections != 1 || !s.GraceDeadline.IsZero() {
		t.Fatalf("one of two closed: %+v", s)
	}
	s = ok(h.e.CloseConnection(ctx, s.ID))
	if s.Connections != 0 || s.State != fsm.SessionGrace || !s.GraceDeadline.Equal(start.Add(5*time.Minute)) {
		t.Fatalf("last closed: %+v", s)
	}
	seq := h.e.Journal().LastSeq()
	_, err := h.e.CloseConnection(ctx, s.ID)
	wantCode(t, err, errcode.InvalidState)
	h.unchanged(seq)

	// A restore 4 minutes later stops the timer: it does not fire at 5.
	h.clock.Advance(4 * time.Minute)
	s = ok(h.e.RestoreSession(ctx, s.ID))
	if s.Connections != 1 || s.State != fsm.SessionActive || !s.GraceDeadline.IsZero() {
		t.Fatalf("restored in grace: %+v", s)
	}
	h.clock.Advance(2 * time.Minute)
	if got := ok(h.e.Session(ctx, s.ID)); got.State != fsm.SessionActive {
		t.Fatalf("the stopped timer fired: %+v", got)
	}

	// Closed again: the new timer fires 5 minutes later.
	s = ok(h.e.CloseConnection(ctx, s.ID))
	h.clock.Advance(5*time.Minute - time.Nanosecond)
	if got := ok(h.e.Session(ctx, s.ID)); got.State != fsm.SessionGrace {
		t.Fatalf("fired early: %+v", got)
	}
	h.clock.Advance(time.Nanosecond)
	h.waitSession(s.ID, func(_ engine.Session, err error) bool { return errcode.CodeOf(err) == errcode.InvalidSession })
	for _, f := range []func() error{
		func() error { _, err := h.e.RestoreSession(ctx, s.ID); return err },
		func() error { _, err := h.e.CloseConnection(ctx, s.ID); return err },
		func() error { return h.e.DestroySession(ctx, s.ID) },
		func() error { _, err := h.e.SubscribeLine(ctx, s.ID, "callpark"); return err },
		func() error { _, err := h.e.SessionEvents(ctx, s.ID); return err },
		func() error { _, err := h.e.RestoreSession(ctx, "s-unknown"); return err },
	} {
		wantCode(t, f(), errcode.InvalidSession)
	}
	if err := h.e.DestroySession(ctx, s.ID); err == nil || !errors.Is(err, errcode.ErrInvalidSession) {
		t.Fatalf("destroy of an expired session: %v", err)
	}
	types := []events.Type{}
	err = h.e.Journal().ReadStream("session/"+s.ID, 0, func(r journal.Record) error {
		var env events.Envelope
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return err
		}
		types = append(types, env.Type)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []events.Type{events.TypeSessionCreated, events.TypeSessionRestored, events.TypeSessionConnectionClosed,
		events.TypeSessionConnectionClosed, events.TypeSessionRestored, events.TypeSessionConnectionClosed, events.TypeSessionDestroyed}
	if !slices.Equal(types, want) {
		t.Fatalf("session stream %v, want %v", types, want)
	}
}

// TestSessionGraceSurvivesRestart: the grace deadline is journaled; after a
// restart the timer fires at its original instant.
func TestSessionGraceSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	ok := must[engine.Session](t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	s := ok(h.e.CreateSession(ctx, "alice", engine.SessionOptions{NoAutoAnswer: true}))
	ok(h.e.SubscribeLine(ctx, s.ID, "102"))
	ok(h.e.SubscribeLine(ctx, s.ID, engine.CallparkLine))
	ok(h.e.CloseConnection(ctx, s.ID))
	h.clock.Advance(3 * time.Minute)

	h.reopen()
	got := ok(h.e.Session(ctx, s.ID))
	if got.State != fsm.SessionGrace || got.AutoAnswer || !slices.Equal(got.Lines, []string{"102", "callpark"}) ||
		!got.GraceDeadline.Equal(start.Add(5*time.Minute)) {
		t.Fatalf("after restart: %+v", got)
	}
	if subs, err := h.e.Subscriptions(ctx, s.ID); err != nil || !slices.Equal(subs, []string{"101", "102", "callpark"}) {
		t.Fatalf("subscriptions %v, %v", subs, err)
	}
	h.clock.Advance(2*time.Minute - time.Nanosecond)
	if got := ok(h.e.Session(ctx, s.ID)); got.State != fsm.SessionGrace {
		t.Fatalf("fired early after restart: %+v", got)
	}
	h.clock.Advance(time.Nanosecond)
	h.waitSession(s.ID, func(_ engine.Session, err error) bool { return errcode.CodeOf(err) == errcode.InvalidSession })

	// Destroyed, it stays destroyed after another restart.
	h.reopen()
	_, err := h.e.Session(ctx, s.ID)
	wantCode(t, err, errcode.InvalidSession)
	if n := must[[]engine.Session](t)(h.e.Sessions(ctx, "alice")); len(n) != 0 {
		t.Fatalf("sessions of alice after expiry: %+v", n)
	}
}

// TestSessionSubscriptions: lines of the organisation only; the own line is
// implicit; unsubscribe; SessionEvents follows the subscriptions and ends
// when the session is destroyed.
func TestSessionSubscriptions(t *testing.T) {
	h := newHarness(t)
	ok := must[engine.Session](t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", []string{"+14155550102"}, "b1")
	h.register("carol", "103", nil, "c1")
	h.register("dave", "104", nil, "d1")
	s := ok(h.e.CreateSession(ctx, "alice", engine.SessionOptions{}))

	seq := h.e.Journal().LastSeq()
	for line, code := range map[string]errcode.Code{
		"":             errcode.MissingParameter,
		"101":          errcode.AlreadyExists, // her own
		"999":          errcode.NotFound,
		"+33123456789": errcode.NotFound,
	} {
		_, err := h.e.SubscribeLine(ctx, s.ID, line)
		wantCode(t, err, code)
	}
	_, err := h.e.UnsubscribeLine(ctx, s.ID, "102")
	wantCode(t, err, errcode.NotFound)
	h.unchanged(seq)

	ok(h.e.SubscribeLine(ctx, s.ID, "+1 415 555 0102")) // bob, by number
	_, err = h.e.SubscribeLine(ctx, s.ID, "+14155550102")
	wantCode(t, err, errcode.AlreadyExists)
	ok(h.e.SubscribeLine(ctx, s.ID, "103"))
	ok(h.e.UnsubscribeLine(ctx, s.ID, "103"))

	sub := must[*engine.Subscription](t)(h.e.SessionEvents(ctx, s.ID))
	// carol calls dave: not followed. carol calls bob: followed (bob's line).
	c1 := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "104"}))
	c2 := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	// dave calls alice: her own line.
	c3 := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "dave", To: "101"}))
	ok(h.e.SubscribeLine(ctx, s.ID, "103")) // now carol too
	c4 := must[engine.Call](t)(h.e.Hangup(ctx, c1.ID, engine.Caller))

	seen := map[string][]events.Type{}
	timeout := time.After(5 * time.Second)
	for len(seen[c4.ID]) < 1 || len(seen["session"]) < 1 {
		select {
		case ev := <-sub.Events():
			switch {
			case ev.Call != nil:
				seen[ev.Call.ID] = append(seen[ev.Call.ID], ev.Type)
			case ev.Session != nil:
				seen["session"] = append(seen["session"], ev.Type)
			case ev.Type == events.TypePresenceChanged:
				seen["presence "+ev.Client.ID] = append(seen["presence "+ev.Client.ID], ev.Type)
			}
		case <-timeout:
			t.Fatalf("events so far: %v", seen)
		}
	}
	if !slices.Equal(seen[c2.ID], []events.Type{events.TypeCallDialed, events.TypeCallRinging}) ||
		!slices.Equal(seen[c3.ID], []events.Type{events.TypeCallDialed, events.TypeCallRinging}) {
		t.Fatalf("followed calls: %v", seen)
	}
	if !slices.Equal(seen[c1.ID], []events.Type{events.TypeCallEnded}) {
		t.Fatalf("carol's call to dave, followed once carol's line was: %v", seen[c1.ID])
	}
	if len(seen["presence bob"]) == 0 || len(seen["presence alice"]) == 0 {
		t.Fatalf("presence of followed clients missing: %v", seen)
	}

	if err := h.e.DestroySession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	for range sub.Events() {
	}
	wantCode(t, sub.Err(), errcode.InvalidSession)
}

// TestSessionAutoAnswer: a click-to-call rings the client's own phone
// first; with auto-answer on in one of its sessions, the engine answers it.
func TestSessionAutoAnswer(t *testing.T) {
	for _, on := range []bool{true, false} {
		h := newHarness(t)
		h.register("alice", "101", nil, "a1")
		h.register("bob", "102", nil, "b1")
		must[engine.Session](t)(h.e.CreateSession(ctx, "alice", engine.SessionOptions{NoAutoAnswer: !on}))
		tr := must[engine.Transfer](t)(h.e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", Second: "102"}))
		if on {
			// alice's leg answered by itself; bob now rings.
			first := h.waitCall(tr.Consult, engine.Connected)
			if first.AnsweredDevice != "a1" {
				t.Fatalf("answered from %q", first.AnsweredDevice)
			}
			continue
		}
		time.Sleep(50 * time.Millisecond)
		c := must[engine.Call](t)(h.e.Call(ctx, tr.Consult))
		if c.State != engine.Ringing {
			t.Fatalf("without auto-answer the first leg is %s", c.State)
		}
	}
}

// TestSessionOwnership: with a principal, a client works only in its own
// sessions.
func TestSessionOwnership(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	s := must[engine.Session](t)(h.e.CreateSession(ctx, "alice", engine.SessionOptions{}))
	bob := engine.WithPrincipal(ctx, engine.Principal{Client: "bob", Role: engine.RoleAgent})
	seq := h.e.Journal().LastSeq()
	_, err := h.e.CreateSession(bob, "alice", engine.SessionOptions{})
	wantCode(t, err, errcode.Forbidden)
	_, err = h.e.RestoreSession(bob, s.ID)
	wantCode(t, err, errcode.Forbidden)
	wantCode(t, h.e.DestroySession(bob, s.ID), errcode.Forbidden)
	_, err = h.e.SubscribeLine(bob, s.ID, "102")
	wantCode(t, err, errcode.Forbidden)
	h.unchanged(seq)
	boss := engine.WithPrincipal(ctx, engine.Principal{Client: "bob", Role: engine.RoleSupervisor})
	if _, err := h.e.RestoreSession(boss, s.ID); err != nil {
		t.Fatal(err)
	}
}

// TestUnregisterEndsSessions: an unregistered client's sessions are
// destroyed; registered again, it starts from the defaults.
func TestUnregisterEndsSessions(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	s := must[engine.Session](t)(h.e.CreateSession(ctx, "alice", engine.SessionOptions{}))
	must[engine.Client](t)(h.e.SetPresence(ctx, "alice", events.PresenceAway, "out"))
	must[engine.Client](t)(h.e.SetVoicemail(ctx, "alice", true, 0))
	must[engine.Client](t)(h.e.UnregisterClient(ctx, "alice"))
	h.waitSession(s.ID, func(_ engine.Session, err error) bool { return errcode.CodeOf(err) == errcode.InvalidSession })
	h.register("alice", "101", nil, "a1")
	c := must[engine.Client](t)(h.e.Client(ctx, "alice"))
	if c.Presence != events.PresenceAvailable || c.Activity != "" || c.Voicemail {
		t.Fatalf("registered again: %+v", c)
	}
}

// TestSessionEventsAreItsOwn: a session that follows another client's line
// does not get that client's session events.
func TestSessionEventsAreItsOwn(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	a := must[engine.Session](t)(h.e.CreateSession(ctx, "alice", engine.SessionOptions{}))
	must[engine.Session](t)(h.e.SubscribeLine(ctx, a.ID, "102"))
	sub := must[*engine.Subscription](t)(h.e.SessionEvents(ctx, a.ID))
	b := must[engine.Session](t)(h.e.CreateSession(ctx, "bob", engine.SessionOptions{}))
	must[engine.Session](t)(h.e.SetAutoAnswer(ctx, a.ID, false))
	for ev := range sub.Events() {
		if ev.Session == nil {
			continue
		}
		if ev.Session.ID == b.ID {
			t.Fatalf("alice's session got bob's %s", ev.Type)
		}
		if ev.Type == events.TypeSessionAutoAnswerSet {
			break
		}
	}
}

func TestShortTokenSecretRefusesOpen(t *testing.T) {
	_, err := engine.Open(ctx, engine.Config{DataDir: t.TempDir(), TokenSecret: []byte("short")})
	wantCode(t, err, errcode.InvalidParams)
}

// TestIgnoreIsNotToldToTheCaller: when the callee ignores a call, the
// caller's sessions get nothing of it — no CallIgnored, and the call they
// see (in later events, and through Call with the caller's principal) is
// not marked ignored — while the callee's session and a session following
// the callee's line get the ignore. The call still rings for the caller
// until she gives up.
func TestIgnoreIsNotToldToTheCaller(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	caller := must[engine.Session](t)(h.e.CreateSession(ctx, "alice", engine.SessionOptions{}))
	callee := must[engine.Session](t)(h.e.CreateSession(ctx, "bob", engine.SessionOptions{}))
	follower := must[engine.Session](t)(h.e.CreateSession(ctx, "carol", engine.SessionOptions{}))
	must[engine.Session](t)(h.e.SubscribeLine(ctx, follower.ID, "102"))
	subs := map[string]*engine.Subscription{}
	for name, s := range map[string]engine.Session{"caller": caller, "callee": callee, "follower": follower} {
		subs[name] = must[*engine.Subscription](t)(h.e.SessionEvents(ctx, s.ID))
		defer subs[name].Close()
	}
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", Device: "a1", To: "102"}))
	if c = must[engine.Call](t)(h.e.Ignore(ctx, c.ID)); !c.Ignored || c.State != engine.Ringing {
		t.Fatalf("ignored call %+v", c)
	}
	actx := engine.WithPrincipal(ctx, engine.Principal{Client: "alice", Role: engine.RoleAgent})
	if v := must[engine.Call](t)(h.e.Call(actx, c.ID)); v.Ignored || v.State != engine.Ringing || !slices.Equal(v.RingingDevices, []string{"b1"}) {
		t.Fatalf("the caller reads the call as %s, ignored %v, ringing %v", v.State, v.Ignored, v.RingingDevices)
	}
	bctx := engine.WithPrincipal(ctx, engine.Principal{Client: "bob", Role: engine.RoleAgent})
	if v := must[engine.Call](t)(h.e.Call(bctx, c.ID)); !v.Ignored || len(v.RingingDevices) != 0 {
		t.Fatalf("the callee reads the call as ignored %v, ringing %v", v.Ignored, v.RingingDevices)
	}
	must[engine.Call](t)(h.e.Hangup(ctx, c.ID, engine.Caller))
	// Read each session's call events up to the end of the call.
	for name, sub := range subs {
		var types []string
		for ev := range sub.Events() {
			if ev.Call == nil || ev.Call.ID != c.ID {
				continue
			}
			types = append(types, ev.Type.String())
			if name == "caller" && ev.Call.Ignored {
				t.Fatalf("the caller's session sees the call ignored in %s", ev.Type)
			}
			if name != "caller" && ev.Type == events.TypeCallEnded && !ev.Call.Ignored {
				t.Fatalf("the %s's session does not see the call ignored", name)
			}
			if ev.Type == events.TypeCallEnded {
				break
			}
		}
		want := []string{"CallDialed", "CallRinging", "CallIgnored", "CallEnded"}
		if name == "caller" {
			want = []string{"CallDialed", "CallRinging", "CallEnded"}
		}
		if !slices.Equal(types, want) {
			t.Errorf("%s's session: %v, want %v", name, types, want)
		}
	}
	if v := must[engine.Call](t)(h.e.Call(ctx, c.ID)); v.Reason != events.Canceled || !v.Ignored {
		t.Fatalf("ended call %s ignored %v", v.Reason, v.Ignored)
	}
}
