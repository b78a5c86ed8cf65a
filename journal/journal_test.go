package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/callengine/callengine/errcode"
)

func TestAppendReadScanRoundTrip(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	if got := j.Path(); got != path {
		t.Fatalf("Path() = %q", got)
	}
	if j.LastSeq() != 0 {
		t.Fatalf("LastSeq of new journal = %d", j.LastSeq())
	}
	if s := mustAppend(t, j, "a", 0, false, "a1", "a2"); s != 1 {
		t.Fatalf("first seq %d, want 1", s)
	}
	if s := mustAppend(t, j, "b", 0, false, "b1"); s != 3 {
		t.Fatalf("seq %d, want 3", s)
	}
	if s := mustAppend(t, j, "a", 2, false, "a3"); s != 4 {
		t.Fatalf("seq %d, want 4", s)
	}
	mustAppend(t, j, "b", 1, false, "b2", "b3", "")
	if j.LastSeq() != 7 {
		t.Fatalf("LastSeq = %d, want 7", j.LastSeq())
	}
	check := func(j *Journal) {
		t.Helper()
		expectRecords(t, readAll(t, j, "a", 0), "a", 1, "a1", "a2", "a3")
		expectRecords(t, readAll(t, j, "b", 1), "b", 1, "b1", "b2", "b3", "")
		if got := readAll(t, j, "zzz", 0); len(got) != 0 {
			t.Fatalf("unknown stream: %v", got)
		}
		all := scanAll(t, j, 1)
		want := []struct {
			s string
			v uint64
			d string
		}{{"a", 1, "a1"}, {"a", 2, "a2"}, {"b", 1, "b1"}, {"a", 3, "a3"}, {"b", 2, "b2"}, {"b", 3, "b3"}, {"b", 4, ""}}
		if len(all) != len(want) {
			t.Fatalf("scan: %d records, want %d", len(all), len(want))
		}
		for i, r := range all {
			if r.Seq != uint64(i+1) || r.Stream != want[i].s || r.Version != want[i].v || string(r.Data) != want[i].d {
				t.Fatalf("scan record %d: %+v, want %+v", i, r, want[i])
			}
		}
		if got := scanAll(t, j, 5); len(got) != 3 || got[0].Seq != 5 {
			t.Fatalf("scan from 5: %+v", got)
		}
		if got := scanAll(t, j, 100); len(got) != 0 {
			t.Fatalf("scan past end: %+v", got)
		}
		for s, v := range map[string]uint64{"a": 3, "b": 4, "zzz": 0} {
			got, err := j.StreamVersion(s)
			if err != nil || got != v {
				t.Fatalf("StreamVersion(%q) = %d, %v; want %d", s, got, err, v)
			}
		}
		if got := liveAll(t, j); len(got) != 2 || got["a"] != 3 || got["b"] != 4 {
			t.Fatalf("Live = %v", got)
		}
	}
	check(j)
	must(t, j.Check())
	must(t, j.Close())
	j2 := mustOpen(t, path, Options{})
	if j2.LastSeq() != 7 {
		t.Fatalf("LastSeq after reopen = %d", j2.LastSeq())
	}
	check(j2)
	if s := mustAppend(t, j2, "a", 3, false, "a4"); s != 8 {
		t.Fatalf("seq after reopen %d, want 8", s)
	}
	must(t, j2.Check())
}

func TestReadStreamFromMiddle(t *testing.T) {
	for _, flush := range []int{1, 3, 1 << 20} {
		t.Run(fmt.Sprint("flush", flush), func(t *testing.T) {
			path := tempPath(t)
			j := mustOpen(t, path, Options{flushRecords: flush})
			var data []string
			v := uint64(0)
			for i := 0; i < 20; i++ {
				n := 1 + i%4
				var recs []string
				for k := 0; k < n; k++ {
					recs = append(recs, fmt.Sprintf("r%d", len(data)+k+1))
				}
				mustAppend(t, j, "s", v, false, recs...)
				mustAppend(t, j, "other", uint64(i), false, "x") // interleave seqs
				data = append(data, recs...)
				v += uint64(n)
			}
			for _, j := range []*Journal{j, nil} {
				if j == nil {
					// reopen: flushed index plus rebuilt in-memory part
					j = mustOpen(t, path, Options{flushRecords: flush, ReadOnly: true})
				}
				for from := uint64(0); from <= v+2; from++ {
					start := max(from, 1)
					var want []string
					if start <= v {
						want = data[start-1:]
					}
					expectRecords(t, readAll(t, j, "s", from), "s", start, want...)
				}
				if ver, err := j.StreamVersion("s"); err != nil || ver != v {
					t.Fatalf("StreamVersion = %d, %v; want %d", ver, err, v)
				}
				if j.readOnly {
					must(t, j.Check())
				} else {
					must(t, j.Check())
					must(t, j.Close())
				}
			}
		})
	}
}

