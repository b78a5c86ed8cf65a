package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// parseIndexKey splits a streams-index key into its stream prefix (the
// length-prefixed name), the stream name and the first version.
func parseIndexKey(k []byte) (prefix, stream []byte, first uint64, err error) {
	n, w := binary.Uvarint(k)
	if w <= 0 || n > MaxStreamLen || uint64(len(k)) != uint64(w)+n+verLen {
		return nil, nil, 0, corruptf("index key %x malformed", k)
	}
	prefix = k[:len(k)-verLen]
	return prefix, prefix[w:], binary.BigEndian.Uint64(k[len(prefix):]), nil
}

// checkIndexEntry checks one index entry against the events it points at:
// the key is well formed, its runs decode, and the first and the last
// record it names are events of its stream with the versions it says. It is
// what a lookup checks of the entries next to the stream it looks up: a key
// damaged on disk no longer sorts, or no longer names, the stream it was
// written for, so a lookup of that stream would otherwise find nothing.
func checkIndexEntry(events *bolt.Cursor, k, v []byte, runs []indexEntry) ([]indexEntry, error) {
	_, stream, first, err := parseIndexKey(k)
	if err != nil {
		return runs, err
	}
	if runs, err = decodeIndexRuns(first, k, v, runs[:0]); err != nil {
		return runs, err
	}
	if len(runs) == 0 {
		return runs, corruptf("index entry %x: no runs", k)
	}
	a, b := runs[0], runs[len(runs)-1]
	for _, p := range [2][2]uint64{{a.seq, a.first}, {b.seq + b.count - 1, b.last()}} {
		if err := checkIndexedEvent(events, k, stream, p[0], p[1]); err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// checkIndexedEvent checks that the event at seq is version ver of stream,
// as index entry k says.
func checkIndexedEvent(events *bolt.Cursor, k, stream []byte, seq, ver uint64) error {
	var key [seqLen]byte
	putSeq(key[:], seq)
	ek, ev := events.Seek(key[:])
	if !bytes.Equal(ek, key[:]) {
		return corruptf("index entry %x: %q version %d: event seq %d missing", k, stream, ver, seq)
	}
	s, evVer, _, err := decodeEvent(seq, ev)
	if err != nil {
		return err
	}
	if evVer != ver || !bytes.Equal(s, stream) {
		return corruptf("index entry %x: says seq %d is %q version %d, the event is %q version %d", k, seq, stream, ver, s, evVer)
	}
	return nil
}

// checkNeighbours checks the index entries on either side of stream's
// entries: a lookup that finds nothing, or fewer records than there are,
// because the entry it needed is damaged then fails with ErrCorrupt instead
// of answering "no such stream". A damaged key stays where it was written,
// so it is one of the keys next to the stream's: the one found where the
// stream's entries start if it is not the stream's, the one before it, and
// the one after the stream's last entry. Each is checked as a lookup can
// afford: its key is well formed, its runs decode, and the event its first
// run names is of its stream and version (the checksum is left to the
// reads of that event). key is scratch space, returned for reuse.
func checkNeighbours(tx *bolt.Tx, cur *txCursors, stream string, key []byte) ([]byte, error) {
	if cur.index == nil {
		index, events := tx.Bucket(bucketStreams), tx.Bucket(bucketEvents)
		if index == nil || events == nil {
			return key, corruptf("journal buckets missing")
		}
		cur.index, cur.events = index.Cursor(), events.Cursor()
	}
	c := cur.index
	key = appendIndexKey(key[:0], stream, 0)
	prefix := key[:indexPrefixLen(stream)]
	var last []byte // the last key checked, not to check it twice
	check := func(k, v []byte) error {
		if k == nil || bytes.Equal(k, last) {
			return nil
		}
		if _, ok := indexKeyVersion(prefix, k); ok {
			return nil // the stream's own: the lookup reads it
		}
		last = k
		return checkNeighbour(cur.events, k, v)
	}
	k, v := c.Seek(key)
	if err := check(k, v); err != nil {
		return key, err
	}
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if err := check(k, v); err != nil {
		return key, err
	}
	key = binary.BigEndian.AppendUint64(key[:len(prefix)], ^uint64(0))
	k, v = c.Seek(key)
	return key, check(k, v)
}

// checkNeighbour is checkNeighbours' check of one entry.
func checkNeighbour(events *bolt.Cursor, k, v []byte) error {
	_, stream, first, err := parseIndexKey(k)
	if err != nil {
		return err
	}
	if first == 0 {
		return corruptf("index entry %x: version 0", k)
	}
	total, w := binary.Uvarint(v)
	if w <= 0 || total == 0 {
		return corruptf("index entry %x: bad record count", k)
	}
	gap, w2 := binary.Uvarint(v[w:]) // the first run's gap is its seq
	if w2 <= 0 || gap == 0 {
		return corruptf("index entry %x: bad run", k)
	}
	var sk [seqLen]byte
	putSeq(sk[:], gap)
	ek, ev := events.Seek(sk[:])
	if !bytes.Equal(ek, sk[:]) {
		return corruptf("index entry %x: %q version %d: event seq %d missing", k, stream, first, gap)
	}
	if len(ev) < eventMinLen {
		return corruptf("event seq %d: value too short (%d bytes)", gap, len(ev))
	}
	ver := binary.BigEndian.Uint64(ev[crcLen:])
	rest := ev[crcLen+verLen:]
	n, w3 := binary.Uvarint(rest)
	if w3 <= 0 || n > uint64(len(rest)-w3) || ver != first || !bytes.Equal(rest[w3:w3+int(n)], stream) {
		return corruptf("index entry %x: says seq %d is %q version %d, the event is not", k, gap, stream, first)
	}
	return nil
}

// CheckIndex checks the streams index against the events, entry by entry:
// every key is well formed, every stream's entries hold versions 1, 2, …
// without gaps or overlaps, every record they name is an event of that
// stream with that version (checksum verified), and together they name
// every event up to the index watermark. It returns an error wrapping
// ErrCorrupt that names the first damaged entry, or nil. It reads the whole
// index and every indexed event: it is for tools (replay --verify, backup's
// check, repair), not the hot path. RebuildIndex repairs what it finds.
func (j *Journal) CheckIndex() error {
	return j.view(checkIndexTx)
}

func checkIndexTx(tx *bolt.Tx) error {
	index, events, meta := tx.Bucket(bucketStreams), tx.Bucket(bucketEvents), tx.Bucket(bucketMeta)
	if index == nil || events == nil || meta == nil {
		return corruptf("journal buckets missing")
	}
	idx := meta.Get(keyIndexed)
	if len(idx) != seqLen {
		return corruptf("index watermark of %d bytes", len(idx))
	}
	indexed := binary.BigEndian.Uint64(idx)
	ec := events.Cursor()
	var (
		runs      []indexEntry
		prev      []byte // the previous key's stream prefix
		next      uint64 // the version the next entry of prev must start with
		total     uint64 // records the index names
		seqKey    [seqLen]byte
		lastCheck uint64
	)
	err := index.ForEach(func(k, v []byte) error {
		prefix, stream, first, err := parseIndexKey(k)
		if err != nil {
			return err
		}
		if !bytes.Equal(prefix, prev) {
			if prev != nil && bytes.Compare(prefix, prev) < 0 {
				return corruptf("index key %x out of order", k)
			}
			prev, next = append(prev[:0], prefix...), 1
		}
		if first != next {
			return corruptf("index entry %x: %q starts at version %d, version %d expected", k, stream, first, next)
		}
		if runs, err = decodeIndexRuns(first, k, v, runs[:0]); err != nil {
			return err
		}
		for _, r := range runs {
			if r.seq+r.count-1 > indexed {
				return corruptf("index entry %x points past the index watermark %d", k, indexed)
			}
			for i := range r.count {
				seq := r.seq + i
				putSeq(seqKey[:], seq)
				var ek, ev []byte
				if lastCheck != 0 && seq == lastCheck+1 {
					ek, ev = ec.Next()
				} else {
					ek, ev = ec.Seek(seqKey[:])
				}
				lastCheck = seq
				if !bytes.Equal(ek, seqKey[:]) {
					return corruptf("index entry %x: %q version %d: event seq %d missing", k, stream, r.first+i, seq)
				}
				s, ver, _, err := decodeEvent(seq, ev)
				if err != nil {
					return err
				}
				if ver != r.first+i || !bytes.Equal(s, stream) {
					return corruptf("index entry %x: says seq %d is %q version %d, the event is %q version %d", k, seq, stream, r.first+i, s, ver)
				}
			}
			total += r.count
			next = r.last() + 1
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Each event the index names is a distinct (stream, version): the count
	// tells whether it names them all.
	var n uint64
	c := events.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != seqLen {
			return corruptf("event key %x of %d bytes", k, len(k))
		}
		if binary.BigEndian.Uint64(k) > indexed {
			break
		}
		n++
	}
	if n != total {
		return corruptf("the streams index names %d records, the journal holds %d up to the index watermark %d: index entries are missing", total, n, indexed)
	}
	return nil
}

// RebuildInfo says what RebuildIndex did.
type RebuildInfo struct {
	Events   uint64        // events read (all of them, checksums verified)
	Streams  int           // streams indexed
	Entries  int           // index entries written
	Replaced int           // index entries there were before
	Duration time.Duration // how long it took
}

// RebuildIndex rebuilds the streams index of the journal at path from its
// events, offline: no engine may hold the journal (the file lock is taken;
// ErrLocked after opts.Timeout). The events are the source of truth and
// carry their checksums, stream and version: every one is read and
// verified, each stream's versions must follow each other from 1 (streams
// archived away have left no events), then the old index is dropped and a
// new one written, with the watermark at the last event, in one
// transaction. A damaged event fails it with ErrCorrupt and changes
// nothing: the index can be rebuilt, the events cannot. The live set,
// snapshots and tombstones are kept as they are. The result is checked
// (Check) before RebuildIndex returns.
func RebuildIndex(path string, opts Options) (RebuildInfo, error) {
	start := time.Now()
	var info RebuildInfo
	fi, err := os.Stat(path)
	if err != nil {
		return info, fmt.Errorf("journal: rebuild index of %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return info, fmt.Errorf("journal: rebuild index of %s: empty file: %w", path, ErrNotJournal)
	}
	opts.ReadOnly = false
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	db, err := openBolt(path, opts)
	if err != nil {
		return info, err
	}
	j := &Journal{path: path, db: db, readOnly: true, pend: pendingIndex{streams: make(map[string][]indexEntry)}}
	defer func() {
		if !j.stuck.Load() {
			_ = db.Close()
		}
	}()
	if _, err := j.checkLayoutView(); err != nil {
		return info, err
	}
	// Read and verify every event, collecting each stream's runs.
	type streamRuns struct {
		name string
		runs []indexEntry
	}
	byName := make(map[string]*streamRuns)
	var last uint64
	err = j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != seqLen {
				return corruptf("%s: event key %x of %d bytes", path, k, len(k))
			}
			seq := binary.BigEndian.Uint64(k)
			s, ver, _, err := decodeEvent(seq, v)
			if err != nil {
				return err
			}
			sr := byName[string(s)]
			if sr == nil {
				sr = &streamRuns{name: string(s)}
				byName[sr.name] = sr
			}
			want := uint64(1)
			if l := len(sr.runs); l > 0 {
				want = sr.runs[l-1].last() + 1
			}
			if ver != want {
				return corruptf("%s: event seq %d is %q version %d, version %d expected: the events themselves are damaged, the index cannot be rebuilt", path, seq, s, ver, want)
			}
			sr.runs = addRun(sr.runs, indexEntry{first: ver, seq: seq, count: 1})
			info.Events++
			last = seq
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	list := make([]*streamRuns, 0, len(byName))
	for _, sr := range byName {
		list = append(list, sr)
	}
	keyOf := func(sr *streamRuns) []byte { return appendIndexPrefix(nil, sr.name) }
	slices.SortFunc(list, func(a, b *streamRuns) int { return bytes.Compare(keyOf(a), keyOf(b)) })
	info.Streams = len(list)
	err = j.writeTx(func(tx *bolt.Tx) error {
		if old := tx.Bucket(bucketStreams); old != nil {
			info.Replaced = old.Stats().KeyN
			if err := tx.DeleteBucket(bucketStreams); err != nil {
				return err
			}
		}
		index, err := tx.CreateBucket(bucketStreams)
		if err != nil {
			return err
		}
		index.FillPercent = 0.9 // written in key order
		for _, sr := range list {
			for rest := sr.runs; len(rest) > 0; {
				part := rest[:min(len(rest), maxRunsPerKey)]
				rest = rest[len(part):]
				// bbolt keeps key and value until the commit: no reuse
				if err := index.Put(appendIndexKey(nil, sr.name, part[0].first), appendIndexValue(nil, part)); err != nil {
					return err
				}
				info.Entries++
			}
		}
		var w [seqLen]byte
		putSeq(w[:], last)
		return tx.Bucket(bucketMeta).Put(keyIndexed, w[:])
	}, true)
	if err != nil {
		if !isKind(err) {
			err = fmt.Errorf("journal: rebuild index of %s: %w", path, err)
		}
		return info, err
	}
	if err := j.view(j.verifyEntries); err != nil {
		return info, fmt.Errorf("journal: rebuild index of %s: the rebuilt journal does not check: %w", path, err)
	}
	info.Duration = time.Since(start)
	return info, nil
}

// checkLayoutView runs checkLayout in a read transaction.
func (j *Journal) checkLayoutView() (uint64, error) {
	var last uint64
	err := j.view(func(tx *bolt.Tx) error {
		var err error
		last, err = j.checkLayout(tx)
		if err == errFresh {
			return fmt.Errorf("journal: %s: empty bbolt file: %w", j.path, ErrNotJournal)
		}
		return err
	})
	return last, err
}
