package engine_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// streamEvents decodes every event of a stream in the journal.
func streamEvents(t *testing.T, e *engine.Engine, stream string) []events.Envelope {
	t.Helper()
	var out []events.Envelope
	if err := e.Journal().ReadStream(stream, 0, func(r journal.Record) error {
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			return err
		}
		out = append(out, env)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// presenceNotices drains sub and returns its PresenceChanged notices as
// "client presence activity" lines, checking that each is a notice (Seq 0)
// on the client's stream. Notices are published before the command that
// caused them returns.
func presenceNotices(t *testing.T, sub *engine.Subscription) []string {
	t.Helper()
	var out []string
	for {
		select {
		case ev, open := <-sub.Events():
			if !open {
				t.Fatalf("subscription closed: %v", sub.Err())
			}
			if ev.Type != events.TypePresenceChanged {
				continue
			}
			pc, ok := ev.Event.(events.PresenceChanged)
			if !ok || ev.Client == nil || ev.Seq != 0 || ev.Stream != events.ClientStream(ev.Client.ID) ||
				pc.Presence != ev.Client.Presence || pc.Activity != ev.Client.Activity {
				t.Fatalf("malformed presence notice %+v (client %+v)", ev.Envelope, ev.Client)
			}
			out = append(out, strings.TrimSpace(ev.Client.ID+" "+pc.Presence.String()+" "+pc.Activity))
		default:
			return out
		}
	}
}

func expectNotices(t *testing.T, sub *engine.Subscription, want ...string) {
	t.Helper()
	if got := presenceNotices(t, sub); !slices.Equal(got, want) {
		t.Fatalf("presence notices:\n got  %q\n want %q", got, want)
	}
}

// waitNotices waits for n presence notices (after a timer fired on an
// actor's goroutine) and returns them with any that follow at once.
func waitNotices(t *testing.T, sub *engine.Subscription, n int) []string {
	t.Helper()
	var out []string
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n {
		out = append(out, presenceNotices(t, sub)...)
		if time.Now().After(deadline) {
			t.Fatalf("have presence notices %q, want %d", out, n)
		}
		time.Sleep(time.Millisecond)
	}
	return out
}

func presenceOf(t *testing.T, e *engine.Engine, id string) (seen, set events.Presence, activity string) {
	t.Helper()
	c := must[engine.Client](t)(e.Client(ctx, id))
	return c.Presence, c.SetPresence, c.Activity
}

func TestPresenceSetJournaledAndRestored(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	j := h.e.Journal()
	if seen, set, act := presenceOf(t, h.e, "alice"); seen != events.PresenceAvailable || set != events.PresenceAvailable || act != "" {
		t.Fatalf("default presence %s/%s %q", seen, set, act)
	}

	// Available without an activity is what alice has: nothing to journal.
	seq := j.LastSeq()
	if c := must[engine.Client](t)(h.e.SetPresence(ctx, "alice", events.PresenceAvailable, "")); c.Presence != events.PresenceAvailable || j.LastSeq() != seq {
		t.Fatalf("default presence set again: %+v, %d events", c, j.LastSeq()-seq)
	}
	c := must[engine.Client](t)(h.e.SetPresence(ctx, "alice", events.PresenceAway, "lunch, back at 2"))
	if c.Presence != events.PresenceAway || c.SetPresence != events.PresenceAway || c.Activity != "lunch, back at 2" {
		t.Fatalf("after SetPresence: %+v", c)
	}
	if j.LastSeq() != seq+1 {
		t.Fatalf("SetPresence journaled %d events, want 1", j.LastSeq()-seq)
	}
	evs := streamEvents(t, h.e, events.ClientStream("alice"))
	last := evs[len(evs)-1]
	if last.Seq != seq+1 || last.Event != (events.ClientPresenceSet{Presence: events.PresenceAway, Activity: "lunch, back at 2"}) ||
		!last.At().Equal(start) {
		t.Fatalf("journaled %+v", last)
	}

	// The same again changes nothing and journals nothing.
	seq = j.LastSeq()
	c = must[engine.Client](t)(h.e.SetPresence(ctx, "alice", events.PresenceAway, "lunch, back at 2"))
	if c.Presence != events.PresenceAway || j.LastSeq() != seq {
		t.Fatalf("same presence again: %+v, %d events", c, j.LastSeq()-seq)
	}

	// Refused: nothing journaled, nothing changed.
	for _, bad := range []struct {
		p        events.Presence
		activity string
		code     errcode.Code
	}{
		{events.NoPresence, "", errcode.InvalidParams},
		{events.PresenceOffline + 1, "", errcode.InvalidParams},
		{0xff, "x", errcode.InvalidParams},
		{events.PresenceBusy, strings.Repeat("a", 257), errcode.InvalidParams},
	} {
		_, err := h.e.SetPresence(ctx, "alice", bad.p, bad.activity)
		wantCode(t, err, bad.code)
	}
	_, err := h.e.SetPresence(ctx, "nobody", events.PresenceAway, "")
	wantCode(t, err, errcode.NotFound)
	if j.LastSeq() != seq {
		t.Fatalf("refused presences journaled %d events", j.LastSeq()-seq)
	}
	if seen, set, act := presenceOf(t, h.e, "alice"); seen != events.PresenceAway || set != events.PresenceAway || act != "lunch, back at 2" {
		t.Fatalf("after refusals: %s/%s %q", seen, set, act)
	}

	// Only the activity changes: journaled.
	must[engine.Client](t)(h.e.SetPresence(ctx, "alice", events.PresenceAway, "meeting"))
	if j.LastSeq() != seq+1 {
		t.Fatalf("a new activity journaled %d events", j.LastSeq()-seq)
	}

	h.reopen()
	if seen, set, act := presenceOf(t, h.e, "alice"); seen != events.PresenceAway || set != events.PresenceAway || act != "meeting" {
		t.Fatalf("after restart: %s/%s %q", seen, set, act)
	}
	must[engine.Client](t)(h.e.SetPresence(ctx, "alice", events.PresenceAvailable, ""))
	h.reopen()
	if seen, set, act := presenceOf(t, h.e, "alice"); seen != events.PresenceAvailable || set != events.PresenceAvailable || act != "" {
		t.Fatalf("available after restart: %s/%s %q", seen, set, act)
	}
}

func TestPresenceBusyWhileOnACall(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	withPresence := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}, Presence: true}))
	without := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}}))
	byType := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Types: []events.Type{events.TypePresenceChanged}}))
	ok := must[engine.Call](t)
	j := h.e.Journal()

	seq := j.LastSeq()
	c := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	for _, id := range []string{"alice", "bob"} {
		if seen, set, _ := presenceOf(t, h.e, id); seen != events.PresenceBusy || set != events.PresenceAvailable {
			t.Fatalf("%s while ringing: seen %s, set %s", id, seen, set)
		}
	}
	if seen, _, _ := presenceOf(t, h.e, "carol"); seen != events.PresenceAvailable {
		t.Fatalf("carol: %s", seen)
	}
	// Derived: the client's stream journals nothing.
	if got := streamEvents(t, h.e, events.ClientStream("bob")); len(got) != 1 {
		t.Fatalf("bob's stream has %d events", len(got))
	}
	if j.LastSeq() != seq+2 {
		t.Fatalf("dial journaled %d events", j.LastSeq()-seq)
	}
	expectNotices(t, withPresence, "bob busy")
	expectNotices(t, byType, "alice busy", "bob busy")

	// Answer: still busy, no new notice.
	ok(h.e.Answer(ctx, c.ID, "b1"))
	if seen, _, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceBusy {
		t.Fatalf("bob on the call: %s", seen)
	}
	// A second call to bob (call waiting) does not change what others see.
	w := ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	expectNotices(t, withPresence)
	expectNotices(t, byType, "carol busy")
	ok(h.e.Hangup(ctx, w.ID, engine.Caller))
	expectNotices(t, withPresence)
	expectNotices(t, byType, "carol available")

	h.clock.Advance(time.Minute)
	ok(h.e.Hangup(ctx, c.ID, engine.Caller))
	for _, id := range []string{"alice", "bob"} {
		if seen, set, _ := presenceOf(t, h.e, id); seen != events.PresenceAvailable || set != events.PresenceAvailable {
			t.Fatalf("%s after the call: seen %s, set %s", id, seen, set)
		}
	}
	expectNotices(t, withPresence, "bob available")
	expectNotices(t, byType, "alice available", "bob available")
	if got := presenceNotices(t, without); len(got) != 0 {
		t.Fatalf("a filter without Presence got notices %q", got)
	}
	if got := presenceNotices(t, h.sub); len(got) != 0 {
		t.Fatalf("Filter{} got notices %q", got)
	}

	// Busy again after a restart while on a call: derived from the calls
	// restored.
	c = ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, c.ID, "b1"))
	h.reopen()
	if seen, set, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceBusy || set != events.PresenceAvailable {
		t.Fatalf("bob after restart on a call: seen %s, set %s", seen, set)
	}
	sub := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}, Presence: true}))
	ok(h.e.Hangup(ctx, c.ID, engine.Callee))
	expectNotices(t, sub, "bob available")
}

