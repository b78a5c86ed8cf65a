package replay_test

import (
	"context"
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
	w.add("transfer/x", 0, events.CallIgnored{}) // a stream kind this code does not know
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
	damage("call/held-while-ringing", want{3, replay.KindRefused, errcode.InvalidState, "cannot hold"}, func(s string) {
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
	damage("call/transferred", want{4, replay.KindNoCommand, "", "transferred"}, func(s string) {
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
	damage("call/newer-schema", want{2, replay.KindDecode, errcode.Malformed, "schema version 2"}, func(s string) {
		w.add(s, 0, events.CallDialed{Caller: alice, Callee: outside, Direction: events.Outbound})
		body := events.EncodeBody(nil, t0.UnixNano(), events.CallRinging{})
		body[1] = 2 // the schema byte
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
