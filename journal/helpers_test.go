package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var bg = context.Background()

func tempPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "test.journal")
}

func mustOpen(t testing.TB, path string, opts Options) *Journal {
	t.Helper()
	j, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if opts.gate != nil {
			if release, ok := gateReleases.Load(opts.gate); ok {
				release.(func())()
			}
		}
		_ = j.Close()
	})
	return j
}

func mustAppend(t testing.TB, j *Journal, stream string, expected uint64, end bool, recs ...string) uint64 {
	t.Helper()
	b := make([][]byte, len(recs))
	for i, r := range recs {
		b[i] = []byte(r)
	}
	seq, err := j.Append(bg, stream, expected, b, end)
	if err != nil {
		t.Fatalf("Append(%q, %d): %v", stream, expected, err)
	}
	return seq
}

func readAll(t testing.TB, j *Journal, stream string, from uint64) []Record {
	t.Helper()
	var out []Record
	if err := j.ReadStream(stream, from, func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("ReadStream(%q, %d): %v", stream, from, err)
	}
	return out
}

func scanAll(t testing.TB, j *Journal, from uint64) []Record {
	t.Helper()
	var out []Record
	if err := j.Scan(from, func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("Scan(%d): %v", from, err)
	}
	return out
}

func liveAll(t testing.TB, j *Journal) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	if err := j.Live(func(s string, v uint64) error { out[s] = v; return nil }); err != nil {
		t.Fatalf("Live: %v", err)
	}
	return out
}

func expectRecords(t testing.TB, got []Record, stream string, firstVersion uint64, data ...string) {
	t.Helper()
	if len(got) != len(data) {
		t.Fatalf("%q: got %d records, want %d: %v", stream, len(got), len(data), got)
	}
	for i, r := range got {
		if r.Stream != stream || r.Version != firstVersion+uint64(i) || !bytes.Equal(r.Data, []byte(data[i])) {
			t.Fatalf("%q record %d: got %+v, want version %d data %q", stream, i, r, firstVersion+uint64(i), data[i])
		}
	}
}

// waitQueued waits until n requests sit in the writer's channel (the writer
// being held by a gate).
func waitQueued(t testing.TB, j *Journal, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(j.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", len(j.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	seq uint64
	err error
}

// appendAsync starts an Append and returns where its result will arrive.
func appendAsync(ctx context.Context, j *Journal, stream string, expected uint64, end bool, recs ...string) <-chan result {
	ch := make(chan result, 1)
	b := make([][]byte, len(recs))
	for i, r := range recs {
		b[i] = []byte(r)
	}
	go func() {
		seq, err := j.Append(ctx, stream, expected, b, end)
		ch <- result{seq, err}
	}()
	return ch
}

func isKindOf(err error, kinds ...error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func streamName(i int) string { return fmt.Sprintf("call/%016x", i) }

func runtimeGosched() { time.Sleep(100 * time.Microsecond) }

// newGate returns a gate for Options.gate and its release function; the gate
// is also released when the test ends, so that a failing test does not hang
// in Close.
func newGate(t testing.TB) (chan struct{}, func()) {
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	gateReleases.Store((<-chan struct{})(gate), release)
	return gate, release
}

// gateReleases maps gates to their release functions, for mustOpen's cleanup.
var gateReleases sync.Map