// The notices and the call events of one subscription come in order: the
// busy notice after the CallDialed that made bob busy, the available one
// after the CallEnded.
func TestPresenceNoticesInOrderWithCallEvents(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	sub := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}, Presence: true}))
	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	must[engine.Call](t)(h.e.Answer(ctx, c.ID, "b1"))
	must[engine.Call](t)(h.e.Hangup(ctx, c.ID, engine.Callee))
	must[engine.Client](t)(h.e.SetPresence(ctx, "bob", events.PresenceAway, "home"))
	var got []string
	for len(got) < 7 {
		select {
		case ev := <-sub.Events():
			s := ev.Type.String()
			if pc, ok := ev.Event.(events.PresenceChanged); ok {
				s += " " + pc.Presence.String()
			}
			got = append(got, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far %q", got)
		}
	}
	want := []string{"CallDialed", "CallRinging", "PresenceChanged busy", "CallAnswered", "CallEnded",
		"PresenceChanged available", "ClientPresenceSet"}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got  %q\n want %q", got, want)
	}
	if rest := presenceNotices(t, sub); !slices.Equal(rest, []string{"bob away home"}) {
		t.Fatalf("after ClientPresenceSet: %q", rest)
	}
}

// A client that set away, busy or offline shows that on a call too, and
// its calls make no notices.
func TestPresenceSetAwayStaysAwayOnACall(t *testing.T) {
	h := newHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	sub := must[*engine.Subscription](t)(h.e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}, Presence: true}))
	must[engine.Client](t)(h.e.SetPresence(ctx, "bob", events.PresenceAway, "meeting"))
	expectNotices(t, sub, "bob away meeting")

	c := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	must[engine.Call](t)(h.e.Answer(ctx, c.ID, "b1"))
	if seen, set, act := presenceOf(t, h.e, "bob"); seen != events.PresenceAway || set != events.PresenceAway || act != "meeting" {
		t.Fatalf("away bob on a call: %s/%s %q", seen, set, act)
	}
	expectNotices(t, sub)

	// Back to available on the call: others see busy at once.
	must[engine.Client](t)(h.e.SetPresence(ctx, "bob", events.PresenceAvailable, ""))
	if seen, set, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceBusy || set != events.PresenceAvailable {
		t.Fatalf("available bob on a call: seen %s, set %s", seen, set)
	}
	expectNotices(t, sub, "bob busy")
	// Busy set by hand while busy on the call: what others see is the
	// same, but the set presence is journaled.
	seq := h.e.Journal().LastSeq()
	must[engine.Client](t)(h.e.SetPresence(ctx, "bob", events.PresenceBusy, ""))
	if h.e.Journal().LastSeq() != seq+1 {
		t.Fatal("SetPresence busy journaled nothing")
	}
	expectNotices(t, sub)
	must[engine.Call](t)(h.e.Hangup(ctx, c.ID, engine.Caller))
	if seen, set, _ := presenceOf(t, h.e, "bob"); seen != events.PresenceBusy || set != events.PresenceBusy {
		t.Fatalf("bob set busy after the call: seen %s, set %s", seen, set)
	}
	expectNotices(t, sub)

	// Offline: set by hand, and when unregistered.
	must[engine.Client](t)(h.e.SetPresence(ctx, "bob", events.PresenceAvailable, ""))
	expectNotices(t, sub, "bob available")
	must[engine.Client](t)(h.e.UnregisterClient(ctx, "bob"))
	expectNotices(t, sub, "bob offline")
}
