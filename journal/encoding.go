package journal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Bucket names and meta keys of schema 1.
var (
	bucketMeta      = []byte("meta")
	bucketEvents    = []byte("events")
	bucketStreams   = []byte("streams")
	bucketLive      = []byte("live")
	bucketSnapshots = []byte("snapshots")

	journalBuckets = [][]byte{bucketMeta, bucketEvents, bucketStreams, bucketLive, bucketSnapshots}

	keyMagic   = []byte("magic")
	keySchema  = []byte("schema")
	keyIndexed = []byte("indexed") // seq up to which the streams index is on disk

	magic = []byte("callengine-journal")
)

// SchemaVersion is the on-disk schema this package writes and reads.
const SchemaVersion = 1

// MaxStreamLen is the longest stream name Append and SaveSnapshot accept.
const MaxStreamLen = 1024

const (
	crcLen      = 4
	verLen      = 8
	seqLen      = 8
	eventMinLen = crcLen + verLen + 1
	snapMinLen  = crcLen + verLen
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func putSeq(b []byte, seq uint64) { binary.BigEndian.PutUint64(b, seq) }

// uvarintLen is the length of binary.AppendUvarint(nil, x).
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// eventSize is the encoded size of one event value.
func eventSize(stream string, data []byte) int {
	return crcLen + verLen + uvarintLen(uint64(len(stream))) + len(stream) + len(data)
}

// appendEvent appends the encoded event value to dst.
func appendEvent(dst []byte, seq uint64, stream string, version uint64, data []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, version)
	dst = binary.AppendUvarint(dst, uint64(len(stream)))
	dst = append(dst, stream...)
	dst = append(dst, data...)
	binary.LittleEndian.PutUint32(dst[start:], eventCRC(seq, dst[start+crcLen:]))
	return dst
}

// eventCRC is the CRC32C of the event's sequence key (8 bytes, big-endian)
// followed by body.
func eventCRC(seq uint64, body []byte) uint32 {
	return crc32.Update(seqCRC(seq), castagnoli, body)
}

// seqCRC is crc32.Update(0, castagnoli, key) of seq's 8-byte key, computed
// bytewise: a key slice handed to crc32 would escape, one allocation per
// event.
func seqCRC(seq uint64) uint32 {
	crc := ^uint32(0)
	for shift := 56; shift >= 0; shift -= 8 {
		crc = castagnoli[byte(crc)^byte(seq>>shift)] ^ (crc >> 8)
	}
	return ^crc
}

// decodeEvent checks and splits an event value. The returned slices alias v.
func decodeEvent(seq uint64, v []byte) (stream []byte, version uint64, data []byte, err error) {
	if len(v) < eventMinLen {
		return nil, 0, nil, corruptf("event seq %d: value too short (%d bytes)", seq, len(v))
	}
	if got, want := eventCRC(seq, v[crcLen:]), binary.LittleEndian.Uint32(v); got != want {
		return nil, 0, nil, corruptf("event seq %d: checksum mismatch (stored %08x, computed %08x)", seq, want, got)
	}
	version = binary.BigEndian.Uint64(v[crcLen:])
	rest := v[crcLen+verLen:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > uint64(len(rest)-w) {
		return nil, 0, nil, corruptf("event seq %d: bad stream length", seq)
	}
	rest = rest[w:]
	return rest[:n], version, rest[n:], nil
}

// indexPrefixLen is the length of the streams-index key prefix of stream.
func indexPrefixLen(stream string) int {
	return uvarintLen(uint64(len(stream))) + len(stream)
}

// appendIndexPrefix appends the streams-index key prefix of stream.
func appendIndexPrefix(dst []byte, stream string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(stream)))
	return append(dst, stream...)
}

// appendIndexKey appends the streams-index key of (stream, version).
func appendIndexKey(dst []byte, stream string, version uint64) []byte {
	return binary.BigEndian.AppendUint64(appendIndexPrefix(dst, stream), version)
}

// indexEntry is a run of count records of one stream with consecutive
// versions first.. and consecutive seqs seq...
type indexEntry struct {
	first, seq, count uint64
}

func (e indexEntry) last() uint64 { return e.first + e.count - 1 }

// extends reports whether n continues e in both version and seq.
func (e indexEntry) extends(n indexEntry) bool {
	return e.first+e.count == n.first && e.seq+e.count == n.seq
}

