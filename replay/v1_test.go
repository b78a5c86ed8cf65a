package replay_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/replay"
)

// openFixture opens a copy of testdata/v1.journal, the journal of the first
// schema version: the committed file is never opened itself.
func openFixture(t testing.TB) *replay.Log {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v1.journal")
	copyFile(t, fixturePath, path)
	l, err := replay.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// fixtureCalls are the fixture's calls in setup order, named by what the
// day did with them (see day in fixture_test.go).
var fixtureCalls = []string{
	"alice→bob held and resumed", "carol→alice rejected", "dave→bob busy", "alice→carol ignored, canceled",
	"bob→dave no answer", "alice→outside answered", "bob→outside busy", "outside→carol inbound",
	"alice→dave failed", "alice→bob live held", "carol→alice live ringing",
}

func fixtureIDs(t *testing.T, l *replay.Log) []string {
	t.Helper()
	calls, err := l.Calls(replay.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != len(fixtureCalls) {
		t.Fatalf("the fixture has %d calls, want %d", len(calls), len(fixtureCalls))
	}
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID
	}
	return ids
}

func TestV1VerifiesWithoutDivergence(t *testing.T) {
	l := openFixture(t)
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		var b bytes.Buffer
		replay.WriteReport(&b, r)
		t.Fatalf("the first schema's journal diverges from the current code:\n%s", b.String())
	}
	// 4 clients and 11 calls; every event of the file verified.
	if r.Streams != 15 || uint64(r.Events) != l.LastSeq() || r.Skipped != 0 {
		t.Errorf("verified %d streams, %d events (skipped %d); want 15 streams and all %d events", r.Streams, r.Events, r.Skipped, l.LastSeq())
	}
}

