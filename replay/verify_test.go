package replay_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

// writer appends hand-made events to a temporary journal, as the engine
// would have: one Append per decision, each event stamped with its time.
type writer struct {
	t    *testing.T
	path string
	j    *journal.Journal
}

func newWriter(t *testing.T) *writer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{t: t, path: path, j: j}
	t.Cleanup(func() { w.j.Close() })
	return w
}

// add appends one decision's events to stream at t0+offset.
func (w *writer) add(stream string, offset time.Duration, evs ...events.Event) {
	w.t.Helper()
	at := t0.Add(offset).UnixNano()
	recs := make([][]byte, len(evs))
	for i, ev := range evs {
		recs[i] = events.EncodeBody(nil, at, ev)
	}
	w.raw(stream, recs...)
}

// raw appends records as they are, encoded or not.
func (w *writer) raw(stream string, recs ...[]byte) {
	w.t.Helper()
	v, err := w.j.StreamVersion(stream)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.j.Append(context.Background(), stream, v, recs, false); err != nil {
		w.t.Fatal(err)
	}
}

// open closes the writer's journal and opens it for replay.
func (w *writer) open() *replay.Log {
	w.t.Helper()
	if err := w.j.Close(); err != nil {
		w.t.Fatal(err)
	}
	l, err := replay.Open(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { l.Close() })
	return l
}

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

var (
	alice    = events.Party{Client: "alice", Number: "+14155550101", Name: "Alice"}
	bob      = events.Party{Client: "bob", Number: "102", Name: "Bob"}
	outside  = events.Party{Number: "+33144556677"}
	toBob    = events.CallDialed{Caller: alice, Callee: bob, CallerID: "+14155550101", Destination: "102", Direction: events.Internal}
	bobRings = events.CallRinging{Devices: []string{"bob-desk", "bob-web"}, Deadline: t0.Add(30 * time.Second).UnixNano()}
)

// healthy writes streams the current code decides exactly so.
func healthy(w *writer) {
	w.add("client/alice", 0, events.ClientRegistered{Name: "Alice", Numbers: []string{"+14155550101"}, Extensions: []string{"101"},
		Devices: []events.Device{{ID: "alice-desk", Kind: "sip"}}, AcceptInbound: true})
	w.add("client/bob", 0, events.ClientRegistered{Name: "Bob", Extensions: []string{"102"},
		Devices: []events.Device{{ID: "bob-desk"}, {ID: "bob-web"}}, AcceptInbound: true})
	w.add("client/bob", time.Second, events.DeviceAdded{Device: events.Device{ID: "bob-mobile"}})
	w.add("client/bob", 2*time.Second, events.DeviceRemoved{ID: "bob-mobile"})
	w.add("client/bob", 3*time.Second, events.ClientUpdated{Name: "Bob", AcceptInbound: false})
	w.add("client/bob", 4*time.Second, events.ClientUnregistered{})
	w.add("client/bob", 5*time.Second, events.ClientRegistered{Name: "Bob", Extensions: []string{"102"}, Devices: []events.Device{{ID: "bob-desk"}}})

	w.add("call/ok", 0, toBob, bobRings)
	w.add("call/ok", 2*time.Second, events.CallAnswered{Device: "bob-web"})
	w.add("call/ok", 3*time.Second, events.CallMuted{Side: events.Callee})
	w.add("call/ok", 5*time.Second, events.CallHeld{By: events.Caller})
	w.add("call/ok", 7*time.Second, events.CallHeld{By: events.Callee})
	w.add("call/ok", 9*time.Second, events.CallResumed{By: events.Caller})
	w.add("call/ok", 10*time.Second, events.CallResumed{By: events.Callee})
	w.add("call/ok", 11*time.Second, events.CallUnmuted{Side: events.Callee})
	w.add("call/ok", 60*time.Second, events.CallEnded{Reason: events.Hangup, By: events.Callee})

	w.add("call/timeout", 0, toBob, bobRings)
	w.add("call/timeout", 4*time.Second, events.CallIgnored{})
	w.add("call/timeout", 30*time.Second, events.CallEnded{Reason: events.NoAnswer, Missed: true})

	w.add("call/failed", 0, toBob, events.CallEnded{Reason: events.Failed})

	out := events.CallDialed{Caller: alice, Callee: outside, CallerID: "+14155550101", Destination: "+33144556677", Direction: events.Outbound}
	w.add("call/out", 0, out)
	w.add("call/out", time.Second, events.CallRinging{Deadline: t0.Add(31 * time.Second).UnixNano()})
	w.add("call/out", 3*time.Second, events.CallAnswered{})
	w.add("call/out", 4*time.Second, events.CallHeld{By: events.Callee})
	w.add("call/out", 9*time.Second, events.CallEnded{Reason: events.Failed, By: events.Callee})

	w.add("call/out-busy", 0, out)
	w.add("call/out-busy", 2*time.Second, events.CallEnded{Reason: events.Busy, By: events.Callee})

	w.add("call/out-gave-up", 0, out)
	w.add("call/out-gave-up", time.Second, events.CallRinging{})
	w.add("call/out-gave-up", 40*time.Second, events.CallEnded{Reason: events.NoAnswer, By: events.Callee})

	in := events.CallDialed{Caller: events.Party{Number: "+442071234567", Name: "Acme"}, Callee: bob, Destination: "102", Direction: events.Inbound}
	w.add("call/in", 0, in, bobRings)
	w.add("call/in", 5*time.Second, events.CallEnded{Reason: events.Canceled, By: events.Caller, Missed: true})

	w.add("call/rejected", 0, toBob, bobRings)
	w.add("call/rejected", 5*time.Second, events.CallEnded{Reason: events.Rejected, By: events.Callee})

	w.add("call/live", 0, toBob, bobRings)
	w.add("call/live", time.Second, events.CallAnswered{Device: "bob-desk"})
}

