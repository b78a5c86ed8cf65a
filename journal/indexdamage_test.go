package journal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// writeIndexed writes a journal of n streams of 4 records each, interleaved,
// with index flushes every 97 records (so streams have several entries), and
// closes it. It returns every stream's records.
func writeIndexed(t *testing.T, path string, n int) map[string][]Record {
	t.Helper()
	j := mustOpen(t, path, Options{flushRecords: 97})
	for v := range 4 {
		for i := range n {
			mustAppend(t, j, callName(i), uint64(v), v == 3 && i%2 == 0, fmt.Sprintf("rec %d of %d", v+1, i))
		}
	}
	must(t, j.Close())
	j = mustOpen(t, path, Options{ReadOnly: true})
	want := make(map[string][]Record, n)
	for i := range n {
		want[callName(i)] = readAll(t, j, callName(i), 0)
	}
	must(t, j.Check())
	must(t, j.Close())
	return want
}

func callName(i int) string { return fmt.Sprintf("call-%04d", i) }

// indexKeyAt returns the file offset of stream's index key at version ver.
func indexKeyAt(t *testing.T, file []byte, stream string, ver uint64) int {
	t.Helper()
	key := appendIndexKey(nil, stream, ver)
	i := bytes.Index(file, key)
	if i < 0 || bytes.Index(file[i+1:], key) >= 0 {
		t.Fatalf("index key of %s version %d: found at %d, or more than once", stream, ver, i)
	}
	return i
}

func damage(t *testing.T, path string, fn func(file []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	fn(b)
	must(t, os.WriteFile(path, b, 0o600))
}

func isCorrupt(err error) bool {
	return errors.Is(err, ErrCorrupt) && errcode.Classify(err, "") == errcode.JournalCorrupt
}

// TestIndexDamageNoticedAndRepaired: a damaged index entry is reported by
// every reader (never a stream that is not found, or shorter than it is),
// and RebuildIndex brings back identical contents.
func TestIndexDamageNoticedAndRepaired(t *testing.T) {
	cases := []struct {
		name   string
		victim string
		fn     func(t *testing.T, file []byte)
	}{
		{"renamed key", callName(150), func(t *testing.T, file []byte) {
			// the key still decodes, but names another stream
			file[indexKeyAt(t, file, callName(150), 1)+6] = 'X'
		}},
		{"renamed last key", callName(151), func(t *testing.T, file []byte) {
			// its last entry: a read would stop early
			file[indexKeyAt(t, file, callName(151), 4)+6] = 'X'
		}},
		{"bad run", callName(152), func(t *testing.T, file []byte) {
			k := indexKeyAt(t, file, callName(152), 1)
			// the value follows the keys of its page; damage the key's
			// length byte so it names no stream at all
			file[k] = 0x7f
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := tempPath(t)
			want := writeIndexed(t, path, 300)
			damage(t, path, func(b []byte) { c.fn(t, b) })

			j := mustOpen(t, path, Options{ReadOnly: true})
			if err := j.Check(); !isCorrupt(err) {
				t.Fatalf("Check: %v, want journal_corrupt", err)
			}
			if err := j.CheckIndex(); !isCorrupt(err) {
				t.Fatalf("CheckIndex: %v, want journal_corrupt", err)
			}
			err := j.ReadStream(c.victim, 0, func(Record) error { return nil })
			if !isCorrupt(err) {
				t.Fatalf("ReadStream(%s): %v, want journal_corrupt", c.victim, err)
			}
			if _, err := j.StreamVersion(c.victim); !isCorrupt(err) {
				t.Fatalf("StreamVersion(%s): %v, want journal_corrupt", c.victim, err)
			}
			err = j.ReadStreams([]string{callName(10), c.victim}, func(int, Record) error { return nil })
			if !isCorrupt(err) {
				t.Fatalf("ReadStreams: %v, want journal_corrupt", err)
			}
			// Streams far from the damage still read.
			if got := readAll(t, j, callName(10), 0); !equalRecords(got, want[callName(10)]) {
				t.Fatalf("%s changed", callName(10))
			}
			must(t, j.Close())

			info, err := RebuildIndex(path, Options{})
			if err != nil {
				t.Fatalf("RebuildIndex: %v", err)
			}
			if info.Events != 1200 || info.Streams != 300 {
				t.Fatalf("RebuildIndex: %+v", info)
			}
			j = mustOpen(t, path, Options{})
			must(t, j.Check())
			for i := range 300 {
				s := callName(i)
				if got := readAll(t, j, s, 0); !equalRecords(got, want[s]) {
					t.Fatalf("%s after the repair: %v, want %v", s, got, want[s])
				}
				if v, err := j.StreamVersion(s); err != nil || v != 4 {
					t.Fatalf("StreamVersion(%s) = %d, %v", s, v, err)
				}
			}
			// and it takes appends again
			mustAppend(t, j, callName(1), 4, false, "after the repair")
		})
	}
}

// TestIndexRandomDamage overwrites 100 bytes around an index key with
// random bytes, many times: each stream then reads whole and unchanged, or
// fails with journal_corrupt — never fewer records, never "no such stream"
// — and Check and the stream at the damage report it.
func TestIndexRandomDamage(t *testing.T) {
	base := tempPath(t)
	want := writeIndexed(t, base, 300)
	orig, err := os.ReadFile(base)
	must(t, err)
	rng := rand.New(rand.NewSource(7))
	for round := range 30 {
		victim := rng.Intn(300)
		for bytes.Count(orig, appendIndexKey(nil, callName(victim), 1)) != 1 {
			victim = rng.Intn(300) // the first key of a page is in its branch page too
		}
		file := bytes.Clone(orig)
		at := indexKeyAt(t, file, callName(victim), 1)
		off := max(at-50+rng.Intn(60), 0)
		rng.Read(file[off : off+100])
		path := tempPath(t)
		must(t, os.WriteFile(path, file, 0o600))
		j, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			if !isCorrupt(err) {
				t.Fatalf("round %d: Open: %v", round, err)
			}
			continue
		}
		if err := j.Check(); !isCorrupt(err) {
			t.Fatalf("round %d: Check: %v", round, err)
		}
		for i := range 300 {
			s := callName(i)
			var got []Record
			err := j.ReadStream(s, 0, func(r Record) error { got = append(got, r); return nil })
			if err == nil && !equalRecords(got, want[s]) {
				t.Fatalf("round %d: %s read %d records without an error, want %d", round, s, len(got), len(want[s]))
			}
			if err != nil && !isCorrupt(err) {
				t.Fatalf("round %d: %s: %v", round, s, err)
			}
			if i == victim && err == nil {
				t.Fatalf("round %d: the damaged stream %s read fine", round, s)
			}
			v, err := j.StreamVersion(s)
			if err == nil && v != 4 {
				t.Fatalf("round %d: StreamVersion(%s) = %d without an error", round, s, v)
			}
		}
		must(t, j.Close())
		if _, err := RebuildIndex(path, Options{}); err != nil {
			// a damaged bbolt page cannot always be rewritten
			if !isCorrupt(err) {
				t.Fatalf("round %d: RebuildIndex: %v", round, err)
			}
			continue
		}
		j = mustOpen(t, path, Options{ReadOnly: true})
		must(t, j.Check())
		for i := range 300 {
			if got := readAll(t, j, callName(i), 0); !equalRecords(got, want[callName(i)]) {
				t.Fatalf("round %d: %s after the repair", round, callName(i))
			}
		}
		must(t, j.Close())
	}
}

func equalRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Stream != b[i].Stream || a[i].Version != b[i].Version || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}
