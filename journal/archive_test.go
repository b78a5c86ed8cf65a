package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// retentionFixture fills j with live clients, live calls and ended calls
// whose records interleave, and returns the names of the ended calls.
func retentionFixture(t testing.TB, j *Journal, ended int) []string {
	t.Helper()
	mustAppend(t, j, "client/alice", 0, false, "registered alice")
	mustAppend(t, j, "client/bob", 0, false, "registered bob")
	var names []string
	for i := 0; i < ended; i++ {
		names = append(names, fmt.Sprintf("call/ended-%02d", i))
	}
	// Interleave: dial every call, then ring, then a live call, then end.
	for _, n := range names {
		mustAppend(t, j, n, 0, false, "dialed "+n)
	}
	mustAppend(t, j, "call/live-1", 0, false, "dialed live-1", "ringing live-1")
	for _, n := range names {
		mustAppend(t, j, n, 1, false, "ringing "+n, "answered "+n)
	}
	mustAppend(t, j, "client/alice", 1, false, "device added")
	for i, n := range names {
		mustAppend(t, j, n, 3, true, fmt.Sprintf("ended %s %s", n, bytes.Repeat([]byte{'x'}, i)))
	}
	must(t, j.SaveSnapshot(bg, names[0], 4, []byte("snapshot of "+names[0])))
	must(t, j.SaveSnapshot(bg, "client/alice", 2, []byte("snapshot of alice")))
	mustAppend(t, j, "call/live-2", 0, false, "dialed live-2")
	return names
}

type streamDump struct {
	recs    []Record
	version uint64
	snap    []byte
}

func dumpStream(t testing.TB, j *Journal, s string) streamDump {
	t.Helper()
	v, err := j.StreamVersion(s)
	must(t, err)
	_, snap, _, err := j.LoadSnapshot(s)
	must(t, err)
	return streamDump{recs: readAll(t, j, s, 0), version: v, snap: snap}
}

func sameRecs(t testing.TB, what string, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Stream != w.Stream || g.Version != w.Version || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("%s record %d: %+v, want %+v", what, i, g, w)
		}
	}
}