func TestVerifyHealthyJournal(t *testing.T) {
	w := newWriter(t)
	healthy(w)
	w.add("voicemail/x", 0, events.CallIgnored{}) // a stream kind this code does not know
	l := w.open()
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("divergences in a healthy journal: %v", r.Divergences)
	}
	if r.Streams != 11 || r.Skipped != 1 || uint64(r.Events) != l.LastSeq()-1 {
		t.Errorf("streams %d, skipped %d, events %d of %d", r.Streams, r.Skipped, r.Events, l.LastSeq())
	}
}

// healthy2 writes streams of schema 2 that the current code decides exactly
// so, beside those controlJournal gets from a real engine: a ring-all group
// call answered by a member's device, an external caller sent on to a
// number outside (a transit call that continues the caller's leg), an
// attended transfer to a number outside whose new call is born connected.
func healthy2(w *writer) {
	acme := events.Party{Number: "+442071234567", Name: "Acme"}
	shop := events.Party{Number: "+33155555555"}
	w.add("group/desk", 0, events.GroupDefined{Name: "Desk", Extensions: []string{"200"}, Members: []string{"alice", "bob"}, Strategy: events.RingAll})
	w.add("group/old", 0, events.GroupDefined{Members: []string{"alice"}, Strategy: events.RoundRobin})
	w.add("group/old", time.Second, events.GroupMemberPicked{Member: "alice", Call: "x"})
	w.add("group/old", 2*time.Second, events.GroupRemoved{})
	w.add("group/old", 3*time.Second, events.GroupDefined{Members: []string{"bob"}, Strategy: events.RingAll}) // defined again
	w.add("call/ring-all", 0, events.CallDialed{Caller: acme, Callee: events.Party{Number: "200", Name: "Desk"}, Destination: "200", Direction: events.Inbound, Group: "desk"},
		events.CallRinging{Devices: []string{"alice/alice-desk", "bob/bob-desk"}, Deadline: t0.Add(30 * time.Second).UnixNano()})
	w.add("call/ring-all", 2*time.Second, events.CallAnswered{Device: "bob/bob-desk"})
	w.add("call/ring-all", 4*time.Second, events.CallRecordingStarted{By: events.Callee, Ref: "rec/1"})
	w.add("call/ring-all", 5*time.Second, events.CallParked{Side: events.Caller, By: events.Callee, Slot: "7"})
	w.add("call/ring-all", 6*time.Second, events.CallUnparked{Party: alice, Device: "alice-desk"})
	w.add("call/ring-all", 7*time.Second, events.CallHeld{By: events.Callee})
	w.add("call/ring-all", 8*time.Second, events.CallJoined{Conference: "conf", Peer: "other"})

	w.add("transfer/blind-out", 10*time.Second, events.TransferInitiated{Kind: events.Blind, Call: "ring-all", Kept: events.Caller,
		Target: shop, Destination: "+33155555555", NewCall: "transit"})
	w.add("call/transit", 10*time.Second, events.CallDialed{Caller: acme, Callee: shop, CallerID: "+442071234567", Destination: "+33155555555",
		Direction: events.Transit, Transfer: "blind-out", CallerLeg: "ring-all"})
	w.add("call/ring-all", 10*time.Second, events.CallEnded{Reason: events.Transferred, By: events.Callee})
	w.add("transfer/blind-out", 10*time.Second, events.TransferCompleted{})
	w.add("call/transit", 11*time.Second, events.CallRinging{})
	w.add("call/transit", 12*time.Second, events.CallAnswered{})

	w.add("call/to-shop", 20*time.Second, toBob, bobRings)
	w.add("call/to-shop", 21*time.Second, events.CallAnswered{Device: "bob-desk"})
	w.add("transfer/att-out", 22*time.Second, events.TransferInitiated{Kind: events.Attended, Call: "to-shop", Kept: events.Caller,
		Target: shop, Destination: "+33155555555", Consult: "consult", NewCall: "joined"})
	w.add("call/to-shop", 22*time.Second, events.CallHeld{By: events.Callee})
	w.add("call/consult", 22*time.Second, events.CallDialed{Caller: bob, Callee: shop, CallerDevice: "bob-desk", Destination: "+33155555555",
		Direction: events.Outbound, Transfer: "att-out"})
	w.add("call/consult", 23*time.Second, events.CallAnswered{})
	w.add("transfer/att-out", 23*time.Second, events.TransferAnswered{})
	w.add("call/joined", 30*time.Second, events.CallDialed{Caller: alice, Callee: shop, Destination: "+33155555555",
		Direction: events.Outbound, Transfer: "att-out", CalleeLeg: "consult"}, events.CallAnswered{})
	w.add("call/to-shop", 30*time.Second, events.CallEnded{Reason: events.Transferred, By: events.Callee})
	w.add("call/consult", 30*time.Second, events.CallEnded{Reason: events.Transferred, By: events.Caller})
	w.add("transfer/att-out", 30*time.Second, events.TransferCompleted{})

	sent := events.MessageSent{From: alice, To: "+33144556677", Text: "hello"}
	w.add("message/ok", 0, sent)
	w.add("message/ok", time.Second, events.MessageDelivered{})
	w.add("message/lost", 0, sent)
	w.add("message/lost", time.Second, events.MessageFailed{Reason: "404"})
}

