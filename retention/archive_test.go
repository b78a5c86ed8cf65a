package retention_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/retention"
)

var (
	ctx   = context.Background()
	start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC) // when the hand-written journals' events happen
)

// ArchiveJournal on a journal written by hand: a call that a live transfer
// names stays, however old; a transfer goes with its calls (one never
// placed included); a pending message stays.
func TestArchiveJournalKeepsCallsOfLiveTransfers(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(filepath.Join(dir, "journal.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	add := func(stream string, at time.Time, end bool, evs ...events.Event) {
		t.Helper()
		v, err := j.StreamVersion(stream)
		if err != nil {
			t.Fatal(err)
		}
		var recs [][]byte
		for _, ev := range evs {
			recs = append(recs, events.EncodeBody(nil, at.UnixNano(), ev))
		}
		if _, err := j.Append(ctx, stream, v, recs, end); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := events.Party{Client: "alice"}, events.Party{Client: "bob"}
	dialed := events.CallDialed{Caller: alice, Callee: bob, Destination: "102", Direction: events.Internal}
	ended := events.CallEnded{Reason: events.Hangup, By: events.Caller}
	add("call/old", start, false, dialed)
	add("transfer/live", start, false, events.TransferInitiated{Kind: events.Blind, Call: "old", Target: bob, NewCall: "new"})
	add("call/old", start, true, ended)
	add("call/done", start, false, dialed)
	add("transfer/over", start, false, events.TransferInitiated{Kind: events.Blind, Call: "done", Target: bob, NewCall: "never"})
	add("call/done", start, true, ended)
	add("transfer/over", start, true, events.TransferFailed{Reason: "gone"})
	add("transfer/kept", start, false, events.TransferInitiated{Kind: events.Blind, Call: "recent", Target: bob, NewCall: "x"})
	add("transfer/kept", start, true, events.TransferFailed{Reason: "gone"})
	sent := events.MessageSent{From: alice, To: "+33144556677", Text: "hi"}
	add("message/done", start, false, sent)
	add("message/done", start, true, events.MessageDelivered{})
	add("message/pending", start, false, sent)
	add("call/recent", start, false, dialed)
	add("call/recent", start.Add(2*time.Hour), true, ended)
	add("client/alice", start, false, events.ClientRegistered{Name: "Alice"})

	rep, err := retention.ArchiveJournal(ctx, j, filepath.Join(dir, "archive"), start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 1 || rep.KeptCalls != 1 || rep.Transfers != 1 || rep.KeptTransfers != 1 || rep.Messages != 1 || rep.Records != 6 {
		t.Fatalf("report %+v", rep)
	}
	for s, want := range map[string]bool{"call/old": false, "call/done": true, "transfer/over": true, "transfer/kept": false,
		"transfer/live": false, "message/done": true, "message/pending": false, "call/recent": false} {
		if _, got, _ := j.Archived(s); got != want {
			t.Errorf("%s archived: %v, want %v", s, got, want)
		}
	}
	if err := j.Check(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkArchiveJournal10kCalls runs ArchiveJournal (the selection from
// the journal, then journal.Archive) on a journal of 10,000 ended calls of 4
// real events (dialled and ringing, answered, hung up: 3 appends each, from
// 64 writers so that calls interleave), 100 live clients and 100 live calls,
// then compacts it. Metrics: calls and events archived per second, and the
// journal's file size and bbolt in-use bytes before, after archiving and
// after compacting.
func BenchmarkArchiveJournal10kCalls(b *testing.B) {
	const calls = 10000
	tpl := filepath.Join(b.TempDir(), "template.db")
	j, err := journal.Open(tpl, journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	at := start.UnixNano()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < calls; i += 64 {
				caller := events.Party{Client: fmt.Sprintf("client-%03d", i%100), Number: fmt.Sprintf("+1415555%04d", i%100), Name: "Caller Name"}
				callee := events.Party{Client: fmt.Sprintf("client-%03d", (i+1)%100), Number: fmt.Sprintf("+1415555%04d", (i+1)%100), Name: "Callee Name"}
				steps := [][]events.Event{
					{events.CallDialed{Caller: caller, Callee: callee, CallerDevice: "desk", CallerID: caller.Number, Destination: callee.Number, Direction: events.Internal},
						events.CallRinging{Devices: []string{"desk", "mobile"}, Deadline: at + 30e9}},
					{events.CallAnswered{Device: "desk"}},
					{events.CallEnded{Reason: events.Hangup, By: events.Caller}},
				}
				v := uint64(0)
				for k, evs := range steps {
					var recs [][]byte
					for _, ev := range evs {
						recs = append(recs, events.EncodeBody(nil, at, ev))
					}
					if _, err := j.Append(ctx, fmt.Sprintf("call/%016x", i), v, recs, k == 2); err != nil {
						errs <- err
						return
					}
					v += uint64(len(recs))
				}
				if i%100 == 0 {
					live := events.EncodeBody(nil, at, events.CallDialed{Caller: caller, Callee: callee, Direction: events.Internal})
					if _, err := j.Append(ctx, fmt.Sprintf("call/live-%d", i), 0, [][]byte{live}, false); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		reg := events.EncodeBody(nil, at, events.ClientRegistered{Name: "Client", Extensions: []string{fmt.Sprint(100 + i)}})
		if _, err := j.Append(ctx, fmt.Sprintf("client/client-%03d", i), 0, [][]byte{reg}, false); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
	var rep retention.Report
	var ci journal.CompactInfo
	var took time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		path := filepath.Join(dir, "journal.db")
		raw, err := os.ReadFile(tpl)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			b.Fatal(err)
		}
		j, err := journal.Open(path, journal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		rep, err = retention.ArchiveJournal(ctx, j, filepath.Join(dir, "archive"), start.Add(time.Hour))
		took += time.Since(t0)
		b.StopTimer()
		if err != nil || rep.Calls != calls {
			b.Fatalf("%+v %v", rep, err)
		}
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		if ci, err = journal.Compact(ctx, path, filepath.Join(dir, "compact.db")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rep.Calls)*float64(b.N)/took.Seconds(), "calls/s")
	b.ReportMetric(float64(rep.Records)*float64(b.N)/took.Seconds(), "events/s")
	kib := func(x int64) float64 { return float64(x) / 1024 }
	b.ReportMetric(kib(rep.Before.FileBytes), "file-KiB-before")
	b.ReportMetric(kib(rep.Before.InUseBytes), "inuse-KiB-before")
	b.ReportMetric(kib(rep.After.FileBytes), "file-KiB-archived")
	b.ReportMetric(kib(rep.After.InUseBytes), "inuse-KiB-archived")
	b.ReportMetric(kib(ci.After.FileBytes), "file-KiB-compacted")
	b.ReportMetric(kib(ci.After.InUseBytes), "inuse-KiB-compacted")
}