func TestArchiveMovesEndedStreams(t *testing.T) {
	for _, flush := range []int{0, 7} { // 0: all in the pending index; 7: flushed every 7 records
		t.Run(fmt.Sprintf("flush%d", flush), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "journal.db")
			j := mustOpen(t, path, Options{flushRecords: flush})
			ended := retentionFixture(t, j, 6)
			archived, keptEnded := ended[:4], ended[4:]
			keep := append([]string{"client/alice", "client/bob", "call/live-1", "call/live-2"}, keptEnded...)
			before := map[string]streamDump{}
			for _, s := range append(slices.Clone(keep), archived...) {
				before[s] = dumpStream(t, j, s)
			}
			all := scanAll(t, j, 1)
			last := j.LastSeq()

			dst := filepath.Join(dir, "archive", "archive-202611.db")
			must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
			info, err := j.Archive(bg, archived, dst)
			must(t, err)
			wantRecs := 0
			for _, s := range archived {
				wantRecs += len(before[s].recs)
			}
			if info.Streams != len(archived) || info.Records != wantRecs || info.Bytes <= 0 || info.Duplicates != 0 || info.Already != 0 {
				t.Fatalf("info %+v, want %d streams, %d records", info, len(archived), wantRecs)
			}
			if info.Before.FileBytes <= 0 || info.Before.InUseBytes <= 0 || info.After.InUseBytes <= 0 {
				t.Fatalf("sizes %+v → %+v", info.Before, info.After)
			}

			check := func(j *Journal) {
				t.Helper()
				for _, s := range keep {
					got := dumpStream(t, j, s)
					sameRecs(t, s, got.recs, before[s].recs)
					if got.version != before[s].version || !bytes.Equal(got.snap, before[s].snap) {
						t.Fatalf("%s: version %d snapshot %q, want %d %q", s, got.version, got.snap, before[s].version, before[s].snap)
					}
				}
				for _, s := range archived {
					if recs := readAll(t, j, s, 0); len(recs) != 0 {
						t.Fatalf("%s still reads %d records", s, len(recs))
					}
					v, err := j.StreamVersion(s)
					must(t, err)
					if v != before[s].version {
						t.Fatalf("%s: StreamVersion %d after archiving, want %d", s, v, before[s].version)
					}
					ts, ok, err := j.Archived(s)
					must(t, err)
					lastRec := before[s].recs[len(before[s].recs)-1]
					if !ok || ts.Archive != "archive-202611.db" || ts.Version != v || ts.LastSeq != lastRec.Seq || ts.Stream != s {
						t.Fatalf("%s: tombstone %+v ok %v", s, ts, ok)
					}
					if _, _, ok, _ := j.LoadSnapshot(s); ok {
						t.Fatalf("%s: snapshot left behind", s)
					}
				}
				if _, ok, err := j.Archived("call/live-1"); ok || err != nil {
					t.Fatalf("live stream has a tombstone (%v)", err)
				}
				var want []Record
				for _, r := range all {
					if !slices.Contains(archived, r.Stream) {
						want = append(want, r)
					}
				}
				sameRecs(t, "scan", scanAll(t, j, 1), want)
				if j.LastSeq() != last {
					t.Fatalf("LastSeq %d, want %d", j.LastSeq(), last)
				}
				must(t, j.Check())
				n := 0
				must(t, j.ArchivedStreams(func(ArchivedStream) error { n++; return nil }))
				if n != len(archived) {
					t.Fatalf("%d tombstones, want %d", n, len(archived))
				}
			}
			check(j)

			// Appending to an archived stream conflicts, whatever the
			// expected version.
			for _, exp := range []uint64{0, before[archived[0]].version} {
				_, err := j.Append(bg, archived[0], exp, [][]byte{[]byte("again")}, false)
				var ae *ArchivedError
				if !errors.As(err, &ae) || !errors.Is(err, ErrConflict) || !errors.Is(err, ErrArchived) || errcode.Classify(err, "") != errcode.Conflict {
					t.Fatalf("append to an archived stream (expected %d): %v", exp, err)
				}
				if ae.Version != before[archived[0]].version || ae.Archive != "archive-202611.db" {
					t.Fatalf("archived error %+v", ae)
				}
			}

			// The archive holds the streams, record for record.
			a, err := Open(dst, Options{ReadOnly: true})
			must(t, err)
			for _, s := range archived {
				sameRecs(t, "archive "+s, readAll(t, a, s, 0), before[s].recs)
				v, err := a.StreamVersion(s)
				must(t, err)
				if v != before[s].version {
					t.Fatalf("archive %s version %d", s, v)
				}
			}
			_, snap, ok, err := a.LoadSnapshot(archived[0])
			if err != nil || !ok || !bytes.Equal(snap, before[archived[0]].snap) {
				t.Fatalf("archive snapshot %q %v %v", snap, ok, err)
			}
			if n := len(scanAll(t, a, 1)); n != wantRecs {
				t.Fatalf("archive scan: %d records, want %d", n, wantRecs)
			}
			if isA, err := a.IsArchiveFile(); err != nil || !isA {
				t.Fatalf("IsArchiveFile %v %v", isA, err)
			}
			if live := liveAll(t, a); len(live) != 0 {
				t.Fatalf("archive has live streams %v", live)
			}
			must(t, a.Check())
			must(t, a.Close())

			// Reopen: the same, and appends go on after the last seq.
			must(t, j.Close())
			j = mustOpen(t, path, Options{flushRecords: flush})
			check(j)
			seq := mustAppend(t, j, "call/live-2", 1, false, "answered live-2")
			if seq != last+1 {
				t.Fatalf("append after reopen got seq %d, want %d", seq, last+1)
			}
			must(t, j.Check())
		})
	}
}