func TestLongStreamChunks(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{flushRecords: 1000})
	const n = 2*chunkRecords + 123
	var want []string
	for v := 0; v < n; {
		k := min(37, n-v)
		var recs []string
		for i := 0; i < k; i++ {
			recs = append(recs, fmt.Sprint(v+i+1))
		}
		mustAppend(t, j, "long", uint64(v), false, recs...)
		v += k
		want = append(want, recs...)
	}
	expectRecords(t, readAll(t, j, "long", 0), "long", 1, want...)
	expectRecords(t, readAll(t, j, "long", 1500), "long", 1500, want[1499:]...)
	if got := scanAll(t, j, 1); len(got) != n {
		t.Fatalf("scan: %d records", len(got))
	}
	// Callbacks run outside transactions: one may append.
	calls := 0
	err := j.ReadStream("long", n-1, func(r Record) error {
		calls++
		_, err := j.Append(bg, "side", uint64(calls-1), [][]byte{r.Data}, false)
		return err
	})
	must(t, err)
	if v, _ := j.StreamVersion("side"); v != 2 {
		t.Fatalf("side version %d", v)
	}
	// An error of the callback stops the read and is returned.
	stop := errors.New("stop")
	seen := 0
	err = j.Scan(1, func(Record) error { seen++; return stop })
	if err != stop || seen != 1 {
		t.Fatalf("Scan callback error: %v after %d", err, seen)
	}
	err = j.ReadStream("long", 0, func(Record) error { return stop })
	if err != stop {
		t.Fatalf("ReadStream callback error: %v", err)
	}
}

func TestDataIsCopy(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{})
	rec := []byte("hello")
	mustAppend(t, j, "s", 0, false, "hello", "world")
	_, err := j.Append(bg, "s", 2, [][]byte{rec}, false)
	must(t, err)
	rec[0] = 'X' // the journal keeps no reference to the caller's bytes
	got := readAll(t, j, "s", 0)
	got[0].Data[0] = 'J'
	got[0].Data = append(got[0].Data, "!!!"...) // must not clobber the next record
	expectRecords(t, got[1:], "s", 2, "world", "hello")
	expectRecords(t, readAll(t, j, "s", 0), "s", 1, "hello", "world", "hello")
}

