package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Record is one record read from the journal. Data is a copy owned by the
// caller: it stays valid after the callback returns and may be kept or
// modified.
type Record struct {
	Seq     uint64 // global sequence number, from 1
	Stream  string // the stream it belongs to
	Version uint64 // its version within the stream, from 1
	Data    []byte // the bytes given to Append
}

// Reads copy records out of the file in chunks of at most this many records
// or bytes, then call the callback outside of any transaction.
const (
	chunkRecords = 1024
	chunkBytes   = 4 << 20
	arenaBlock   = 64 << 10
)

// copier copies record data into shared blocks that are never reused, so
// each Data may be kept by the caller — unless reuse is set: then it appends
// to one buffer that its owner empties between chunks (ReadStreams, whose
// callers do not keep Data).
type copier struct {
	block []byte
	reuse bool
}

// copy returns a copy of b carved from the current block. Blocks start small
// and double up to arenaBlock: a read of a short stream (a call has a handful
// of events) must not allocate a whole arena — restore reads 100,000 of them.
func (c *copier) copy(b []byte) []byte {
	if c.reuse {
		// A grown buffer leaves the slices already returned in the old
		// one, which stays valid: they are used before the next chunk.
		start := len(c.block)
		c.block = append(c.block, b...)
		return c.block[start:len(c.block):len(c.block)]
	}
	if len(b) > arenaBlock/4 {
		return append([]byte(nil), b...)
	}
	if cap(c.block)-len(c.block) < len(b) {
		size := min(max(2*cap(c.block), 8*len(b), 512), arenaBlock)
		c.block = make([]byte, 0, size)
	}
	start := len(c.block)
	c.block = append(c.block, b...)
	return c.block[start:len(c.block):len(c.block)]
}