// The journal's last record stays: LastSeq is read from it at Open.
func TestArchiveHoldsBackTheLastRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j := mustOpen(t, path, Options{})
	mustAppend(t, j, "call/0", 0, false, "dialed")
	mustAppend(t, j, "call/0", 1, true, "ended")
	mustAppend(t, j, "client/a", 0, false, "reg")
	mustAppend(t, j, "call/1", 0, false, "dialed")
	mustAppend(t, j, "call/1", 1, true, "ended") // seq 5, the last
	dst := filepath.Join(dir, "a.db")
	info, err := j.Archive(bg, []string{"call/0", "call/1"}, dst)
	must(t, err)
	if info.Streams != 1 || !slices.Equal(info.HeldBack, []string{"call/1"}) || info.Records != 2 {
		t.Fatalf("info %+v, want call/0 archived and call/1 held back", info)
	}
	if _, ok, _ := j.Archived("call/1"); ok || len(readAll(t, j, "call/1", 0)) != 2 {
		t.Fatal("call/1 was archived")
	}
	must(t, j.Check())
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	if j.LastSeq() != 5 {
		t.Fatalf("LastSeq %d after reopen, want 5", j.LastSeq())
	}
	// Once anything else is appended, it goes.
	if seq := mustAppend(t, j, "client/a", 1, false, "more"); seq != 6 {
		t.Fatalf("next seq %d, want 6", seq)
	}
	info, err = j.Archive(bg, []string{"call/1"}, dst)
	must(t, err)
	if info.Streams != 1 || len(info.HeldBack) != 0 {
		t.Fatalf("second archive %+v", info)
	}
	must(t, j.Close())
	j = mustOpen(t, path, Options{ReadOnly: true})
	must(t, j.Check())
	if j.LastSeq() != 6 {
		t.Fatalf("LastSeq %d, want 6", j.LastSeq())
	}
	expectRecords(t, scanAll(t, j, 1), "client/a", 1, "reg", "more")
	a := mustOpen(t, dst, Options{ReadOnly: true})
	must(t, a.Check())
	if got := scanAll(t, a, 1); len(got) != 4 || got[0].Seq != 1 || got[3].Seq != 5 {
		t.Fatalf("archive scan %+v", got)
	}
}

// fileBytes returns the contents of path.
func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

func TestArchiveRefusesLiveAndUnknownStreams(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j := mustOpen(t, path, Options{})
	ended := retentionFixture(t, j, 3)
	all := scanAll(t, j, 1)
	dst := filepath.Join(dir, "archive.db")
	for _, c := range []struct {
		streams []string
		code    errcode.Code
		cause   error
	}{
		{[]string{ended[0], "call/live-1"}, errcode.InvalidState, ErrStreamLive},
		{[]string{"client/alice", ended[1]}, errcode.InvalidState, ErrStreamLive},
		{[]string{ended[0], "call/nope"}, errcode.NotFound, ErrStreamUnknown},
		{[]string{""}, errcode.InvalidParams, nil},
	} {
		_, err := j.Archive(bg, c.streams, dst)
		if errcode.CodeOf(err) != c.code || c.cause != nil && !errors.Is(err, c.cause) {
			t.Fatalf("Archive(%q): %v, want %s", c.streams, err, c.code)
		}
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused Archive created the archive file (%v)", err)
	}
	sameRecs(t, "scan", scanAll(t, j, 1), all)
	for _, s := range ended {
		if _, ok, _ := j.Archived(s); ok {
			t.Fatalf("%s archived by a refused Archive", s)
		}
	}
	// dst may not be the journal itself, nor another journal.
	_, err := j.Archive(bg, ended[:1], path)
	if errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("archive onto itself: %v", err)
	}
	other := filepath.Join(dir, "other.db")
	o := mustOpen(t, other, Options{})
	mustAppend(t, o, "x", 0, false, "x")
	must(t, o.Close())
	otherBytes := fileBytes(t, other)
	_, err = j.Archive(bg, ended[:1], other)
	if errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("archive into a journal: %v", err)
	}
	if !bytes.Equal(fileBytes(t, other), otherBytes) {
		t.Fatal("the other journal was changed")
	}
	// A read-only journal cannot archive.
	must(t, j.Close())
	r := mustOpen(t, path, Options{ReadOnly: true})
	if _, err := r.Archive(bg, ended[:1], dst); errcode.CodeOf(err) != errcode.Unavailable || !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only archive: %v", err)
	}
	must(t, r.Check())
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	out, err := os.Create(dst)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}