func TestConflict(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	mustAppend(t, j, "s", 0, false, "1", "2")
	for _, exp := range []uint64{0, 1, 3, 99} {
		_, err := j.Append(bg, "s", exp, [][]byte{[]byte("x")}, false)
		var ce *ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || errcode.Classify(err, "") != errcode.Conflict {
			t.Fatalf("expected %d: got %v", exp, err)
		}
		if ce.Stream != "s" || ce.Expected != exp || ce.Actual != 2 {
			t.Fatalf("ConflictError = %+v", ce)
		}
	}
	_, err := j.Append(bg, "new", 1, [][]byte{[]byte("x")}, false)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Actual != 0 {
		t.Fatalf("new stream with expected 1: %v", err)
	}
	if j.LastSeq() != 2 || len(scanAll(t, j, 1)) != 2 {
		t.Fatalf("conflicts wrote something: LastSeq %d", j.LastSeq())
	}
	if v, _ := j.StreamVersion("new"); v != 0 {
		t.Fatalf("new stream version %d", v)
	}
	if _, ok := liveAll(t, j)["new"]; ok {
		t.Fatal("conflicting append made a stream live")
	}
	if st := j.Stats(); st.Conflicts != 5 || st.Appends != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The version survives a reopen (the writer's cache is refilled from disk).
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	if _, err := j.Append(bg, "s", 1, [][]byte{[]byte("x")}, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("after reopen: %v", err)
	}
	mustAppend(t, j, "s", 2, false, "3")
}

// TestConflictInBatch queues requests behind a gate so that they commit in
// one transaction, and checks that version checks see earlier requests of the
// same batch and that a conflict does not disturb its batch partners.
func TestConflictInBatch(t *testing.T) {
	gate, release := newGate(t)
	path := tempPath(t)
	j := mustOpen(t, path, Options{gate: gate})
	var results []<-chan result
	queue := func(stream string, exp uint64, end bool, recs ...string) {
		results = append(results, appendAsync(bg, j, stream, exp, end, recs...))
		waitQueued(t, j, len(results))
	}
	queue("s", 0, false, "s1")       // ok: seq 1
	queue("s", 0, false, "bad")      // conflict: s is at 1 within the batch
	queue("s", 1, false, "s2", "s3") // ok: seq 2,3, sees the first request
	queue("t", 5, false, "bad")      // conflict on an unknown stream
	queue("t", 0, true, "t1")        // ok: seq 4, ended at once
	queue("t", 1, false, "t2")       // ok: ended streams take appends and live again
	queue("s", 3, false, "s4")       // ok: seq 6
	release()
	want := []struct {
		seq    uint64
		actual uint64
		err    bool
	}{{1, 0, false}, {0, 1, true}, {2, 0, false}, {0, 0, true}, {4, 0, false}, {5, 0, false}, {6, 0, false}}
	for i, ch := range results {
		r := <-ch
		if want[i].err {
			var ce *ConflictError
			if !errors.As(r.err, &ce) || ce.Actual != want[i].actual {
				t.Fatalf("request %d: %v, want conflict with actual %d", i, r.err, want[i].actual)
			}
			continue
		}
		if r.err != nil || r.seq != want[i].seq {
			t.Fatalf("request %d: seq %d err %v, want seq %d", i, r.seq, r.err, want[i].seq)
		}
	}
	if st := j.Stats(); st.Batches != 1 || st.Appends != 5 || st.Records != 6 || st.Conflicts != 2 {
		t.Fatalf("stats %+v, want one batch of 5 appends", st)
	}
	expectRecords(t, readAll(t, j, "s", 0), "s", 1, "s1", "s2", "s3", "s4")
	expectRecords(t, readAll(t, j, "t", 0), "t", 1, "t1", "t2")
	if got := liveAll(t, j); len(got) != 2 || got["s"] != 4 || got["t"] != 2 {
		t.Fatalf("Live = %v", got)
	}
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	expectRecords(t, readAll(t, j, "t", 0), "t", 1, "t1", "t2")
	must(t, j.Check())
}

func TestMaxBatch(t *testing.T) {
	gate, release := newGate(t)
	j := mustOpen(t, tempPath(t), Options{gate: gate, MaxBatch: 3})
	var results []<-chan result
	for i := 0; i < 10; i++ {
		results = append(results, appendAsync(bg, j, streamName(i), 0, false, "x"))
		waitQueued(t, j, i+1)
	}
	release()
	for i, ch := range results {
		if r := <-ch; r.err != nil || r.seq != uint64(i+1) {
			t.Fatalf("append %d: %+v (order must be kept)", i, r)
		}
	}
	if st := j.Stats(); st.Batches != 4 {
		t.Fatalf("batches = %d, want 4 (MaxBatch 3, 10 records)", st.Batches)
	}
}

func TestEndLeavesLive(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	mustAppend(t, j, "a", 0, false, "1")
	mustAppend(t, j, "b", 0, false, "1", "2")
	mustAppend(t, j, "c", 0, true, "only") // ended by its first append
	if got := liveAll(t, j); len(got) != 2 || got["a"] != 1 || got["b"] != 2 {
		t.Fatalf("Live = %v", got)
	}
	mustAppend(t, j, "a", 1, true, "2")
	if got := liveAll(t, j); len(got) != 1 || got["b"] != 2 {
		t.Fatalf("Live after end = %v", got)
	}
	if v, err := j.StreamVersion("a"); err != nil || v != 2 {
		t.Fatalf("ended stream version %d %v", v, err)
	}
	// An ended stream takes appends with its version and is live again.
	if _, err := j.Append(bg, "a", 1, [][]byte{[]byte("x")}, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale append to ended stream: %v", err)
	}
	mustAppend(t, j, "a", 2, false, "3")
	if v, ok := liveAll(t, j)["a"]; !ok || v != 3 {
		t.Fatal("stream appended to after its end is not live again")
	}
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	if got := liveAll(t, j); len(got) != 2 || got["a"] != 3 || got["b"] != 2 {
		t.Fatalf("Live after reopen = %v", got)
	}
	mustAppend(t, j, "a", 3, true, "4")
	mustAppend(t, j, "c", 1, false, "more")
	expectRecords(t, readAll(t, j, "a", 0), "a", 1, "1", "2", "3", "4")
	expectRecords(t, readAll(t, j, "c", 0), "c", 1, "only", "more")
	if v, ok := liveAll(t, j)["c"]; !ok || v != 2 {
		t.Fatal("c appended to after its end is not live")
	}
}

func TestLiveManyStreams(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{})
	const n = chunkRecords + 300
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := j.Append(bg, streamName(i), 0, [][]byte{[]byte("x")}, i%3 == 0); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	var names []string
	must(t, j.Live(func(s string, v uint64) error {
		if v != 1 {
			t.Fatalf("%s version %d", s, v)
		}
		names = append(names, s)
		return nil
	}))
	if len(names) != n-(n+2)/3 || !sort.StringsAreSorted(names) {
		t.Fatalf("Live: %d streams (sorted %v)", len(names), sort.StringsAreSorted(names))
	}
	stop := errors.New("stop")
	if err := j.Live(func(string, uint64) error { return stop }); err != stop {
		t.Fatalf("Live callback error: %v", err)
	}
}

