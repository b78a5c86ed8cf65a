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

// endWriter appends like writer, but ends a stream when told (only ended
// streams can be archived).
type endWriter struct {
	t *testing.T
	j *journal.Journal
}

func (w endWriter) add(stream string, offset time.Duration, end bool, evs ...events.Event) {
	w.t.Helper()
	at := t0.Add(offset).UnixNano()
	recs := make([][]byte, len(evs))
	for i, ev := range evs {
		recs[i] = events.EncodeBody(nil, at, ev)
	}
	v, err := w.j.StreamVersion(stream)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.j.Append(context.Background(), stream, v, recs, end); err != nil {
		w.t.Fatal(err)
	}
}

// transfersWithArchivedCalls writes a blind and an attended transfer whose
// original (and consultation) calls ended while their new calls live on, and
// archives the ended calls: the transfers stay, naming archived calls.
func transfersWithArchivedCalls(t *testing.T) (hot, archive string) {
	dir := t.TempDir()
	hot, archive = filepath.Join(dir, "journal.db"), filepath.Join(dir, "archive-202601.db")
	j, err := journal.Open(hot, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	w := endWriter{t, j}
	shop := events.Party{Number: "+33155555555"}
	w.add("call/first", 0, false, toBob, bobRings)
	w.add("call/first", 2*time.Second, false, events.CallAnswered{Device: "bob-desk"})
	w.add("transfer/blind", 10*time.Second, false, events.TransferInitiated{Kind: events.Blind, Call: "first", Kept: events.Caller,
		Target: shop, Destination: "+33155555555", NewCall: "transit"})
	w.add("call/transit", 10*time.Second, false, events.CallDialed{Caller: alice, Callee: shop, CallerID: "+14155550101", Destination: "+33155555555",
		Direction: events.Transit, Transfer: "blind", CallerLeg: "first"})
	w.add("call/first", 10*time.Second, true, events.CallEnded{Reason: events.Transferred, By: events.Callee})
	w.add("transfer/blind", 10*time.Second, true, events.TransferCompleted{})
	w.add("call/transit", 11*time.Second, false, events.CallRinging{})
	w.add("call/transit", 12*time.Second, false, events.CallAnswered{})

	w.add("call/to-shop", 20*time.Second, false, toBob, bobRings)
	w.add("call/to-shop", 21*time.Second, false, events.CallAnswered{Device: "bob-desk"})
	w.add("transfer/att", 22*time.Second, false, events.TransferInitiated{Kind: events.Attended, Call: "to-shop", Kept: events.Caller,
		Target: shop, Destination: "+33155555555", Consult: "consult", NewCall: "joined"})
	w.add("call/to-shop", 22*time.Second, false, events.CallHeld{By: events.Callee})
	w.add("call/consult", 22*time.Second, false, events.CallDialed{Caller: bob, Callee: shop, CallerDevice: "bob-desk", Destination: "+33155555555",
		Direction: events.Outbound, Transfer: "att"})
	w.add("call/consult", 23*time.Second, false, events.CallAnswered{})
	w.add("transfer/att", 23*time.Second, false, events.TransferAnswered{})
	w.add("call/joined", 30*time.Second, false, events.CallDialed{Caller: alice, Callee: shop, Destination: "+33155555555",
		Direction: events.Outbound, Transfer: "att", CalleeLeg: "consult"}, events.CallAnswered{})
	w.add("call/to-shop", 30*time.Second, true, events.CallEnded{Reason: events.Transferred, By: events.Callee})
	w.add("call/consult", 30*time.Second, true, events.CallEnded{Reason: events.Transferred, By: events.Caller})
	w.add("transfer/att", 30*time.Second, true, events.TransferCompleted{})
	w.add("call/live", 0, false, toBob, bobRings) // last: the tail stays in the journal

	info, err := j.Archive(context.Background(), []string{"call/first", "call/to-shop", "call/consult"}, archive)
	if err != nil {
		t.Fatal(err)
	}
	if info.Streams != 3 {
		t.Fatalf("archived %+v", info)
	}
	return hot, archive
}

func TestVerifyAcceptsReferencesToArchivedStreams(t *testing.T) {
	hot, archive := transfersWithArchivedCalls(t)
	l, err := replay.Open(hot)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	// transfer/blind names call/first; transfer/att names call/to-shop, and
	// its TransferAnswered reports the answer of call/consult.
	if !r.OK() || r.Archived != 3 || r.Streams != 5 {
		t.Fatalf("hot journal: %+v", r)
	}
	var b strings.Builder
	if err := replay.WriteReport(&b, r); err != nil || !strings.Contains(b.String(), "(3 references to archived streams accepted): no divergence") {
		t.Fatalf("report %q (%v)", b.String(), err)
	}
	_, err = l.Timeline("first")
	if errcode.CodeOf(err) != errcode.NotFound || !strings.Contains(err.Error(), "archived to archive-202601.db") {
		t.Fatalf("timeline of an archived call: %v", err)
	}
	if ts, ok, err := l.Archived("call/consult"); err != nil || !ok || ts.Archive != "archive-202601.db" || ts.Version != 3 {
		t.Fatalf("Archived: %+v %v %v", ts, ok, err)
	}
	if a, err := l.IsArchive(); err != nil || a {
		t.Fatalf("the hot journal is an archive? %v %v", a, err)
	}
	if _, err := l.Transfers(replay.Filter{}); err != nil {
		t.Fatalf("transfers of the hot journal: %v", err)
	}

	// The archive file: call/consult names transfer/att, which stayed.
	a, err := replay.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err = a.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Streams != 3 || r.Archived != 1 {
		t.Fatalf("archive: %+v", r)
	}
	if isA, err := a.IsArchive(); err != nil || !isA {
		t.Fatalf("IsArchive %v %v", isA, err)
	}
	steps, err := a.Timeline("to-shop")
	if err != nil || len(steps) != 5 {
		t.Fatalf("timeline from the archive: %d steps, %v", len(steps), err)
	}
}

// Only a tombstone excuses a missing stream in a hot journal.
func TestVerifyStillReportsMissingStreamsThatWereNotArchived(t *testing.T) {
	hot, _ := transfersWithArchivedCalls(t)
	j, err := journal.Open(hot, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := endWriter{t, j}
	w.add("transfer/of-a-ghost", time.Minute, true, events.TransferInitiated{Kind: events.Blind, Call: "nowhere", Kept: events.Caller,
		Target: bob, Destination: "102", NewCall: "x"})
	w.add("call/live", time.Minute, false, events.CallAnswered{Device: "bob-desk"})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := replay.Open(hot)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Divergences) != 1 || r.Divergences[0].Stream != "transfer/of-a-ghost" || r.Divergences[0].Kind != replay.KindLink {
		t.Fatalf("divergences %v", r.Divergences)
	}
}