// addRun appends n to runs, merging it into the last run when contiguous.
// It modifies the last element in place: callers own runs.
func addRun(runs []indexEntry, n indexEntry) []indexEntry {
	if l := len(runs); l > 0 && runs[l-1].extends(n) {
		runs[l-1].count += n.count
		return runs
	}
	if runs == nil {
		runs = make([]indexEntry, 0, 8) // a call's runs until the next flush, in one allocation
	}
	return append(runs, n)
}

// An index value holds the runs of consecutive versions starting at the
// key's version: uvarint(total records) then, per run, uvarint(seq gap)
// uvarint(count), where the gap of the first run is its seq and the gap of a
// later run is its seq minus the seq following the previous run.

// maxRunsPerKey bounds the size of one index value.
const maxRunsPerKey = 1024

// appendIndexValue encodes runs (consecutive in version) as an index value.
func appendIndexValue(dst []byte, runs []indexEntry) []byte {
	var total, next uint64
	for _, r := range runs {
		total += r.count
	}
	dst = binary.AppendUvarint(dst, total)
	for _, r := range runs {
		dst = binary.AppendUvarint(dst, r.seq-next)
		dst = binary.AppendUvarint(dst, r.count)
		next = r.seq + r.count
	}
	return dst
}

// indexKeyVersion returns the version of an index key that starts with
// prefix; ok is false when the key belongs to another stream (or is nil).
func indexKeyVersion(prefix, k []byte) (uint64, bool) {
	if len(k) != len(prefix)+verLen || !bytes.HasPrefix(k, prefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), true
}

// indexTotal decodes the record count of an index value.
func indexTotal(k, v []byte) (uint64, error) {
	total, w := binary.Uvarint(v)
	if w <= 0 || total == 0 {
		return 0, corruptf("index entry %x: bad record count", k)
	}
	return total, nil
}

// decodeIndexRuns appends the runs of index entry (k, v), whose first
// version is first, to runs.
func decodeIndexRuns(first uint64, k, v []byte, runs []indexEntry) ([]indexEntry, error) {
	if first == 0 {
		return runs, corruptf("index entry %x: version 0", k)
	}
	total, w := binary.Uvarint(v)
	if w <= 0 || total == 0 {
		return runs, corruptf("index entry %x: bad record count", k)
	}
	v = v[w:]
	var next, sum uint64
	ver := first
	for len(v) > 0 {
		gap, w1 := binary.Uvarint(v)
		if w1 <= 0 {
			return runs, corruptf("index entry %x: bad run", k)
		}
		count, w2 := binary.Uvarint(v[w1:])
		if w2 <= 0 || count == 0 || count > total-sum {
			return runs, corruptf("index entry %x: bad run", k)
		}
		v = v[w1+w2:]
		seq := next + gap
		if seq < next || seq == 0 || seq+count < seq {
			return runs, corruptf("index entry %x: bad run", k)
		}
		runs = append(runs, indexEntry{first: ver, seq: seq, count: count})
		ver += count
		sum += count
		next = seq + count
	}
	if sum != total {
		return runs, corruptf("index entry %x: runs hold %d records, header says %d", k, sum, total)
	}
	return runs, nil
}

// snapshotCRC covers the stream name, version and data.
func snapshotCRC(stream []byte, body []byte) uint32 {
	c := crc32.Update(0, castagnoli, stream)
	return crc32.Update(c, castagnoli, body)
}

func appendSnapshot(dst []byte, stream string, version uint64, data []byte) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, version)
	dst = append(dst, data...)
	c := crc32.Update(0, castagnoli, []byte(stream))
	c = crc32.Update(c, castagnoli, dst[start+crcLen:])
	binary.LittleEndian.PutUint32(dst[start:], c)
	return dst
}

func decodeSnapshot(stream []byte, v []byte) (version uint64, data []byte, err error) {
	if len(v) < snapMinLen {
		return 0, nil, corruptf("snapshot of %q: value too short", stream)
	}
	if got, want := snapshotCRC(stream, v[crcLen:]), binary.LittleEndian.Uint32(v); got != want {
		return 0, nil, corruptf("snapshot of %q: checksum mismatch", stream)
	}
	return binary.BigEndian.Uint64(v[crcLen:]), v[crcLen+verLen:], nil
}

func decodeLive(stream, v []byte) (uint64, error) {
	if len(v) != verLen {
		return 0, corruptf("live entry %q: value of %d bytes", stream, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