func TestSnapshots(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	if _, _, ok, err := j.LoadSnapshot("s"); ok || err != nil {
		t.Fatalf("missing snapshot: ok=%v err=%v", ok, err)
	}
	mustAppend(t, j, "s", 0, false, "1", "2", "3")
	must(t, j.SaveSnapshot(bg, "s", 2, []byte("state@2")))
	must(t, j.SaveSnapshot(bg, "s", 3, []byte("state@3")))
	must(t, j.SaveSnapshot(bg, "empty", 0, nil))
	check := func(j *Journal) {
		t.Helper()
		v, d, ok, err := j.LoadSnapshot("s")
		if err != nil || !ok || v != 3 || string(d) != "state@3" {
			t.Fatalf("LoadSnapshot = %d %q %v %v", v, d, ok, err)
		}
		d[0] = 'X'
		if _, d, _, _ := j.LoadSnapshot("s"); string(d) != "state@3" {
			t.Fatal("snapshot data is not a copy")
		}
		if v, d, ok, err := j.LoadSnapshot("empty"); err != nil || !ok || v != 0 || len(d) != 0 {
			t.Fatalf("empty snapshot = %d %q %v %v", v, d, ok, err)
		}
	}
	check(j)
	must(t, j.Close())
	j = mustOpen(t, path, Options{ReadOnly: true})
	check(j)
	wantErr(t, j.SaveSnapshot(bg, "s", 4, nil), ErrReadOnly)
	must(t, j.Check())
}

func TestCloseDrainsQueued(t *testing.T) {
	gate, release := newGate(t)
	path := tempPath(t)
	j, err := Open(path, Options{gate: gate})
	must(t, err)
	var results []<-chan result
	for i := 0; i < 50; i++ {
		results = append(results, appendAsync(bg, j, streamName(i%5), uint64(i/5), false, fmt.Sprint(i)))
		waitQueued(t, j, i+1)
	}
	closed := make(chan error)
	go func() { closed <- j.Close() }()
	// Close must refuse new appends before the queued ones are written.
	for {
		j.mu.RLock()
		c := j.closed
		j.mu.RUnlock()
		if c {
			break
		}
	}
	if _, err := j.Append(bg, "late", 0, [][]byte{[]byte("x")}, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("append during close: %v", err)
	}
	release()
	must(t, <-closed)
	for i, ch := range results {
		if r := <-ch; r.err != nil || r.seq != uint64(i+1) {
			t.Fatalf("queued append %d: %+v", i, r)
		}
	}
	j = mustOpen(t, path, Options{})
	if j.LastSeq() != 50 {
		t.Fatalf("LastSeq after drain = %d", j.LastSeq())
	}
	for s := 0; s < 5; s++ {
		if got := readAll(t, j, streamName(s), 0); len(got) != 10 {
			t.Fatalf("stream %d: %d records", s, len(got))
		}
	}
}

