package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// readStreamsAll reads names with ReadStreams, copying each record's data.
func readStreamsAll(t testing.TB, j *Journal, names []string) map[int][]Record {
	t.Helper()
	out := map[int][]Record{}
	last := -1
	err := j.ReadStreams(names, func(i int, r Record) error {
		if i < last {
			t.Fatalf("stream %d after stream %d", i, last)
		}
		last = i
		if r.Stream != names[i] {
			t.Fatalf("record of %q given as stream %d (%q)", r.Stream, i, names[i])
		}
		r.Data = slices.Clone(r.Data) // valid only in the callback
		out[i] = append(out[i], r)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadStreams: %v", err)
	}
	return out
}

// ReadStreams reads what ReadStream reads, stream after stream: short and
// long streams (across chunks), unknown ones, records in the on-disk index
// and in the pending one.
func TestReadStreamsMatchesReadStream(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{flushRecords: 500})
	var names []string
	for i := 0; i < 3000; i++ {
		s := streamName(i)
		n := 1 + i%4
		switch i {
		case 7, 1500:
			n = chunkRecords + 300 // longer than a chunk
		case 2999:
			n = 2 * chunkRecords
		}
		for v := 0; v < n; {
			k := min(50, n-v)
			var recs []string
			for r := 0; r < k; r++ {
				recs = append(recs, fmt.Sprintf("%d.%d", i, v+r+1))
			}
			mustAppend(t, j, s, uint64(v), i%10 == 9 && v+k == n, recs...)
			v += k
		}
		names = append(names, s)
		if i%500 == 3 {
			names = append(names, fmt.Sprintf("unknown/%d", i))
		}
	}
	j.pend.mu.RLock()
	pending := j.pend.records
	j.pend.mu.RUnlock()
	if pending == 0 || j.Stats().IndexFlushes == 0 {
		t.Fatalf("want records in both indexes: %+v, pending %d", j.Stats(), pending)
	}
	got := readStreamsAll(t, j, names)
	for i, s := range names {
		want := readAll(t, j, s, 0)
		if len(got[i]) != len(want) {
			t.Fatalf("%s: %d records, ReadStream has %d", s, len(got[i]), len(want))
		}
		for k := range want {
			if g, w := got[i][k], want[k]; g.Seq != w.Seq || g.Version != w.Version || string(g.Data) != string(w.Data) {
				t.Fatalf("%s record %d: %+v, want %+v", s, k, g, w)
			}
		}
	}
	// The same after a reopen rebuilt the pending index.
	must(t, j.Close())
	j = mustOpen(t, j.path, Options{})
	if again := readStreamsAll(t, j, names); len(again) != len(got) {
		t.Fatalf("after reopen: %d streams, want %d", len(again), len(got))
	}
	// An error of the callback stops the read and is returned.
	stop := errors.New("stop")
	calls := 0
	if err := j.ReadStreams(names, func(int, Record) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("callback error: %v after %d calls", err, calls)
	}
	if err := j.ReadStreams(nil, func(int, Record) error { return stop }); err != nil {
		t.Fatalf("no streams: %v", err)
	}
}

// An archived stream reads as no records, as with ReadStream.
func TestReadStreamsArchived(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, filepath.Join(dir, "journal.db"), Options{})
	mustAppend(t, j, "call/0", 0, false, "dialed")
	mustAppend(t, j, "call/0", 1, true, "ended")
	mustAppend(t, j, "call/1", 0, false, "dialed")
	mustAppend(t, j, "client/a", 0, false, "reg")
	if _, err := j.Archive(bg, []string{"call/0"}, filepath.Join(dir, "a.db")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := j.Archived("call/0"); !ok {
		t.Fatal("call/0 not archived")
	}
	got := readStreamsAll(t, j, []string{"call/0", "call/1", "client/a"})
	if len(got) != 2 || len(got[0]) != 0 || len(got[1]) != 1 || len(got[2]) != 1 {
		t.Fatalf("got %v", got)
	}
}