// A crash between the copy and the delete leaves the records in both files:
// simulated by putting back the hot journal as it was before Archive, with
// the archive file as Archive left it.
func TestArchiveAgainAfterACrashBetweenCopyAndDelete(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j := mustOpen(t, path, Options{})
	ended := retentionFixture(t, j, 5)
	must(t, j.Close())
	copyFile(t, path, path+".before")

	dst := filepath.Join(dir, "archive.db")
	j = mustOpen(t, path, Options{})
	first, err := j.Archive(bg, ended[:3], dst)
	must(t, err)
	must(t, j.Close())
	a := mustOpen(t, dst, Options{ReadOnly: true})
	archived := len(scanAll(t, a, 1))
	must(t, a.Close())

	// The crash: the hot journal never saw the delete.
	must(t, os.Rename(path+".before", path))
	j = mustOpen(t, path, Options{})
	if _, ok, _ := j.Archived(ended[0]); ok {
		t.Fatal("restored journal has a tombstone")
	}
	// Archive again, the same streams and one more.
	again, err := j.Archive(bg, ended[:4], dst)
	must(t, err)
	if again.Duplicates != first.Records || again.Streams != 4 {
		t.Fatalf("second archive %+v, want %d duplicates", again, first.Records)
	}
	must(t, j.Check())
	a = mustOpen(t, dst, Options{ReadOnly: true})
	must(t, a.Check())
	got := scanAll(t, a, 1)
	if want := archived + len(readAll(t, a, ended[3], 0)); len(got) != want {
		t.Fatalf("archive holds %d records, want %d (no duplicates)", len(got), want)
	}
	for _, s := range ended[:4] {
		if v, _ := a.StreamVersion(s); v != 4 {
			t.Fatalf("archive %s version %d", s, v)
		}
	}
	must(t, a.Close())
	// Asking again for streams archived already does nothing.
	info, err := j.Archive(bg, ended[:2], dst)
	must(t, err)
	if info.Already != 2 || info.Streams != 0 || info.Records != 0 {
		t.Fatalf("archive of archived streams: %+v", info)
	}
}

func TestArchiveAppendsToAnExistingArchive(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, filepath.Join(dir, "journal.db"), Options{flushRecords: 5})
	ended := retentionFixture(t, j, 6)
	dst := filepath.Join(dir, "archive.db")
	for _, part := range [][]string{ended[3:], ended[:3]} { // later seqs first
		_, err := j.Archive(bg, part, dst)
		must(t, err)
	}
	must(t, j.Check())
	a := mustOpen(t, dst, Options{ReadOnly: true})
	must(t, a.Check())
	for _, s := range ended {
		if got := readAll(t, a, s, 0); len(got) != 4 || got[3].Version != 4 {
			t.Fatalf("archive %s: %+v", s, got)
		}
	}
}

func TestArchiveWhileAppending(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j := mustOpen(t, path, Options{flushRecords: 50})
	var ended []string
	for i := 0; i < 200; i++ {
		s := streamName(i)
		mustAppend(t, j, s, 0, false, "a", "b")
		mustAppend(t, j, s, 2, true, "c")
		ended = append(ended, s)
	}
	mustAppend(t, j, "client/first", 0, false, "x") // the last record is not an ended stream's
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	var versions sync.Map
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := fmt.Sprintf("client/%d", w)
			for v := uint64(0); ctx.Err() == nil; v++ {
				if _, err := j.Append(bg, s, v, [][]byte{[]byte("x")}, false); err != nil {
					t.Error(err)
					return
				}
				versions.Store(s, v+1)
			}
		}(w)
	}
	dst := filepath.Join(dir, "archive.db")
	for i := 0; i < len(ended); i += 40 {
		_, err := j.Archive(bg, ended[i:i+40], dst)
		must(t, err)
	}
	cancel()
	wg.Wait()
	must(t, j.Check())
	versions.Range(func(k, v any) bool {
		if got := len(readAll(t, j, k.(string), 0)); uint64(got) != v.(uint64) {
			t.Fatalf("%s: %d records, want %d", k, got, v)
		}
		return true
	})
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	must(t, j.Check())
	a := mustOpen(t, dst, Options{ReadOnly: true})
	if n := len(scanAll(t, a, 1)); n != 3*len(ended) {
		t.Fatalf("archive holds %d records, want %d", n, 3*len(ended))
	}
}

func TestEndedListsEndedStreams(t *testing.T) {
	for _, flush := range []int{0, 3} {
		j := mustOpen(t, tempPath(t), Options{flushRecords: flush})
		ended := retentionFixture(t, j, 4)
		got := map[string]Record{}
		must(t, j.Ended([]string{"call/"}, func(r Record) error { got[r.Stream] = r; return nil }))
		if len(got) != len(ended) {
			t.Fatalf("flush %d: Ended listed %v, want %v", flush, got, ended)
		}
		for _, s := range ended {
			r := got[s]
			if r.Version != 4 || !bytes.HasPrefix(r.Data, []byte("ended "+s)) {
				t.Fatalf("%s: last record %+v", s, r)
			}
		}
		_, err := j.Archive(bg, ended[:2], filepath.Join(t.TempDir(), "a.db"))
		must(t, err)
		n := 0
		must(t, j.Ended(nil, func(r Record) error { n++; return nil }))
		if n != 2 {
			t.Fatalf("flush %d: %d ended streams after archiving 2 of 4", flush, n)
		}
	}
}

func TestCompactShrinksTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j := mustOpen(t, path, Options{})
	big := bytes.Repeat([]byte("call event payload "), 10)
	ended := appendEnded(t, j, 2000, 0, [][]byte{big, big, big})
	mustAppend(t, j, "client/keep", 0, false, "kept")
	info, err := j.Archive(bg, ended, filepath.Join(dir, "archive.db"))
	must(t, err)
	if info.After.InUseBytes >= info.Before.InUseBytes/2 || info.After.FileBytes < info.Before.FileBytes {
		t.Fatalf("archive: in use %d → %d, file %d → %d", info.Before.InUseBytes, info.After.InUseBytes, info.Before.FileBytes, info.After.FileBytes)
	}
	last := j.LastSeq()
	// Compact refuses while the journal is held.
	if _, err := Compact(bg, path, filepath.Join(dir, "c.db")); errcode.CodeOf(err) != errcode.Unavailable || !errors.Is(err, ErrLocked) {
		t.Fatalf("compact of a held journal: %v", err)
	}
	must(t, j.Close())
	ci, err := Compact(bg, path, filepath.Join(dir, "c.db"))
	must(t, err)
	if ci.After.FileBytes >= info.After.FileBytes/4 || ci.Records != 1 || ci.LastSeq != last || ci.Live != 1 {
		t.Fatalf("compact %+v (file after archive %d)", ci, info.After.FileBytes)
	}
	c := mustOpen(t, filepath.Join(dir, "c.db"), Options{})
	must(t, c.Check())
	expectRecords(t, scanAll(t, c, 1), "client/keep", 1, "kept")
	if v, _ := c.StreamVersion(ended[7]); v != 3 {
		t.Fatalf("compacted copy lost the tombstones: version %d", v)
	}
	if seq := mustAppend(t, c, "client/keep", 1, false, "more"); seq != last+1 {
		t.Fatalf("append to the compacted journal: seq %d, want %d", seq, last+1)
	}
	t.Logf("archive: file %d → %d bytes, in use %d → %d; compact: file %d, in use %d",
		info.Before.FileBytes, info.After.FileBytes, info.Before.InUseBytes, info.After.InUseBytes, ci.After.FileBytes, ci.After.InUseBytes)
	if _, err := Compact(bg, filepath.Join(dir, "nope.db"), filepath.Join(dir, "d.db")); errcode.CodeOf(err) != errcode.NotFound {
		t.Fatalf("compact of nothing: %v", err)
	}
	if _, err := Compact(bg, path, path); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("compact onto itself: %v", err)
	}
}

// A journal written before retention existed (no archived bucket) opens and
// verifies as before; Archive then adds the bucket.
func TestArchiveOnAJournalWithoutTheBucket(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	ended := retentionFixture(t, j, 2)
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	if _, ok, err := j.Archived(ended[0]); ok || err != nil {
		t.Fatalf("Archived on a journal without tombstones: %v %v", ok, err)
	}
	must(t, j.Check())
	_, err := j.Archive(bg, ended, filepath.Join(t.TempDir(), "a.db"))
	must(t, err)
	must(t, j.Check())
}

// appendEnded appends n ended streams (from streamName(from)) of recs each,
// from 32 goroutines (group commit), and returns their names.
func appendEnded(t testing.TB, j *Journal, n, from int, recs [][]byte) []string {
	t.Helper()
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				names[i] = streamName(from + i)
				if _, err := j.Append(bg, names[i], 0, recs, true); err != nil {
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
	return names
}

// A hot copy of a journal with archived streams verifies (holes and
// tombstones included) and ends at the same seq.
func TestHotCopyAfterArchive(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, filepath.Join(dir, "journal.db"), Options{})
	ended := retentionFixture(t, j, 4)
	_, err := j.Archive(bg, ended[:3], filepath.Join(dir, "archive.db"))
	must(t, err)
	info, err := j.HotCopy(bg, filepath.Join(dir, "copy.db"), CopyOptions{})
	must(t, err)
	if !info.Checked || info.LastSeq != j.LastSeq() {
		t.Fatalf("copy %+v, journal at %d", info, j.LastSeq())
	}
	c := mustOpen(t, filepath.Join(dir, "copy.db"), Options{ReadOnly: true})
	if _, ok, _ := c.Archived(ended[0]); !ok {
		t.Fatal("the copy has no tombstone")
	}
}