func TestClosed(t *testing.T) {
	j, err := Open(tempPath(t), Options{})
	must(t, err)
	mustAppend(t, j, "s", 0, false, "x")
	must(t, j.Close())
	must(t, j.Close()) // idempotent
	_, err = j.Append(bg, "s", 1, [][]byte{[]byte("y")}, false)
	if !errors.Is(err, ErrClosed) || errcode.Classify(err, "") != errcode.Closed {
		t.Fatalf("Append after Close: %v", err)
	}
	wantErr(t, j.SaveSnapshot(bg, "s", 1, nil), ErrClosed)
	wantErr(t, j.ReadStream("s", 0, func(Record) error { return nil }), ErrClosed)
	wantErr(t, j.Scan(0, func(Record) error { return nil }), ErrClosed)
	wantErr(t, j.Live(func(string, uint64) error { return nil }), ErrClosed)
	_, err = j.StreamVersion("s")
	wantErr(t, err, ErrClosed)
	_, _, _, err = j.LoadSnapshot("s")
	wantErr(t, err, ErrClosed)
	_, err = j.Backup(&bytes.Buffer{})
	wantErr(t, err, ErrClosed)
	wantErr(t, j.Check(), ErrClosed)
}

func TestContextCancelled(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{})
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := j.Append(ctx, "s", 0, [][]byte{[]byte("x")}, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	wantErr(t, j.SaveSnapshot(ctx, "s", 0, nil), context.Canceled)
	if j.LastSeq() != 0 || j.Stats().Batches != 0 {
		t.Fatal("cancelled append wrote something")
	}

	// Cancelled while queued, before the writer takes it.
	gate, release := newGate(t)
	j2 := mustOpen(t, tempPath(t), Options{gate: gate})
	ctx2, cancel2 := context.WithCancel(bg)
	r1 := appendAsync(bg, j2, "a", 0, false, "1")
	waitQueued(t, j2, 1)
	r2 := appendAsync(ctx2, j2, "b", 0, false, "1")
	waitQueued(t, j2, 2)
	r3 := appendAsync(bg, j2, "c", 0, false, "1")
	waitQueued(t, j2, 3)
	cancel2()
	release()
	if r := <-r1; r.err != nil || r.seq != 1 {
		t.Fatalf("r1 %+v", r)
	}
	if r := <-r2; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("r2 %+v", r)
	}
	if r := <-r3; r.err != nil || r.seq != 2 {
		t.Fatalf("r3 %+v", r)
	}
	if v, _ := j2.StreamVersion("b"); v != 0 {
		t.Fatal("cancelled append was written")
	}

	// A full queue: a blocked Append returns when its context ends.
	gate3, release3 := newGate(t)
	j3 := mustOpen(t, tempPath(t), Options{gate: gate3, MaxBatch: 1})
	for i := 0; i < cap(j3.reqs); i++ {
		appendAsync(bg, j3, streamName(i), 0, false, "x")
	}
	waitQueued(t, j3, cap(j3.reqs))
	ctx4, cancel4 := context.WithCancel(bg)
	r4 := appendAsync(ctx4, j3, "blocked", 0, false, "x")
	cancel4()
	if r := <-r4; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("blocked append: %+v", r)
	}
	release3()
}

func TestInvalidArguments(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{})
	_, err := j.Append(bg, "s", 0, nil, false)
	if !errors.Is(err, ErrEmpty) || errcode.Classify(err, "") != errcode.Unavailable {
		t.Fatalf("empty append: %v", err)
	}
	_, err = j.Append(bg, "s", 0, [][]byte{}, true)
	wantErr(t, err, ErrEmpty)
	if _, err := j.Append(bg, "", 0, [][]byte{[]byte("x")}, false); err == nil {
		t.Fatal("empty stream name accepted")
	}
	if _, err := j.Append(bg, strings.Repeat("x", MaxStreamLen+1), 0, [][]byte{[]byte("x")}, false); err == nil {
		t.Fatal("long stream name accepted")
	}
	if err := j.SaveSnapshot(bg, "", 0, nil); err == nil {
		t.Fatal("empty snapshot stream accepted")
	}
	long := strings.Repeat("y", MaxStreamLen)
	mustAppend(t, j, long, 0, false, "ok")
	expectRecords(t, readAll(t, j, long, 0), long, 1, "ok")
	if j.LastSeq() != 1 {
		t.Fatal("invalid appends wrote")
	}
}