// ReadStream calls fn for every record of stream with Version >= fromVersion,
// in version order (fromVersion 0 reads from the start). It stops at the first
// error of fn and returns it. Records committed while ReadStream runs may or
// may not be included. A record that fails its checksum, or an index that
// does not match its records, returns ErrCorrupt. An unknown stream calls fn
// never and returns nil; so does a stream that Archive moved out of the
// journal (see Archived; read it from its archive file), and one archived
// while ReadStream had already returned some of its records returns an error
// wrapping ErrArchived.
func (j *Journal) ReadStream(stream string, fromVersion uint64, fn func(Record) error) error {
	if fromVersion == 0 {
		fromVersion = 1
	}
	recs := make([]Record, 0, 16)
	var pend, scratch []indexEntry
	var key []byte
	delivered := false
	for {
		var more bool
		recs = recs[:0]
		// The pending runs are copied before the transaction starts: runs
		// flushed in between are then in the transaction's index.
		pend = j.pend.copyRuns(stream, pend[:0])
		err := j.view(func(tx *bolt.Tx) error {
			var err error
			recs, more, scratch, err = readStreamChunk(tx, stream, fromVersion, recs, pend, scratch)
			if err == nil && !delivered {
				// A damaged entry next to the stream's would be one of
				// its own that no longer sorts or names it.
				key, err = checkNeighbours(tx, &txCursors{}, stream, key)
			}
			if errors.Is(err, ErrCorrupt) || err == nil && delivered && len(recs) == 0 {
				// Archive may have moved the stream out since the
				// pending runs were copied, or since the last chunk.
				if _, ok, terr := tombstone(tx, []byte(stream)); terr == nil && ok {
					recs, more = recs[:0], false
					if delivered {
						return fmt.Errorf("journal: stream %q was archived while it was read: %w", stream, ErrArchived)
					}
					return nil
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
			delivered = true
		}
		if !more || len(recs) == 0 {
			return nil
		}
		fromVersion = recs[len(recs)-1].Version + 1
	}
}

// streamReader collects one chunk of a stream's records.
type streamReader struct {
	stream  string
	next    uint64 // next version wanted
	recs    []Record
	events  *bolt.Cursor
	lastSeq uint64
	size    int
	cp      *copier
	seqKey  [seqLen]byte
}

// take reads the records of run with version >= r.next. full reports that
// the chunk is full.
func (r *streamReader) take(run indexEntry) (full bool, err error) {
	if run.last() < r.next {
		return false, nil
	}
	if run.first > r.next {
		return false, corruptf("stream %q: versions %d..%d missing from the index", r.stream, r.next, run.first-1)
	}
	for ver := r.next; ver <= run.last(); ver++ {
		if len(r.recs) >= chunkRecords || r.size >= chunkBytes {
			return true, nil
		}
		seq := run.seq + (ver - run.first)
		putSeq(r.seqKey[:], seq)
		var ek, ev []byte
		if r.lastSeq != 0 && seq == r.lastSeq+1 {
			ek, ev = r.events.Next()
		} else {
			ek, ev = r.events.Seek(r.seqKey[:])
		}
		if !bytes.Equal(ek, r.seqKey[:]) {
			return false, corruptf("stream %q version %d: event seq %d missing", r.stream, ver, seq)
		}
		r.lastSeq = seq
		s, evVer, data, err := decodeEvent(seq, ev)
		if err != nil {
			return false, err
		}
		if evVer != ver || string(s) != r.stream {
			return false, corruptf("event seq %d is %q version %d, index says %q version %d", seq, s, evVer, r.stream, ver)
		}
		r.recs = append(r.recs, Record{Seq: seq, Stream: r.stream, Version: ver, Data: r.cp.copy(data)})
		r.size += len(data)
		r.next = ver + 1
	}
	return false, nil
}

// readStreamChunk reads up to a chunk of stream from version from: first
// from the on-disk index, then from pend, the in-memory runs.
func readStreamChunk(tx *bolt.Tx, stream string, from uint64, recs []Record, pend, runs []indexEntry) ([]Record, bool, []indexEntry, error) {
	index, events := tx.Bucket(bucketStreams), tx.Bucket(bucketEvents)
	if index == nil || events == nil {
		return recs, false, runs, corruptf("journal buckets missing")
	}
	cur := txCursors{index: index.Cursor(), events: events.Cursor()}
	return cur.readChunk(stream, from, recs, pend, runs, &copier{})
}

// txCursors are the cursors of one read transaction on the streams index
// and the events, and a key buffer: reused by every stream the transaction
// reads.
type txCursors struct {
	index, events *bolt.Cursor
	key           []byte
}

// readChunk appends to recs the records of stream from version from, up to
// a chunk in all (recs included), copying their data with cp.
func (cur *txCursors) readChunk(stream string, from uint64, recs []Record, pend, runs []indexEntry, cp *copier) ([]Record, bool, []indexEntry, error) {
	r := &streamReader{stream: stream, next: from, recs: recs, events: cur.events, cp: cp}
	cur.key = appendIndexKey(cur.key[:0], stream, from)
	key := cur.key
	prefix := key[:indexPrefixLen(stream)]
	c := cur.index
	k, v := c.Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		// The entry holding version from may start before it.
		var pk, pv []byte
		if k == nil {
			pk, pv = c.Last()
		} else {
			pk, pv = c.Prev()
		}
		if _, ok := indexKeyVersion(prefix, pk); ok {
			k, v = pk, pv
		} else if k != nil {
			k, v = c.Next()
		}
	}
	for ; k != nil; k, v = c.Next() {
		first, ok := indexKeyVersion(prefix, k)
		if !ok {
			break
		}
		var err error
		if runs, err = decodeIndexRuns(first, k, v, runs[:0]); err != nil {
			return r.recs, false, runs, err
		}
		for _, run := range runs {
			full, err := r.take(run)
			if err != nil || full {
				return r.recs, full, runs, err
			}
		}
	}
	for _, run := range pend {
		full, err := r.take(run)
		if err != nil || full {
			return r.recs, full, runs, err
		}
	}
	return r.recs, false, runs, nil
}

// ReadStreams calls fn for every record of each stream of names, stream
// after stream in the order of names, each stream's records in version
// order; i is the stream's index in names. It reads as ReadStream does (a
// stream with no records, unknown or archived, calls fn never; one archived
// while it was being read returns an error wrapping ErrArchived), but many
// streams in one read transaction: it copies a chunk of records — of as
// many streams as fit — out of the file, then calls fn with them outside of
// any transaction. Unlike ReadStream's, a Record's Data is valid only until
// fn returns: the chunks share one buffer. It stops at the first error of
// fn and returns it.
func (j *Journal) ReadStreams(names []string, fn func(i int, r Record) error) error {
	b := readBuffersPool.Get().(*readBuffers)
	defer readBuffersPool.Put(b)
	var (
		recs, spans, cp = b.recs, b.spans, &b.cp
		pend, ends      = b.pend, b.ends
		runs, key       = b.runs, b.key
		from            = uint64(1) // the next version of names[i] to read
		delivered       bool        // records of names[i] were delivered already
	)
	defer func() {
		b.recs, b.spans, b.pend, b.ends, b.runs, b.key = recs[:0], spans[:0], pend[:0], ends[:0], runs[:0], key[:0]
	}()
	for i := 0; i < len(names); {
		n := min(len(names)-i, chunkRecords)
		// Pending runs first, as in ReadStream.
		pend, ends = j.pend.copyRunsOf(names[i:i+n], pend[:0], ends[:0])
		recs, spans, cp.block = recs[:0], spans[:0], cp.block[:0]
		next, nextFrom := i+n, uint64(1) // where the next transaction starts
		var nkey []byte
		err := j.view(func(tx *bolt.Tx) error {
			index, events := tx.Bucket(bucketStreams), tx.Bucket(bucketEvents)
			if index == nil || events == nil {
				return corruptf("journal buckets missing")
			}
			cur := txCursors{index: index.Cursor(), events: events.Cursor(), key: key}
			defer func() { key = cur.key }()
			for k := range n {
				s, f, seen := i+k, uint64(1), false
				if k == 0 {
					f, seen = from, delivered
				} else if len(recs) >= chunkRecords || len(cp.block) >= chunkBytes {
					next = s
					return nil
				}
				before, start := len(recs), 0
				if k > 0 {
					start = ends[k-1]
				}
				var full bool
				var err error
				recs, full, runs, err = cur.readChunk(names[s], f, recs, pend[start:ends[k]], runs, cp)
				if errors.Is(err, ErrCorrupt) || err == nil && seen && len(recs) == before {
					// Archive may have moved the stream out since the
					// pending runs were copied, or since its last chunk.
					if _, ok, terr := tombstone(tx, []byte(names[s])); terr == nil && ok {
						if seen {
							return fmt.Errorf("journal: stream %q was archived while it was read: %w", names[s], ErrArchived)
						}
						recs, full, err = recs[:before], false, nil
					}
				}
				if err == nil && !seen {
					// as in ReadStream: the entries next to the stream's
					nkey, err = checkNeighbours(tx, &cur, names[s], nkey)
				}
				if err != nil {
					return err
				}
				if len(recs) > before {
					spans = append(spans, span{s, len(recs)})
				}
				if full {
					next, nextFrom = s, recs[len(recs)-1].Version+1
					return nil
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		start := 0
		for _, sp := range spans {
			for _, r := range recs[start:sp.end] {
				if err := fn(sp.stream, r); err != nil {
					return err
				}
			}
			start = sp.end
		}
		// The stream the next transaction starts with had records
		// delivered if this chunk ended in the middle of it.
		i, from, delivered = next, nextFrom, nextFrom > 1
	}
	return nil
}

// readBuffers are the buffers of a ReadStreams, reused by the next one:
// restore reads streams a chunk at a time on every core.
type readBuffers struct {
	recs  []Record
	spans []span
	cp    copier
	pend  []indexEntry
	ends  []int
	runs  []indexEntry
	key   []byte
}

// span says that the records before end (after the previous span's) are of
// names[stream].
type span struct{ stream, end int }

var readBuffersPool = sync.Pool{New: func() any {
	return &readBuffers{recs: make([]Record, 0, chunkRecords), cp: copier{reuse: true}}
}}

// copyRunsOf appends to dst the pending runs of each of streams, under one
// lock; ends[k] is the end in dst of those of streams[k].
func (p *pendingIndex) copyRunsOf(streams []string, dst []indexEntry, ends []int) ([]indexEntry, []int) {
	p.mu.RLock()
	for _, s := range streams {
		if p.records > 0 {
			dst = append(dst, p.streams[s]...)
		}
		ends = append(ends, len(dst))
	}
	p.mu.RUnlock()
	return dst, ends
}

// Scan calls fn for every record with Seq >= fromSeq in sequence order (all
// streams), stopping at the first error of fn and returning it. Records
// committed while Scan runs may be included. A record that fails its checksum
// returns ErrCorrupt.
func (j *Journal) Scan(fromSeq uint64, fn func(Record) error) error {
	recs := make([]Record, 0, 64)
	for {
		var more bool
		recs = recs[:0]
		err := j.view(func(tx *bolt.Tx) error {
			var err error
			recs, more, err = scanChunk(tx, fromSeq, recs)
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if !more || len(recs) == 0 {
			return nil
		}
		fromSeq = recs[len(recs)-1].Seq + 1
	}
}

func scanChunk(tx *bolt.Tx, from uint64, recs []Record) ([]Record, bool, error) {
	events := tx.Bucket(bucketEvents)
	if events == nil {
		return recs, false, corruptf("events bucket missing")
	}
	var seqKey [seqLen]byte
	putSeq(seqKey[:], from)
	var cp copier
	names := make(map[string]string)
	size := 0
	c := events.Cursor()
	for k, v := c.Seek(seqKey[:]); k != nil; k, v = c.Next() {
		if len(recs) >= chunkRecords || size >= chunkBytes {
			return recs, true, nil
		}
		if len(k) != seqLen {
			return recs, false, corruptf("event key %x of %d bytes", k, len(k))
		}
		seq := binary.BigEndian.Uint64(k)
		s, ver, data, err := decodeEvent(seq, v)
		if err != nil {
			return recs, false, err
		}
		name, ok := names[string(s)]
		if !ok {
			name = string(s)
			names[name] = name
		}
		recs = append(recs, Record{Seq: seq, Stream: name, Version: ver, Data: cp.copy(data)})
		size += len(data)
	}
	return recs, false, nil
}

// ScanBatch appends to recs the records with Seq >= fromSeq, in sequence
// order, and returns it: at most max of them, and no more than one chunk
// of Scan (1,024 records or 4 MiB), read in one read transaction. A reader
// that applies the journal in batches (the call history) calls it until it
// has a batch: no callback per record, and recs reused from batch to
// batch. Data are copies owned by the caller, as Scan's; the Stream of
// consecutive records of the same stream is one string. Fewer than max
// records (none at the end of the journal) do not mean that none follow:
// call again from the next seq. Errors are Scan's; recs is then returned
// as it was given.
func (j *Journal) ScanBatch(fromSeq uint64, max int, recs []Record) ([]Record, error) {
	start := len(recs)
	max = min(max, chunkRecords)
	err := j.view(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		if events == nil {
			return corruptf("events bucket missing")
		}
		var seqKey [seqLen]byte
		putSeq(seqKey[:], fromSeq)
		var cp copier
		size := 0
		c := events.Cursor()
		for k, v := c.Seek(seqKey[:]); k != nil && len(recs)-start < max && size < chunkBytes; k, v = c.Next() {
			if len(k) != seqLen {
				return corruptf("event key %x of %d bytes", k, len(k))
			}
			seq := binary.BigEndian.Uint64(k)
			s, ver, data, err := decodeEvent(seq, v)
			if err != nil {
				return err
			}
			var name string
			if n := len(recs); n > start && recs[n-1].Stream == string(s) {
				name = recs[n-1].Stream
			} else {
				name = string(s)
			}
			recs = append(recs, Record{Seq: seq, Stream: name, Version: ver, Data: cp.copy(data)})
			size += len(data)
		}
		return nil
	})
	if err != nil {
		return recs[:start], err
	}
	return recs, nil
}

// StreamVersion returns the current (committed) version of stream: the number
// of records it holds, 0 for an unknown stream. For a stream that Archive
// moved out of the journal it is the stream's last version, as its tombstone
// records it (see Archived).
func (j *Journal) StreamVersion(stream string) (uint64, error) {
	var ver uint64
	pend := j.pend.copyRuns(stream, nil) // before the transaction, as in ReadStream
	err := j.view(func(tx *bolt.Tx) error {
		index, live := tx.Bucket(bucketStreams), tx.Bucket(bucketLive)
		if index == nil || live == nil {
			return corruptf("journal buckets missing")
		}
		if v := live.Get([]byte(stream)); v != nil {
			if _, err := decodeLive([]byte(stream), v); err != nil {
				return err
			}
		}
		var buf []byte
		var err error
		ver, err = lastVersionChecked(tx, index, stream, &buf)
		if err == nil {
			// as in ReadStream: the entries next to the stream's
			buf, err = checkNeighbours(tx, &txCursors{}, stream, buf)
		}
		if l := len(pend); l > 0 {
			ver = max(ver, pend[l-1].last())
		}
		if err == nil && ver == 0 {
			t, ok, terr := tombstone(tx, []byte(stream))
			if ok {
				ver = t.Version
			}
			err = terr
		}
		return err
	})
	return ver, err
}

// lastVersionChecked is lastVersion for lookups: the entry it reads is
// checked against the events it names (checkIndexEntry).
func lastVersionChecked(tx *bolt.Tx, index *bolt.Bucket, stream string, buf *[]byte) (uint64, error) {
	k, v, _, ok := lastIndexEntry(index.Cursor(), stream, buf)
	if !ok {
		return 0, nil
	}
	runs, err := checkIndexEntry(tx.Bucket(bucketEvents).Cursor(), k, v, nil)
	if err != nil {
		return 0, err
	}
	return runs[len(runs)-1].last(), nil
}

// Live calls fn for every live stream (it has records and was never ended)
// with its current version, in key (byte) order of the stream names, stopping
// at the first error of fn and returning it. Finding the version costs an
// index lookup per stream: LiveStreams lists the names alone.
func (j *Journal) Live(fn func(stream string, version uint64) error) error {
	return j.live(true, fn)
}

// LiveStreams calls fn for every live stream, in key (byte) order of the
// stream names, stopping at the first error of fn and returning it. It is
// what a restore needs: the names of the streams to fold, and nothing else.
func (j *Journal) LiveStreams(fn func(stream string) error) error {
	return j.live(false, func(s string, _ uint64) error { return fn(s) })
}

func (j *Journal) live(versions bool, fn func(stream string, version uint64) error) error {
	type entry struct {
		stream  string
		version uint64
	}
	var after []byte
	list := make([]entry, 0, 64)
	var pend []indexEntry
	for {
		list = list[:0]
		more := false
		err := j.view(func(tx *bolt.Tx) error {
			live, index := tx.Bucket(bucketLive), tx.Bucket(bucketStreams)
			if live == nil || index == nil {
				return corruptf("journal buckets missing")
			}
			c := live.Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
			for ; k != nil; k, v = c.Next() {
				if len(list) >= chunkRecords {
					more = true
					return nil
				}
				ver, err := decodeLive(k, v)
				if err != nil {
					return err
				}
				if versions {
					pend = j.pend.copyRuns(string(k), pend[:0])
					if ver, err = j.versionOf(index, string(k), pend); err != nil {
						return err
					}
				}
				list = append(list, entry{string(k), ver})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range list {
			if err := fn(e.stream, e.version); err != nil {
				return err
			}
		}
		if !more || len(list) == 0 {
			return nil
		}
		after = []byte(list[len(list)-1].stream)
	}
}

// LoadSnapshot returns the last snapshot saved for stream; ok is false when
// there is none. data is a copy owned by the caller. A snapshot that fails its
// checksum returns ErrCorrupt.
func (j *Journal) LoadSnapshot(stream string) (version uint64, data []byte, ok bool, err error) {
	err = j.view(func(tx *bolt.Tx) error {
		snaps := tx.Bucket(bucketSnapshots)
		if snaps == nil {
			return corruptf("snapshots bucket missing")
		}
		v := snaps.Get([]byte(stream))
		if v == nil {
			return nil
		}
		ver, d, err := decodeSnapshot([]byte(stream), v)
		if err != nil {
			return err
		}
		version, data, ok = ver, append([]byte{}, d...), true
		return nil
	})
	if err != nil {
		return 0, nil, false, err
	}
	return version, data, ok, nil
}

// guardWriter keeps a panic of the caller's writer apart from a bbolt panic.
type guardWriter struct {
	w        io.Writer
	panicked any
}

var errWriterPanicked = fmt.Errorf("journal: backup writer panicked")

func (g *guardWriter) Write(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			g.panicked, err = r, errWriterPanicked
		}
	}()
	return g.w.Write(p)
}

// Backup writes a consistent copy of the whole journal file to w, as of one
// committed transaction, while the journal stays in use (bbolt Tx.WriteTo in a
// read transaction). It returns the number of bytes written. The copy opens
// as a journal holding a prefix of the records.
func (j *Journal) Backup(w io.Writer) (int64, error) {
	g := &guardWriter{w: w}
	var n int64
	err := j.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(g)
		return err
	})
	if g.panicked != nil {
		panic(g.panicked)
	}
	if err != nil && !isKind(err) {
		err = fmt.Errorf("journal: backup of %s: %w", j.path, err)
	}
	return n, err
}

// BackupFile writes a Backup to path: to a temporary file in the same
// directory, synced, then renamed over path, so path is either the old file
// or a complete copy.
func (j *Journal) BackupFile(path string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".tmp-*")
	if err != nil {
		return fmt.Errorf("journal: backup to %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = j.Backup(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("journal: backup to %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("journal: backup to %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("journal: backup to %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("journal: backup to %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
