package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/internal/aggregate"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

// lockedBuffer collects an engine's logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// retentionHarness is the usual harness with a retention configuration and
// a logger; reopen closes the engine and opens it again.
func retentionHarness(t *testing.T, retain time.Duration) (h *harness, logs *lockedBuffer, reopen func()) {
	t.Helper()
	logs = &lockedBuffer{}
	h = &harness{t: t, dir: t.TempDir(), clock: clock.NewVirtual(start)}
	h.lb = loopback.New(h.clock)
	open := func(ids ids.Source) {
		cfg := h.config()
		cfg.IDs = ids
		cfg.RetainEnded = retain
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		e, err := engine.Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		h.e = e
	}
	open(&ids.Sequence{Prefix: "c"})
	t.Cleanup(func() { h.e.Close() })
	reopen = func() {
		t.Helper()
		ids := h.e.Config().IDs
		if err := h.e.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		open(ids)
	}
	return h, logs, reopen
}

func archivedTo(t *testing.T, j *journal.Journal, call string) string {
	t.Helper()
	ts, ok, err := j.Archived(events.CallStream(call))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	return ts.Archive
}

func TestRetentionArchivesEndedCalls(t *testing.T) {
	h, _, reopen := retentionHarness(t, 0)
	ok := must[engine.Call](t)
	for i, id := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina"} {
		h.register(id, fmt.Sprint(101+i), nil, id[:1]+"1")
	}
	// An hour and more ago: two plain calls, a message, an attended transfer
	// whose calls all ended, and a blind transfer whose new call lives on.
	c1 := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, c1.ID, "b1"))
	ok(h.e.Hangup(ctx, c1.ID, engine.Caller))
	c2 := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"}))
	ok(h.e.Reject(ctx, c2.ID, false))
	msg := must[engine.Message](t)(h.e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: "102", Text: "lunch?"}))

	x := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, x.ID, "b1"))
	att := must[engine.Transfer](t)(h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "carol"}))
	h.waitCall(att.Consult, engine.Ringing)
	ok(h.e.Answer(ctx, att.Consult, "c1"))
	h.waitTransfer(att.ID, fsm.Answered)
	att = must[engine.Transfer](t)(h.e.CompleteTransfer(ctx, att.ID))
	y := h.waitCall(att.NewCall, engine.Connected)
	ok(h.e.Hangup(ctx, y.ID, engine.Callee))
	h.waitCall(x.ID, engine.Ended)
	h.waitCall(att.Consult, engine.Ended)

	x2 := ok(h.e.Dial(ctx, engine.DialRequest{From: "dave", To: "105"}))
	ok(h.e.Answer(ctx, x2.ID, "e1"))
	blind := must[engine.Transfer](t)(h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x2.ID, Side: engine.Caller, To: "106"}))
	h.waitCall(x2.ID, engine.Ended)
	h.waitCall(blind.NewCall, engine.Ringing)
	ok(h.e.Answer(ctx, blind.NewCall, "f1")) // dave ↔ frank: live
	h.waitTransfer(blind.ID, fsm.Completed)

	h.clock.Advance(2 * time.Hour)
	// Recent: an ended call and a live one.
	c3 := ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "107"}))
	ok(h.e.Hangup(ctx, c3.ID, engine.Caller))
	live := ok(h.e.Dial(ctx, engine.DialRequest{From: "carol", To: "107"}))
	ok(h.e.Answer(ctx, live.ID, "g1"))

	j := h.e.Journal()
	lastSeq := j.LastSeq()
	rep, err := h.e.Archive(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wantFile := filepath.Join(h.dir, "archive", "archive-202611.db")
	if rep.File != wantFile || rep.Calls != 6 || rep.Transfers != 1 || rep.Messages != 1 ||
		rep.KeptTransfers != 1 || rep.KeptCalls != 0 || rep.HeldBack != 0 || rep.Records == 0 {
		t.Fatalf("report %+v", rep)
	}
	if !rep.Cutoff.Equal(start.Add(time.Hour)) || rep.Before.InUseBytes == 0 || rep.After.FileBytes != rep.Before.FileBytes {
		t.Fatalf("cutoff %v, sizes %+v → %+v", rep.Cutoff, rep.Before, rep.After)
	}
	t.Logf("archived %d calls, %d transfers, %d messages, %d events (%d bytes); in use %d → %d bytes of a %d-byte file",
		rep.Calls, rep.Transfers, rep.Messages, rep.Records, rep.Bytes, rep.Before.InUseBytes, rep.After.InUseBytes, rep.After.FileBytes)
	for _, id := range []string{c1.ID, c2.ID, x.ID, att.Consult, y.ID, x2.ID} {
		if archivedTo(t, j, id) != "archive-202611.db" {
			t.Fatalf("call %s was not archived", id)
		}
		_, err := h.e.Call(ctx, id)
		wantCode(t, err, errcode.NotFound)
	}
	for _, id := range []string{c3.ID, live.ID, blind.NewCall} {
		if archivedTo(t, j, id) != "" {
			t.Fatalf("call %s was archived", id)
		}
	}
	if _, ok, _ := j.Archived(events.TransferStream(blind.ID)); ok {
		t.Fatal("the blind transfer went while its new call lives")
	}
	if _, ok, _ := j.Archived(engine.MessageStreamPrefix + msg.ID); !ok {
		t.Fatal("the message stayed")
	}
	if err := j.Check(); err != nil {
		t.Fatal(err)
	}
	if j.LastSeq() != lastSeq {
		t.Fatalf("LastSeq %d → %d", lastSeq, j.LastSeq())
	}
	// The engine goes on: the live calls answer commands.
	ok(h.e.Hold(ctx, live.ID, engine.Caller))
	ok(h.e.Resume(ctx, live.ID, engine.Caller))
	// Nothing more is due.
	again, err := h.e.Archive(ctx, time.Hour)
	if err != nil || again.File != "" || again.Calls != 0 || again.KeptTransfers != 1 {
		t.Fatalf("second archive %+v %v", again, err)
	}

	// Closed: the hot journal verifies with the current code (the kept blind
	// transfer names its archived original call), so does the archive.
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{h.dir, wantFile} {
		l, err := replay.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := l.Verify()
		l.Close()
		if err != nil || !r.OK() {
			t.Fatalf("verify %s: %+v %v", path, r, err)
		}
		t.Logf("%s: %d streams, %d events, %d references to archived streams", filepath.Base(path), r.Streams, r.Events, r.Archived)
	}
	a, err := journal.Open(wantFile, journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := aggregate.LoadCall(a, c1.ID)
	if err != nil || c.Status != fsm.Ended || c.Version == 0 {
		t.Fatalf("archived call folds to %+v (%v)", c, err)
	}
	a.Close()

	// Open again: live calls come back, archived ones stay gone.
	reopen()
	if n := h.e.LiveCalls(); n != 2 {
		t.Fatalf("%d live calls after reopen, want 2", n)
	}
	h.waitCall(live.ID, engine.Connected)
	h.waitCall(blind.NewCall, engine.Connected)
	if got := h.waitCall(c3.ID, engine.Ended); got.Reason != events.Canceled {
		t.Fatalf("recent call %+v", got)
	}
	_, err = h.e.Call(ctx, c1.ID)
	wantCode(t, err, errcode.NotFound)
	// A new call never takes an archived call's id.
	nc := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	if archivedTo(t, h.e.Journal(), nc.ID) != "" {
		t.Fatalf("new call %s reuses an archived id", nc.ID)
	}
}

func TestRetentionRunsOnTheEngineClock(t *testing.T) {
	if p := engine.RetentionPeriod(time.Hour); p != 6*time.Minute {
		t.Fatalf("period of 1h: %v", p)
	}
	if engine.RetentionPeriod(time.Minute) != time.Minute || engine.RetentionPeriod(30*24*time.Hour) != time.Hour {
		t.Fatal("the period is not clamped to [1 min, 1 h]")
	}
	h, logs, reopen := retentionHarness(t, time.Hour)
	ok := must[engine.Call](t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	old := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, old.ID, "b1"))
	ok(h.e.Hangup(ctx, old.ID, engine.Callee))
	live := ok(h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(h.e.Answer(ctx, live.ID, "b1"))

	h.clock.Advance(59 * time.Minute) // runs at 6, 12, … 54 min: not due yet
	if archivedTo(t, h.e.Journal(), old.ID) != "" {
		t.Fatal("archived before its time")
	}
	if !strings.Contains(logs.String(), "retention: nothing to archive") {
		t.Fatalf("logs:\n%s", logs)
	}
	h.clock.Advance(10 * time.Minute) // the run at 66 min: cutoff 6 min
	if got := archivedTo(t, h.e.Journal(), old.ID); got != "archive-202611.db" {
		t.Fatalf("not archived by the periodic run (%q); logs:\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "retention: archived") || !strings.Contains(logs.String(), "calls=1") {
		t.Fatalf("logs:\n%s", logs)
	}
	h.waitCall(live.ID, engine.Connected)

	// Close stops it; the engine's timers are gone with it.
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := h.e.Archive(ctx, time.Hour)
	wantCode(t, err, errcode.Closed)
	before := logs.String()
	h.clock.Advance(3 * time.Hour)
	if strings.Contains(strings.TrimPrefix(logs.String(), before), "retention") {
		t.Fatalf("retention ran after Close:\n%s", strings.TrimPrefix(logs.String(), before))
	}
	reopen()
	if n := h.e.LiveCalls(); n != 1 {
		t.Fatalf("%d live calls after reopen", n)
	}
}