// TestStreamNamePrefixes: names that are prefixes of each other, or that
// contain bytes that would be separators, keep their records apart.
func TestStreamNamePrefixes(t *testing.T) {
	j := mustOpen(t, tempPath(t), Options{flushRecords: 2})
	names := []string{"a", "ab", "a\x00", "a\x00b", "\xff", "a\xff", "b"}
	for round := 0; round < 3; round++ {
		for i, n := range names {
			mustAppend(t, j, n, uint64(round), false, fmt.Sprint(n, i, round))
		}
	}
	for i, n := range names {
		expectRecords(t, readAll(t, j, n, 0), n, 1, fmt.Sprint(n, i, 0), fmt.Sprint(n, i, 1), fmt.Sprint(n, i, 2))
		if v, _ := j.StreamVersion(n); v != 3 {
			t.Fatalf("%q version %d", n, v)
		}
	}
	must(t, j.Check())
}

func TestGroupCommit(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{flushRecords: 300})
	const writers, each = 200, 5
	seqs := make([][]uint64, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for v := 0; v < each; v++ {
				seq, err := j.Append(bg, streamName(w), uint64(v), [][]byte{[]byte(fmt.Sprint(w, "/", v))}, v == each-1)
				if err != nil {
					t.Error(err)
					return
				}
				seqs[w] = append(seqs[w], seq)
			}
		}(w)
	}
	wg.Wait()
	st := j.Stats()
	t.Logf("stats: %+v", st)
	if st.Appends != writers*each || st.Records != writers*each {
		t.Fatalf("stats %+v", st)
	}
	if st.Batches >= st.Appends {
		t.Fatalf("no group commit: %d batches for %d appends", st.Batches, st.Appends)
	}
	var all []uint64
	for _, s := range seqs {
		all = append(all, s...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	for i, s := range all {
		if s != uint64(i+1) {
			t.Fatalf("seqs not unique and contiguous: position %d has %d", i, s)
		}
	}
	must(t, j.Close())
	j = mustOpen(t, path, Options{})
	if j.LastSeq() != writers*each {
		t.Fatalf("LastSeq = %d", j.LastSeq())
	}
	for w := 0; w < writers; w++ {
		got := readAll(t, j, streamName(w), 0)
		if len(got) != each {
			t.Fatalf("stream %d: %d records", w, len(got))
		}
		for v, r := range got {
			if r.Seq != seqs[w][v] || string(r.Data) != fmt.Sprint(w, "/", v) {
				t.Fatalf("stream %d record %d: %+v, seq want %d", w, v, r, seqs[w][v])
			}
		}
	}
	if got := liveAll(t, j); len(got) != 0 {
		t.Fatalf("all streams ended, Live = %d", len(got))
	}
	must(t, j.Check())
}

// TestIndexRebuild: records whose index runs were only in memory (a crash
// before the index flush, taken here as a hot backup) are found after Open.
func TestIndexRebuild(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, filepath.Join(dir, "a.journal"), Options{flushRecords: 40})
	want := map[string][]string{}
	for i := 0; i < 130; i++ {
		s := streamName(i % 7)
		d := fmt.Sprint(i)
		mustAppend(t, j, s, uint64(len(want[s])), i%50 == 49, d)
		want[s] = append(want[s], d)
	}
	j.pend.mu.RLock()
	pending := j.pend.records
	j.pend.mu.RUnlock()
	if j.Stats().IndexFlushes == 0 || pending == 0 {
		t.Fatalf("want flushed and pending index runs: %+v, pending %d", j.Stats(), pending)
	}
	backup := filepath.Join(dir, "b.journal")
	must(t, j.BackupFile(backup))
	b := mustOpen(t, backup, Options{})
	if b.pend.records == 0 {
		t.Fatal("backup has no unflushed records; test proves nothing")
	}
	for _, jj := range []*Journal{j, b} {
		for s, data := range want {
			expectRecords(t, readAll(t, jj, s, 0), s, 1, data...)
			if v, err := jj.StreamVersion(s); err != nil || v != uint64(len(data)) {
				t.Fatalf("StreamVersion(%s) = %d %v", s, v, err)
			}
		}
	}
	s0 := streamName(0)
	mustAppend(t, b, s0, uint64(len(want[s0])), false, "after")
	must(t, b.Check())
}

