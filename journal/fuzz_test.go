package journal

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"sync"
	"testing"
)

// The decoders below read bytes straight from the file: a damaged journal
// must give ErrCorrupt, never a panic, and whatever they accept must encode
// back to what they read.
//
// While fuzzing (go test -fuzz), values longer than maxFuzzValue are
// skipped. From about 500 bytes on, hash/crc32 takes other code paths
// (interleaved streams), whose coverage bits made the fuzzer keep inputs of
// 1–14 KiB as interesting, then spend its minimisation time on each (60 s by
// default; the minimiser is quadratic in the input's length): a one-minute
// run made ~40k execs, then none. The decoders' own branches do not depend
// on the length beyond what short inputs reach. A plain go test still runs
// every seed and corpus entry, whatever its length.
const maxFuzzValue = 512

// tooLong reports whether the fuzzer is running and n exceeds maxFuzzValue.
func tooLong(n int) bool {
	return n > maxFuzzValue && fuzzing()
}

// fuzzing reports whether go test -fuzz runs (read once the flags are parsed).
var fuzzing = sync.OnceValue(func() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
})

func FuzzDecodeEvent(f *testing.F) {
	f.Add(uint64(1), appendEvent(nil, 1, "call/01H", 3, []byte("body")))
	f.Add(uint64(7), appendEvent(nil, 7, "", 1, nil))
	f.Add(uint64(9), appendEvent(nil, 9, "client/alice", 1<<40, bytes.Repeat([]byte{0xCE}, 300)))
	f.Add(uint64(2), []byte{0, 0, 0, 0, 1, 2, 3})
	f.Add(uint64(0), []byte{})
	f.Fuzz(func(t *testing.T, seq uint64, v []byte) {
		if tooLong(len(v)) {
			return
		}
		stream, version, data, err := decodeEvent(seq, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again := appendEvent(nil, seq, string(stream), version, data)
		s2, v2, d2, err := decodeEvent(seq, again)
		if err != nil || !bytes.Equal(s2, stream) || v2 != version || !bytes.Equal(d2, data) {
			t.Fatalf("re-encoded event decodes to %q v%d %x (%v), want %q v%d %x", s2, v2, d2, err, stream, version, data)
		}
		// The checksum binds the value to its seq.
		if _, _, _, err := decodeEvent(seq+1, v); err == nil {
			t.Fatalf("event of seq %d accepted under seq %d", seq, seq+1)
		}
	})
}

func FuzzDecodeIndexRuns(f *testing.F) {
	f.Add(uint64(1), appendIndexValue(nil, []indexEntry{{first: 1, seq: 5, count: 2}, {first: 3, seq: 90, count: 1}}))
	f.Add(uint64(4), appendIndexValue(nil, []indexEntry{{first: 4, seq: 1 << 33, count: 7}}))
	f.Add(uint64(1), []byte{0})
	f.Add(uint64(0), []byte{1, 1, 1})
	f.Add(uint64(1), []byte{2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 2})
	f.Fuzz(func(t *testing.T, first uint64, v []byte) {
		runs, err := decodeIndexRuns(first, []byte("k"), v, nil)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		total, err := indexTotal([]byte("k"), v)
		if err != nil {
			t.Fatalf("decoded runs but not the total: %v", err)
		}
		var sum uint64
		ver, next := first, uint64(0)
		for _, r := range runs {
			if r.first != ver || r.count == 0 || r.seq < next || r.seq == 0 {
				t.Fatalf("inconsistent run %+v after version %d seq %d", r, ver, next)
			}
			ver += r.count
			sum += r.count
			next = r.seq + r.count
		}
		if sum != total {
			t.Fatalf("runs hold %d, total says %d", sum, total)
		}
		again, err := decodeIndexRuns(first, []byte("k"), appendIndexValue(nil, runs), nil)
		if err != nil || !reflect.DeepEqual(again, runs) {
			t.Fatalf("re-encoded runs decode to %+v (%v), want %+v", again, err, runs)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add("call/x", appendSnapshot(nil, "call/x", 12, []byte("state")))
	f.Add("", appendSnapshot(nil, "", 0, nil))
	f.Add("s", []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, stream string, v []byte) {
		if tooLong(len(stream) + len(v)) {
			return
		}
		version, data, err := decodeSnapshot([]byte(stream), v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if again := appendSnapshot(nil, stream, version, data); !bytes.Equal(again, v) {
			t.Fatalf("snapshot re-encodes to %x, read %x", again, v)
		}
	})
}
