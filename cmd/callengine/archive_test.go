package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
	"github.com/callengine/callengine/retention"
)

func runArchive(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"archive"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// archiveStart is when the hand-written journals' calls happen.
var archiveStart = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// writeEndedCalls writes n ended calls (dialled, answered, hung up at
// archiveStart), from 16 goroutines, a live call and a client registered
// last.
func writeEndedCalls(t *testing.T, path string, n int) {
	t.Helper()
	j, err := journal.Open(path, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	at := archiveStart.UnixNano()
	alice, bob := events.Party{Client: "alice"}, events.Party{Client: "bob"}
	dialed := events.EncodeBody(nil, at, events.CallDialed{Caller: alice, Callee: bob, Destination: "102", Direction: events.Internal})
	answered := events.EncodeBody(nil, at, events.CallAnswered{Device: "b1"})
	ended := events.EncodeBody(nil, at, events.CallEnded{Reason: events.Hangup, By: events.Caller})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				s := fmt.Sprintf("call/old-%05d", i)
				if _, err := j.Append(ctx, s, 0, [][]byte{dialed, answered}, false); err != nil {
					errs <- err
					return
				}
				if _, err := j.Append(ctx, s, 2, [][]byte{ended}, true); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := j.Append(ctx, "call/live", 0, [][]byte{dialed, answered}, false); err != nil {
		t.Fatal(err)
	}
	reg := events.EncodeBody(nil, at, events.ClientRegistered{Name: "Alice"})
	if _, err := j.Append(ctx, "client/alice", 0, [][]byte{reg}, false); err != nil {
		t.Fatal(err)
	}
}

func TestArchiveCommandOfAStoppedEngine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e := engineWithCalls(t, dir) // two ended calls, one live, on the wall clock
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(2 * time.Hour)
	code, out, errs := runArchive(t, "--data", dir, "--older-than", "1h", "--now", now.Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	file := filepath.Join(dir, "archive", retention.ArchiveFileName(now.Add(-time.Hour)))
	for _, want := range []string{"archived 2 calls, 0 transfers, 0 messages", file, "before", "--compact shrinks it"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)
	// The archive replays; the engine opens on what stays.
	l, err := replay.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := l.Calls(replay.Filter{})
	l.Close()
	if err != nil || len(calls) != 2 {
		t.Fatalf("archive holds %d calls (%v)", len(calls), err)
	}
	// `callengine replay` reads both files; the hot journal says where an
	// archived call went.
	for _, args := range [][]string{{file, "--verify"}, {dir, "--verify"}, {file, "--call", calls[0].ID}} {
		var o, eb bytes.Buffer
		if code := run(context.Background(), append([]string{"replay"}, args...), &o, &eb); code != 0 {
			t.Fatalf("replay %q: exit %d\n%s%s", args, code, o.String(), eb.String())
		}
	}
	var o, eb bytes.Buffer
	if code := run(context.Background(), []string{"replay", dir, "--call", calls[0].ID}, &o, &eb); code != 2 ||
		!strings.Contains(eb.String(), "was archived to "+filepath.Base(file)) {
		t.Fatalf("replay of an archived call in the hot journal: exit %d\n%s", code, eb.String())
	}
	e, err = engine.Open(context.Background(), engine.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.LiveCalls() != 1 || e.Restored().Clients != 2 {
		t.Fatalf("restored %+v", e.Restored())
	}
	// Nothing is due any more.
	e.Close()
	code, out, _ = runArchive(t, "--data", dir, "--older-than", "1h", "--now", now.Format(time.RFC3339))
	if code != 0 || !strings.Contains(out, "nothing archived") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestArchiveCommandCompacts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	writeEndedCalls(t, path, 3000)
	st, _ := os.Stat(path)
	code, out, errs := runArchive(t, "--journal", path, "--older-than", "720h",
		"--now", archiveStart.Add(31*24*time.Hour).Format(time.RFC3339), "--compact", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got archiveOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.Archive.Calls != 3000 || got.Archive.Records != 9000 || got.Compact == nil || got.Backup != "" {
		t.Fatalf("outcome %+v", got)
	}
	before, archived, compacted := got.Sizes["before"], got.Sizes["archived"], got.Sizes["compacted"]
	if before.FileBytes != st.Size() || archived.FileBytes < before.FileBytes || archived.InUseBytes >= before.InUseBytes ||
		compacted.FileBytes >= archived.FileBytes/4 {
		t.Fatalf("sizes %+v", got.Sizes)
	}
	t.Logf("file %d → %d → %d bytes; in use %d → %d → %d", before.FileBytes, archived.FileBytes, compacted.FileBytes,
		before.InUseBytes, archived.InUseBytes, compacted.InUseBytes)
	if _, err := os.Stat(path + ".bak"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old journal is still there (%v)", err)
	}
	if st, _ := os.Stat(path); st.Size() != compacted.FileBytes {
		t.Fatalf("journal.db is %d bytes, the compacted copy %d", st.Size(), compacted.FileBytes)
	}
	j, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Check(); err != nil {
		t.Fatal(err)
	}
	live := 0
	_ = j.Live(func(string, uint64) error { live++; return nil })
	if live != 2 || j.LastSeq() != 9003 {
		t.Fatalf("%d live streams, last seq %d", live, j.LastSeq())
	}
	if v, _ := j.StreamVersion("call/old-00042"); v != 3 {
		t.Fatalf("archived call version %d in the compacted journal", v)
	}
	a, err := replay.Open(got.Archive.File)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.LastSeq() != 9000 {
		t.Fatalf("archive ends at seq %d", a.LastSeq())
	}
	// Text output of the same kind of run.
	path2 := filepath.Join(t.TempDir(), "journal.db")
	writeEndedCalls(t, path2, 20)
	code, out, errs = runArchive(t, "--journal", path2, "--older-than", "1h", "--now", archiveStart.Add(2*time.Hour).Format(time.RFC3339Nano), "--compact")
	if code != 0 || !strings.Contains(out, "archived 20 calls") || !strings.Contains(out, "compacted") {
		t.Fatalf("exit %d:\n%s%s", code, out, errs)
	}
	t.Logf("\n%s", out)
}

func TestArchiveCommandRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e := engineWithCalls(t, dir)
	defer e.Close()
	journalBefore := e.Journal().LastSeq()
	code, _, errs := runArchive(t, "--data", dir, "--older-than", "1h")
	if code != 2 || !strings.Contains(errs, "unavailable") || !strings.Contains(errs, "held by another process") {
		t.Fatalf("archive of a held journal: exit %d: %s", code, errs)
	}
	if e.Journal().LastSeq() != journalBefore {
		t.Fatal("the journal changed")
	}
	e.Close()

	// An old .bak stops --compact before anything is done.
	if err := os.WriteFile(filepath.Join(dir, "journal.db.bak"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runArchive(t, "--data", dir, "--older-than", "1h", "--now", time.Now().Add(3*time.Hour).Format(time.RFC3339), "--compact")
	if code != 1 || !strings.Contains(errs, "invalid_state") || !strings.Contains(errs, "journal.db.bak exists") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "archive")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("something was archived")
	}

	code, _, errs = runArchive(t, "--data", filepath.Join(dir, "nope"), "--older-than", "1h")
	if code != 2 || !strings.Contains(errs, "not_found") {
		t.Fatalf("missing journal: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a journal was created")
	}
	for _, args := range [][]string{
		{"--data", dir},
		{"--data", dir, "--older-than", "-1h"},
		{"--older-than", "1h"},
		{"--data", dir, "--journal", "x", "--older-than", "1h"},
		{"--data", dir, "--older-than", "1h", "--now", "yesterday"},
		{"--data", dir, "--older-than", "1h", "extra"},
	} {
		if code, _, _ := runArchive(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := runArchive(t, "--help"); code != 0 || !strings.Contains(out, "--older-than") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
}