func TestLocked(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	_, err := Open(path, Options{Timeout: 100e6})
	if !errors.Is(err, ErrLocked) || errcode.Classify(err, "") != errcode.Unavailable {
		t.Fatalf("second open: %v", err)
	}
	_, err = Open(path, Options{Timeout: 100e6, ReadOnly: true})
	wantErr(t, err, ErrLocked)
	must(t, j.Close())
	j2 := mustOpen(t, path, Options{Timeout: 100e6})
	must(t, j2.Close())
}

func TestReadOnly(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, Options{})
	mustAppend(t, j, "s", 0, false, "1", "2")
	must(t, j.SaveSnapshot(bg, "s", 2, []byte("snap")))
	must(t, j.Close())

	r1 := mustOpen(t, path, Options{ReadOnly: true})
	r2 := mustOpen(t, path, Options{ReadOnly: true}) // shared lock
	for _, r := range []*Journal{r1, r2} {
		expectRecords(t, readAll(t, r, "s", 0), "s", 1, "1", "2")
		if r.LastSeq() != 2 {
			t.Fatalf("LastSeq %d", r.LastSeq())
		}
		_, err := r.Append(bg, "s", 2, [][]byte{[]byte("3")}, false)
		if !errors.Is(err, ErrReadOnly) || errcode.Classify(err, "") != errcode.Unavailable {
			t.Fatalf("Append read-only: %v", err)
		}
		must(t, r.Check())
	}
	// A writer cannot open while readers hold the file.
	_, err := Open(path, Options{Timeout: 50e6})
	wantErr(t, err, ErrLocked)
	must(t, r1.Close())
	must(t, r2.Close())

	if _, err := Open(filepath.Join(t.TempDir(), "missing"), Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file succeeded")
	}
}

func TestBackupWhileAppending(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, filepath.Join(dir, "live.journal"), Options{flushRecords: 500})
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for v := uint64(0); ctx.Err() == nil; v++ {
				_, err := j.Append(ctx, streamName(w), v, [][]byte{[]byte(fmt.Sprint(w, ":", v))}, false)
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	for j.LastSeq() < 2000 {
		runtimeGosched()
	}
	var copies []string
	for i := 0; i < 3; i++ {
		p := filepath.Join(dir, fmt.Sprintf("copy%d.journal", i))
		must(t, j.BackupFile(p))
		copies = append(copies, p)
	}
	var buf bytes.Buffer
	n, err := j.Backup(&buf)
	must(t, err)
	if n != int64(buf.Len()) {
		t.Fatalf("Backup returned %d, wrote %d", n, buf.Len())
	}
	p := filepath.Join(dir, "copy-buf.journal")
	must(t, os.WriteFile(p, buf.Bytes(), 0o600))
	copies = append(copies, p)
	cancel()
	wg.Wait()
	orig := scanAll(t, j, 1)
	for _, p := range copies {
		c := mustOpen(t, p, Options{ReadOnly: true})
		must(t, c.Check())
		got := scanAll(t, c, 1)
		if len(got) == 0 || len(got) > len(orig) || c.LastSeq() != uint64(len(got)) {
			t.Fatalf("%s: %d records (orig %d), LastSeq %d", p, len(got), len(orig), c.LastSeq())
		}
		for i, r := range got {
			o := orig[i]
			if r.Seq != o.Seq || r.Stream != o.Stream || r.Version != o.Version || !bytes.Equal(r.Data, o.Data) {
				t.Fatalf("%s: record %d = %+v, original %+v", p, i, r, o)
			}
		}
		for w := 0; w < 8; w++ {
			recs := readAll(t, c, streamName(w), 0)
			if v, _ := c.StreamVersion(streamName(w)); v != uint64(len(recs)) {
				t.Fatalf("%s: stream %d version %d, %d records", p, w, v, len(recs))
			}
		}
		t.Logf("%s: prefix of %d of %d records", filepath.Base(p), len(got), len(orig))
	}
}