func TestV1EventsAreSchema1(t *testing.T) {
	l := openFixture(t)
	for _, id := range fixtureIDs(t, l) {
		envs, err := l.Envelopes(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range envs {
			if env.Schema != 1 {
				t.Fatalf("%s: schema %d, want 1", env, env.Schema)
			}
		}
	}
}

func TestV1Calls(t *testing.T) {
	l := openFixture(t)
	calls, err := l.Calls(replay.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := replay.WriteCalls(&b, calls); err != nil {
		t.Fatal(err)
	}
	golden(t, "v1-calls.golden", b.Bytes())

	// What the day did, call by call.
	type want struct {
		state  fsm.CallStatus
		reason events.Reason
		by     events.Side
		missed bool
		dir    events.Direction
	}
	wants := []want{
		{fsm.Ended, events.Hangup, events.Callee, false, events.Internal},
		{fsm.Ended, events.Rejected, events.Callee, false, events.Internal},
		{fsm.Ended, events.Busy, events.Callee, false, events.Internal},
		{fsm.Ended, events.Canceled, events.Caller, true, events.Internal},
		{fsm.Ended, events.NoAnswer, events.NoSide, true, events.Internal},
		{fsm.Ended, events.Hangup, events.Caller, false, events.Outbound},
		{fsm.Ended, events.Busy, events.Callee, false, events.Outbound},
		{fsm.Ended, events.Hangup, events.Caller, false, events.Inbound},
		{fsm.Ended, events.Failed, events.NoSide, false, events.Internal},
		{fsm.Held, 0, 0, false, events.Internal},
		{fsm.Ringing, 0, 0, false, events.Internal},
	}
	for i, c := range calls {
		w := wants[i]
		got := want{c.State, c.Reason, c.EndedBy, c.Missed, c.Direction}
		if got != w {
			t.Errorf("call %d (%s): %+v, want %+v", i+1, fixtureCalls[i], got, w)
		}
		if c.Live != (i >= 9) {
			t.Errorf("call %d (%s): live %v", i+1, fixtureCalls[i], c.Live)
		}
	}
	first := calls[0]
	if first.Duration != 225*time.Second || first.AnsweredDevice != "bob-web" || first.CallerDevice != "alice-desk" || first.Events != 12 {
		t.Errorf("first call: duration %v, answered on %q from %q, %d events", first.Duration, first.AnsweredDevice, first.CallerDevice, first.Events)
	}
	// The live held call's duration runs to the journal's last event (09:55:00).
	if live := calls[9]; live.Duration != 4*time.Minute+58*time.Second {
		t.Errorf("live call duration %v, want 4m58s", live.Duration)
	}
}

func TestV1CallFilters(t *testing.T) {
	l := openFixture(t)
	ids := fixtureIDs(t, l)
	at := func(h, m int) time.Time { return time.Date(2026, 1, 5, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name   string
		filter replay.Filter
		want   []int // indexes into fixtureCalls
	}{
		{"client dave, caller or callee", replay.Filter{Client: "dave"}, []int{2, 4, 8}},
		{"carol's number in another spelling", replay.Filter{Number: "+1 (415) 555-0103"}, []int{1, 3, 7, 10}},
		{"an outside number", replay.Filter{Number: "+442071234567"}, []int{7}},
		{"an extension: dialled, or dave's own number", replay.Filter{Number: "104"}, []int{2, 4, 8}},
		{"busy", replay.Filter{Reason: events.Busy}, []int{2, 6}},
		{"missed by the callee", replay.Filter{Reason: events.Missed}, []int{3, 4}},
		{"since 09:30", replay.Filter{Since: at(9, 30)}, []int{6, 7, 8, 9, 10}},
		{"until 09:12 excludes 09:12", replay.Filter{Until: at(9, 12)}, []int{0, 1}},
		{"09:10 to 09:30, client alice", replay.Filter{Since: at(9, 10), Until: at(9, 30), Client: "alice"}, []int{1, 3, 5}},
		{"no match", replay.Filter{Client: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls, err := l.Calls(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, c := range calls {
				got = append(got, slices.Index(ids, c.ID))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("calls %v, want %v", got, tc.want)
			}
		})
	}
}

func TestV1Timeline(t *testing.T) {
	l := openFixture(t)
	ids := fixtureIDs(t, l)
	steps, err := l.Timeline(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := replay.WriteTimeline(&b, steps); err != nil {
		t.Fatal(err)
	}
	golden(t, "v1-timeline.golden", b.Bytes())

	// Both sides hold at step 9; the caller's resume leaves it held by the callee.
	if s := steps[8].State; s.Status != fsm.Held || !s.HeldByCaller || !s.HeldByCallee {
		t.Errorf("after %s: %s caller %v callee %v", steps[8].Envelope, s.Status, s.HeldByCaller, s.HeldByCallee)
	}
	if s := steps[9].State; s.Status != fsm.Held || s.HeldByCaller || !s.HeldByCallee {
		t.Errorf("after %s: %s caller %v callee %v", steps[9].Envelope, s.Status, s.HeldByCaller, s.HeldByCallee)
	}
	for i, st := range steps {
		if st.Envelope.Version != uint64(i)+1 || st.State.Version != uint64(i)+1 {
			t.Errorf("step %d: envelope version %d, state version %d", i, st.Envelope.Version, st.State.Version)
		}
	}
	envs, err := l.Envelopes(ids[0])
	if err != nil || len(envs) != len(steps) || envs[0].Type != events.TypeCallDialed {
		t.Errorf("Envelopes: %d events, err %v", len(envs), err)
	}
}

func TestV1At(t *testing.T) {
	l := openFixture(t)
	ids := fixtureIDs(t, l)
	// 09:55:05: dave has left, bob's mobile is gone, alice–bob is held, carol's
	// call to alice rings.
	s, err := l.At(time.Date(2026, 1, 5, 9, 55, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := replay.WriteSnapshot(&b, s); err != nil {
		t.Fatal(err)
	}
	golden(t, "v1-at.golden", b.Bytes())
	if len(s.Clients) != 4 || s.Clients[3].ID != "dave" || s.Clients[3].Status != fsm.ClientGone {
		t.Errorf("clients %+v", s.Clients)
	}
	if len(s.Calls) != 11 || s.LiveCalls() != 2 {
		t.Errorf("%d calls, %d live; want 11, 2", len(s.Calls), s.LiveCalls())
	}

	// 09:04:20: only the first call exists, held by both sides; bob still has
	// his mobile and dave is registered.
	s, err = l.At(time.Date(2026, 1, 5, 9, 4, 20, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Calls) != 1 || s.Calls[0].ID != ids[0] || s.Calls[0].State != fsm.Held ||
		!s.Calls[0].HeldByCaller || !s.Calls[0].HeldByCallee || !s.Calls[0].Live {
		t.Fatalf("calls at 09:04:20: %+v", s.Calls)
	}
	if d := s.Calls[0].Duration; d != 137*time.Second {
		t.Errorf("connected for %v at 09:04:20, want 2m17s", d)
	}
	bob := s.Clients[1]
	if bob.ID != "bob" || len(bob.Devices) != 3 || s.Clients[3].Status != fsm.ClientActive {
		t.Errorf("clients at 09:04:20: %+v", s.Clients)
	}

	// Before the day: nothing.
	s, err = l.At(dayStart.Add(-time.Second))
	if err != nil || len(s.Clients) != 0 || len(s.Calls) != 0 {
		t.Errorf("before the day: %+v, %v", s, err)
	}
}

func TestUnknownCallIsNotFound(t *testing.T) {
	l := openFixture(t)
	if _, err := l.Timeline("no-such-call"); !errors.Is(err, errcode.ErrNotFound) {
		t.Errorf("Timeline: %v", err)
	}
	if _, err := l.Envelopes("no-such-call"); !errors.Is(err, errcode.ErrNotFound) {
		t.Errorf("Envelopes: %v", err)
	}
	if _, err := l.Timeline(""); errcode.CodeOf(err) != errcode.MissingParameter {
		t.Errorf("empty id: %v", err)
	}
	if !strings.HasSuffix(l.Path(), "v1.journal") {
		t.Errorf("Path %q", l.Path())
	}
}

// On one core the journal is scanned and folded on the calling goroutine;
// the answers are the same as with a goroutine per core.
func TestOneCoreGivesTheSameAnswers(t *testing.T) {
	l := openFixture(t)
	render := func() string {
		var b bytes.Buffer
		calls, err := l.Calls(replay.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		replay.WriteCalls(&b, calls)
		s, err := l.At(time.Date(2026, 1, 5, 9, 55, 5, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		replay.WriteSnapshot(&b, s)
		r, err := l.Verify()
		if err != nil {
			t.Fatal(err)
		}
		replay.WriteReport(&b, r)
		return b.String()
	}
	many := render()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if one := render(); one != many {
		t.Errorf("one core:\n%s\nevery core:\n%s", one, many)
	}
}