func TestVerifyHealthySchema2(t *testing.T) {
	w := newWriter(t)
	healthy(w)
	healthy2(w)
	l := w.open()
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("divergences in a healthy journal: %v", r.Divergences)
	}
	if r.Streams != 11+11 || r.Skipped != 0 || uint64(r.Events) != l.LastSeq() {
		t.Errorf("streams %d, skipped %d, events %d of %d", r.Streams, r.Skipped, r.Events, l.LastSeq())
	}
}

// TestVerifyReportsDamage appends, next to healthy streams, streams with an
// event the current fsm would not decide; each must be reported at the
// version of that event, and the healthy streams not at all.
func TestVerifyReportsDamage(t *testing.T) {
	w := newWriter(t)
	healthy(w)
	type want struct {
		version uint64
		kind    replay.Kind
		code    errcode.Code
		current string // a part of what the current code says
	}
	cases := map[string]want{}
	var order []string // the damaged streams in the order of their first events
	damage := func(stream string, wt want, write func(s string)) {
		cases[stream] = wt
		order = append(order, stream)
		write(stream)
	}

	damage("call/answered-after-end", want{4, replay.KindAfterEnd, "", "nothing may follow"}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, 5*time.Second, events.CallEnded{Reason: events.Canceled, By: events.Caller, Missed: true})
		w.add(s, 6*time.Second, events.CallAnswered{Device: "bob-desk"})
	})
	damage("call/held-while-ringing", want{3, replay.KindRefused, errcode.HoldNotAvailable, "not established"}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, 2*time.Second, events.CallHeld{By: events.Caller})
	})
	damage("call/hangup-before-answer", want{3, replay.KindMismatch, "", `"reason":"canceled"`}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, 2*time.Second, events.CallEnded{Reason: events.Hangup, By: events.Caller})
	})
	damage("call/missed-not-set", want{3, replay.KindMismatch, "", `"missed":true`}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, 2*time.Second, events.CallEnded{Reason: events.Canceled, By: events.Caller})
	})
	damage("call/busy-after-answer", want{4, replay.KindRefused, errcode.InvalidState, "cannot reject"}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, time.Second, events.CallAnswered{Device: "bob-web"})
		w.add(s, 2*time.Second, events.CallEnded{Reason: events.Busy, By: events.Callee})
	})
	damage("call/transferred-by-nobody", want{4, replay.KindRefused, errcode.InvalidParams, "TransferAway{By: side(0)}"}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, time.Second, events.CallAnswered{Device: "bob-web"})
		w.add(s, 2*time.Second, events.CallEnded{Reason: events.Transferred})
	})
	damage("call/timeout-too-early", want{3, replay.KindMismatch, "", "decides no event"}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, 10*time.Second, events.CallEnded{Reason: events.NoAnswer, Missed: true})
	})
	damage("call/ringing-a-second-late", want{2, replay.KindMismatch, "", "at 2026-01-05T10:00:00Z"}, func(s string) {
		w.add(s, 0, toBob)
		w.add(s, time.Second, bobRings)
	})
	damage("call/dial-without-ringing", want{2, replay.KindMissing, "", `CallEnded {"reason":"failed"}`}, func(s string) {
		w.add(s, 0, toBob)
	})
	damage("call/answer-unknown-device", want{3, replay.KindRefused, errcode.InvalidState, `"bob-mobile" is not ringing`}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, time.Second, events.CallAnswered{Device: "bob-mobile"})
	})
	damage("call/undecodable", want{3, replay.KindDecode, errcode.Malformed, "not an event body"}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.raw(s, []byte("not an event"))
	})
	damage("call/newer-schema", want{2, replay.KindDecode, errcode.Malformed, fmt.Sprintf("schema version %d", events.SchemaVersion+1)}, func(s string) {
		w.add(s, 0, events.CallDialed{Caller: alice, Callee: outside, Direction: events.Outbound})
		body := events.EncodeBody(nil, t0.UnixNano(), events.CallRinging{})
		body[1] = byte(events.SchemaVersion + 1) // the schema byte
		w.raw(s, body)
	})
	damage("call/client-event", want{1, replay.KindNoCommand, "", "not a call event"}, func(s string) {
		w.add(s, 0, events.ClientUnregistered{})
	})
	damage("client/removes-a-ghost", want{2, replay.KindRefused, errcode.NotFound, `no device "ghost"`}, func(s string) {
		w.add(s, 0, events.ClientRegistered{Name: "Carol"})
		w.add(s, time.Second, events.DeviceRemoved{ID: "ghost"})
	})
	damage("client/registered-twice", want{2, replay.KindRefused, errcode.AlreadyExists, "already registered"}, func(s string) {
		w.add(s, 0, events.ClientRegistered{Name: "Dan"})
		w.add(s, time.Second, events.ClientRegistered{Name: "Dan"})
	})
	damage("client/update-changes-nothing", want{2, replay.KindMismatch, "", "decides no event"}, func(s string) {
		w.add(s, 0, events.ClientRegistered{Name: "Eve", AcceptInbound: true})
		w.add(s, time.Second, events.ClientUpdated{Name: "Eve", AcceptInbound: true})
	})
	damage("client/number-not-e164", want{1, replay.KindRefused, errcode.InvalidParams, "not E.164"}, func(s string) {
		w.add(s, 0, events.ClientRegistered{Name: "Fay", Numbers: []string{"0800 123"}})
	})

	// Schema 2: call control, transfers, groups, messages.
	connected := func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, time.Second, events.CallAnswered{Device: "bob-web"})
	}
	damage("call/digits-while-ringing", want{3, replay.KindRefused, errcode.InvalidState, "cannot send DTMF"}, func(s string) {
		w.add(s, 0, toBob, bobRings)
		w.add(s, time.Second, events.CallDigits{Side: events.Caller, Digits: "1", Duration: 1e8, Gap: 7e7})
	})
	damage("call/parks-itself", want{4, replay.KindMismatch, "", `decides CallParked {"side":"caller","by":"callee","slot":"1"}`}, func(s string) {
		connected(s)
		w.add(s, 2*time.Second, events.CallParked{Side: events.Callee, By: events.Callee, Slot: "1"})
	})
	damage("call/unparked-not-parked", want{4, replay.KindRefused, errcode.InvalidState, "is not parked"}, func(s string) {
		connected(s)
		w.add(s, 2*time.Second, events.CallUnparked{Party: events.Party{Client: "carol"}})
	})
	damage("call/hold-notice-journaled", want{4, replay.KindNoCommand, "", "never journaled"}, func(s string) {
		connected(s)
		w.add(s, 2*time.Second, events.CallHoldNotAvailable{By: events.Caller, Reason: "no"})
	})
	damage("call/placed-by-a-ghost", want{1, replay.KindLink, "", "placed by transfer ghost, which the journal does not have"}, func(s string) {
		d := toBob
		d.Transfer = "ghost"
		w.add(s, 0, d, bobRings)
	})
	damage("transfer/no-new-call", want{1, replay.KindRefused, errcode.MissingParameter, "refuses the check of TransferInitiated"}, func(s string) {
		w.add(s, 0, events.TransferInitiated{Kind: events.Blind, Call: "live", Kept: events.Caller, Target: alice})
	})
	damage("transfer/blind-answered", want{2, replay.KindFold, "", "answered in state \"placing\""}, func(s string) {
		w.add(s, 0, events.TransferInitiated{Kind: events.Blind, Call: "live", Kept: events.Caller, Target: alice, NewCall: "nc"})
		w.add(s, time.Second, events.TransferAnswered{})
	})
	damage("transfer/completed-without-new-call", want{2, replay.KindLink, "", "call never, the new call, was not dialled by this transfer"}, func(s string) {
		w.add(s, 0, events.TransferInitiated{Kind: events.Blind, Call: "live", Kept: events.Caller, Target: alice, NewCall: "never"})
		w.add(s, time.Second, events.TransferCompleted{})
	})
	damage("transfer/of-a-call-never-made", want{1, replay.KindLink, "", "call nowhere, which it transfers, was not dialled before it"}, func(s string) {
		w.add(s, 0, events.TransferInitiated{Kind: events.Blind, Call: "nowhere", Kept: events.Caller, Target: alice, NewCall: "nc2"})
	})
	damage("transfer/call-event", want{1, replay.KindNoCommand, "", "CallIgnored is not a transfer event"}, func(s string) {
		w.add(s, 0, events.CallIgnored{})
	})
	sales := events.GroupDefined{Name: "Sales", Members: []string{"alice", "bob"}, Strategy: events.RoundRobin}
	damage("group/picks-a-stranger", want{2, replay.KindRefused, errcode.InvalidParams, `"carol" is not a member`}, func(s string) {
		w.add(s, 0, sales)
		w.add(s, time.Second, events.GroupMemberPicked{Member: "carol", Call: "c"})
	})
	damage("group/ring-all-picks", want{2, replay.KindRefused, errcode.InvalidState, "ring-all: it picks no member"}, func(s string) {
		g := sales
		g.Strategy = events.RingAll
		w.add(s, 0, g)
		w.add(s, time.Second, events.GroupMemberPicked{Member: "bob", Call: "c"})
	})
	damage("group/picks-after-removal", want{3, replay.KindRefused, errcode.NotFound, "no group picks-after-removal"}, func(s string) {
		w.add(s, 0, sales)
		w.add(s, time.Second, events.GroupRemoved{})
		w.add(s, 2*time.Second, events.GroupMemberPicked{Member: "bob", Call: "c"})
	})
	sent := events.MessageSent{From: alice, To: "+33144556677", Text: "hello"}
	damage("message/delivered-twice", want{3, replay.KindAfterEnd, "", "the message ended at version 2"}, func(s string) {
		w.add(s, 0, sent)
		w.add(s, time.Second, events.MessageDelivered{})
		w.add(s, 2*time.Second, events.MessageDelivered{})
	})
	damage("message/failed-without-reason", want{2, replay.KindMismatch, "", `decides MessageFailed {"reason":"failed"}`}, func(s string) {
		w.add(s, 0, sent)
		w.add(s, time.Second, events.MessageFailed{})
	})
	damage("message/never-sent", want{1, replay.KindRefused, errcode.NotFound, "no message never-sent"}, func(s string) {
		w.add(s, 0, events.MessageDelivered{})
	})

	l := w.open()
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range r.Divergences {
		seen[d.Stream] = true
		wt, ok := cases[d.Stream]
		if !ok {
			t.Errorf("a healthy stream diverges: %s", d)
			continue
		}
		if d.Version != wt.version || d.Kind != wt.kind || d.Code != wt.code || !strings.Contains(d.Current, wt.current) {
			t.Errorf("%s:\n got  version %d %s %q: %s\n want version %d %s %q: …%s…", d.Stream, d.Version, d.Kind, d.Code, d.Current,
				wt.version, wt.kind, wt.code, wt.current)
		}
		if d.Kind != replay.KindMissing && d.Seq == 0 {
			t.Errorf("%s: no seq", d)
		}
	}
	for s := range cases {
		if !seen[s] {
			t.Errorf("%s: no divergence reported", s)
		}
	}
	if r.OK() || len(r.Divergences) != len(cases) {
		t.Fatalf("%d divergences for %d damaged streams", len(r.Divergences), len(cases))
	}
	for i, d := range r.Divergences {
		if d.Stream != order[i] {
			t.Errorf("divergence %d is of %s, want %s: the report follows the streams' first events", i, d.Stream, order[i])
		}
	}
}