func TestErrorCode(t *testing.T) {
	cases := map[error]errcode.Code{
		nil:                             "",
		errors.New("other"):             "",
		ErrConflict:                     errcode.Conflict,
		&ConflictError{}:                errcode.Conflict,
		&ArchivedError{}:                errcode.Conflict,
		ErrCorrupt:                      errcode.JournalCorrupt,
		ErrNotJournal:                   errcode.JournalCorrupt,
		ErrNewerSchema:                  errcode.Unavailable,
		ErrClosed:                       errcode.Closed,
		ErrReadOnly:                     errcode.Unavailable,
		ErrEmpty:                        errcode.Unavailable,
		ErrLocked:                       errcode.Unavailable,
		context.Canceled:                "",
		fmt.Errorf("x: %w", ErrCorrupt): errcode.JournalCorrupt,
		errcode.Wrap(errcode.InvalidParams, fmt.Errorf("x: %w", ErrNotJournal), "m"): errcode.JournalCorrupt,
	}
	for err, want := range cases {
		if got := errcode.Classify(err, ""); got != want {
			t.Errorf("Classify(%v) = %q, want %q", err, got, want)
		}
		if got := isKind(err); got != (want != "") {
			t.Errorf("isKind(%v) = %v", err, got)
		}
	}
	if errors.Is(&ConflictError{}, ErrCorrupt) {
		t.Error("ConflictError matches ErrCorrupt")
	}
}

func TestMeasure(t *testing.T) {
	dir := t.TempDir()
	r, err := MeasureAppend(bg, dir, 10, 200, 64)
	if err != nil || r <= 0 {
		t.Fatalf("MeasureAppend = %v, %v", r, err)
	}
	r, err = MeasureRawBolt(dir, 250, 100, 64)
	if err != nil || r <= 0 {
		t.Fatalf("MeasureRawBolt = %v, %v", r, err)
	}
	if _, err := MeasureAppend(bg, dir, 0, 10, 1); err == nil {
		t.Fatal("bad parameters accepted")
	}
	if _, err := MeasureRawBolt(dir, 10, 0, 1); err == nil {
		t.Fatal("bad parameters accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("measure left files: %v", ents)
	}
}

// TestFailedCommit: when the transaction fails, every request of the batch
// gets the error (conflicts included), nothing is written, and the writer's
// version cache and seq counter forget the batch.
func TestFailedCommit(t *testing.T) {
	gate, release := newGate(t)
	boom := errors.New("disk on fire")
	var fail sync.Mutex
	failing := true
	j := mustOpen(t, tempPath(t), Options{gate: gate, flushRecords: 1, failTx: func() error {
		fail.Lock()
		defer fail.Unlock()
		if failing {
			failing = false
			return boom
		}
		return nil
	}})
	var results []<-chan result
	queue := func(stream string, exp uint64, recs ...string) {
		results = append(results, appendAsync(bg, j, stream, exp, false, recs...))
		waitQueued(t, j, len(results))
	}
	queue("a", 0, "a1")
	queue("a", 0, "conflict")
	queue("b", 0, "b1", "b2")
	release()
	for i, ch := range results {
		if r := <-ch; !errors.Is(r.err, boom) || r.seq != 0 {
			t.Fatalf("request %d: %+v, want the commit error", i, r)
		}
	}
	if j.LastSeq() != 0 || len(scanAll(t, j, 0)) != 0 || len(liveAll(t, j)) != 0 {
		t.Fatal("failed batch left data")
	}
	if st := j.Stats(); st.Batches != 0 || st.Appends != 0 {
		t.Fatalf("stats after failure %+v", st)
	}
	if s := mustAppend(t, j, "a", 0, false, "a1"); s != 1 {
		t.Fatalf("seq after failed batch %d, want 1", s)
	}
	mustAppend(t, j, "b", 0, false, "b1")
	expectRecords(t, readAll(t, j, "a", 0), "a", 1, "a1")
	must(t, j.Check())
}