// A journal the current code cannot fold is not listed as if it were fine.
func TestFoldErrorsAreJournalCorrupt(t *testing.T) {
	w := newWriter(t)
	healthy(w)
	w.add("call/held-while-ringing", 0, toBob, bobRings)
	w.add("call/held-while-ringing", time.Second, events.CallHeld{By: events.Caller})
	l := w.open()
	if _, err := l.Calls(replay.Filter{}); errcode.CodeOf(err) != errcode.JournalCorrupt || !strings.Contains(err.Error(), "--verify") {
		t.Errorf("Calls: %v", err)
	}
	if _, err := l.At(t0.Add(time.Minute)); errcode.CodeOf(err) != errcode.JournalCorrupt {
		t.Errorf("At: %v", err)
	}
	if _, err := l.Timeline("held-while-ringing"); errcode.CodeOf(err) != errcode.JournalCorrupt {
		t.Errorf("Timeline: %v", err)
	}
	// The healthy calls still read one by one; before the bad event, At too.
	if steps, err := l.Timeline("ok"); err != nil || len(steps) != 10 {
		t.Errorf("Timeline(ok): %d steps, %v", len(steps), err)
	}
	if s, err := l.At(t0.Add(500 * time.Millisecond)); err != nil || len(s.Calls) != 10 {
		t.Errorf("At before the bad event: %d calls, %v", len(s.Calls), err)
	}
}
