package journal

// Retention: moving ended streams out of the hot journal into an archive file.
//
// Archive works in two steps per batch of streams, and the order is what
// makes it safe:
//
//  1. Copy. The streams' records are read from the hot journal (a read
//     transaction) and written into the archive file, with their original
//     seq, stream, version and bytes (the event values are copied as they
//     are: their CRC covers the seq, which does not change), in one bbolt
//     transaction of the archive file, which commits with an fsync.
//  2. Delete. Only then, one write transaction of the hot journal, run by the
//     journal's writer goroutine between two batches of appends (so it is
//     serialised with them; there is never a second bbolt write transaction
//     behind the writer's back), checks that each stream is still ended and
//     unchanged, writes the in-memory part of the streams index to disk (so
//     every hole is below the index watermark and Open never meets one),
//     deletes the streams' records, index entries and snapshots, and writes
//     a tombstone per stream.
//
// A crash after step 1 and before step 2 commits leaves the records in both
// files; Archive of the same streams to the same file is then idempotent: a
// record the archive already holds with the same bytes is not written again
// (ArchiveInfo.Duplicates counts them), and step 2 runs.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/errcode"
)

// ArchiveInfo describes what Archive did.
type ArchiveInfo struct {
	Archive string `json:"archive"` // the archive file's path
	Streams int    `json:"streams"` // streams moved out of the hot journal
	Records int    `json:"records"` // their records
	// Bytes is what was moved: the encoded records (as stored in the events
	// bucket) and snapshots of those streams.
	Bytes int64 `json:"bytes"`
	// Already counts streams asked for that an earlier Archive had moved
	// already (they have a tombstone): nothing to do for them.
	Already int `json:"already,omitempty"`
	// HeldBack are the streams left in the hot journal because they hold
	// its last record (one at most, unless appends raced with Archive): the
	// record with the highest seq always stays, so that LastSeq never moves
	// back (Open reads it from the last record). They go at the next Archive
	// once anything else was appended.
	HeldBack []string `json:"held_back,omitempty"`
	// Duplicates counts records the archive file held already, with the same
	// bytes (an earlier Archive stopped between its copy and its delete).
	Duplicates int `json:"duplicates,omitempty"`
	// Before and After are the hot journal's size before the first copy and
	// after the last delete. bbolt reuses freed pages but never shrinks the
	// file: FileBytes stays, InUseBytes drops. Compact shrinks the file.
	Before   Usage         `json:"before"`
	After    Usage         `json:"after"`
	Duration time.Duration `json:"duration"`
}

// Usage is the size of a journal file.
type Usage struct {
	FileBytes int64 `json:"file_bytes"` // the file's size on disk
	// InUseBytes is the part of the file that holds data: the bbolt pages
	// up to the high-water mark that are not free (see Journal.Usage).
	InUseBytes int64 `json:"in_use_bytes"`
	FreeBytes  int64 `json:"free_bytes"` // free pages below the high-water mark, reused by later writes
	PageSize   int   `json:"page_size"`
}

// Usage measures the journal file. On a writable journal it is read from
// bbolt's freelist statistics (as of the last write transaction: in-use is
// the high-water mark less the free and pending pages); on a read-only one
// the freelist is not loaded and the pages of every bucket are counted
// instead (reads every page header).
func (j *Journal) Usage() (Usage, error) {
	var u Usage
	err := j.view(func(tx *bolt.Tx) error {
		u = usageOf(tx, j.readOnly)
		return nil
	})
	if err != nil {
		return Usage{}, err
	}
	st, err := os.Stat(j.path)
	if err != nil {
		return Usage{}, fmt.Errorf("journal: %s: %w", j.path, err)
	}
	u.FileBytes = st.Size()
	return u, nil
}

func usageOf(tx *bolt.Tx, walk bool) Usage {
	db := tx.DB()
	page := db.Info().PageSize
	hwm := tx.Size()
	var inUse int64
	if walk {
		s := tx.Cursor().Bucket().Stats()
		inUse = int64(s.BranchAlloc+s.LeafAlloc) + 2*int64(page) // + the two meta pages
	} else {
		st := db.Stats()
		inUse = hwm - int64(st.FreePageN+st.PendingPageN)*int64(page)
	}
	inUse = min(max(inUse, 0), hwm)
	return Usage{InUseBytes: inUse, FreeBytes: hwm - inUse, PageSize: page}
}

// archiveBatchRecords bounds the records one copy/delete step moves (and
// holds in memory). The delete transaction runs in the writer, so appends
// wait for it: measured on a 2-core machine, a batch of 4096 records held the
// writer about 5–10 ms (plus its fsync), one of 32768 about 60 ms.
const archiveBatchRecords = 4096

// archiveLockTimeout is how long Archive waits for the archive file's lock
// (a `callengine replay` of the archive holds it shared).
const archiveLockTimeout = 5 * time.Second

// Errors of Archive that say why a stream cannot be archived. They are
// wrapped in *errcode.Error values (invalid_state, not_found).
var (
	ErrStreamLive    = errors.New("journal: stream is live")
	ErrStreamUnknown = errors.New("journal: no such stream")
)

// rawRecord is one event as stored: its seq and its encoded value.
type rawRecord struct {
	seq   uint64
	value []byte
}

// archStream is one stream of a batch: its records as copied.
type archStream struct {
	name    string
	version uint64 // its last version when validated
	recs    []rawRecord
	snap    []byte // its snapshot value as stored, nil if none
}

// Archive moves streams out of the hot journal into the archive file dst
// (see the comment at the top of archive.go for the two steps and why they
// are safe). Every stream must exist and be ended (not in the live set);
// otherwise Archive returns an error (invalid_state for a live stream,
// not_found for an unknown one, wrapping ErrStreamLive or ErrStreamUnknown)
// and changes nothing. A stream archived before is skipped
// (ArchiveInfo.Already).
//
// dst is a journal file of its own (open it with Open, ReadOnly, or
// `callengine replay`), created if missing and appended to otherwise; it
// holds only archived streams, with their original sequence numbers, and its
// meta marks it as an archive file. A journal that is not an archive file is
// refused as dst.
//
// After Archive, in the hot journal: the streams' records, index entries and
// snapshots are gone and each has a tombstone (Archived); StreamVersion
// still reports the stream's last version; an Append to it fails with an
// *ArchivedError (a conflict); ReadStream of it reads nothing; Scan skips
// the holes in the sequence; Check accepts them when the tombstones account
// for them. The journal's last record always stays (the stream that holds it
// is held back: ArchiveInfo.HeldBack), so LastSeq never moves back, also
// after a reopen. The file does not shrink (bbolt reuses the freed pages): see
// Compact.
//
// Errors are *errcode.Error values: invalid_state, not_found (above),
// invalid_params (dst is the journal itself, or a journal that is not an
// archive file), unavailable (dst cannot be written or is locked, or the
// journal is read-only), conflict (a stream changed between the copy and the
// delete: run Archive again), closed, journal_corrupt. When ctx ends,
// Archive stops between batches and returns ctx's error with the
// ArchiveInfo of the batches done; the archive file may then hold a copy of
// the next batch, which the next Archive does not duplicate.
func (j *Journal) Archive(ctx context.Context, streams []string, dst string) (ArchiveInfo, error) {
	start := time.Now()
	info := ArchiveInfo{Archive: dst}
	if j.readOnly {
		return info, errcode.Wrap(errcode.Unavailable, fmt.Errorf("journal: %s: %w", j.path, ErrReadOnly), "cannot archive from a read-only journal")
	}
	if j.isClosed.Load() {
		return info, errcode.Wrap(errcode.Closed, fmt.Errorf("journal: %s: %w", j.path, ErrClosed), "the journal is closed")
	}
	if err := ctx.Err(); err != nil {
		return info, err
	}
	if err := checkNotSame(j.path, dst); err != nil {
		return info, err
	}
	names := slices.Clone(streams)
	slices.Sort(names)
	names = slices.Compact(names)
	todo, already, held, err := j.archivable(names)
	if err != nil {
		return info, err
	}
	info.Already, info.HeldBack = already, held
	if info.Before, err = j.Usage(); err != nil {
		return info, archiveError(err, dst)
	}
	if len(todo) == 0 {
		info.After = info.Before
		info.Duration = time.Since(start)
		return info, nil
	}
	a, err := openArchiveFile(dst)
	if err != nil {
		return info, err
	}
	defer a.close()
	file := filepath.Base(dst)
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			info.After, _ = j.Usage()
			info.Duration = time.Since(start)
			return info, err
		}
		n, recs := 0, uint64(0)
		for n < len(todo) && (n == 0 || recs+todo[n].version <= archiveBatchRecords) {
			recs += todo[n].version
			n++
		}
		batch := todo[:n]
		todo = todo[n:]
		if err := j.copyStreams(batch); err != nil {
			return info, archiveError(err, dst)
		}
		dups, err := a.put(batch)
		if err != nil {
			return info, err
		}
		skipped, err := j.deleteArchived(ctx, batch, file)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
				info.After, _ = j.Usage()
				info.Duration = time.Since(start)
				return info, cerr
			}
			return info, archiveError(err, dst)
		}
		info.Duplicates += dups
		for i := range batch {
			s := &batch[i]
			if skipped[s.name] {
				info.Already++
				continue
			}
			info.Streams++
			info.Records += len(s.recs)
			for _, r := range s.recs {
				info.Bytes += int64(len(r.value))
			}
			info.Bytes += int64(len(s.snap))
		}
		clear(batch) // let the records go
	}
	if info.After, err = j.Usage(); err != nil {
		return info, archiveError(err, dst)
	}
	info.Duration = time.Since(start)
	return info, nil
}

// archiveError gives a journal error met while archiving a stable code.
func archiveError(err error, dst string) error {
	if errcode.CodeOf(err) != "" {
		return err
	}
	msg := "cannot archive to " + dst
	switch {
	case errors.Is(err, ErrConflict):
		msg = "a stream changed while it was archived; nothing of it was deleted: archive again"
	case errors.Is(err, ErrCorrupt):
		msg = "the journal is damaged"
	case errors.Is(err, ErrClosed):
		msg = "the journal is closed"
	}
	return errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}

// archivable checks every stream: live or unknown is an error; archived
// already is counted and skipped, and so is the stream that holds the
// journal's last record (held back). It returns the streams to archive with
// their versions.
func (j *Journal) archivable(names []string) (todo []archStream, already int, held []string, err error) {
	pend := make([][]indexEntry, len(names))
	for i, s := range names {
		pend[i] = j.pend.copyRuns(s, nil)
	}
	err = j.view(func(tx *bolt.Tx) error {
		index, live, events := tx.Bucket(bucketStreams), tx.Bucket(bucketLive), tx.Bucket(bucketEvents)
		var tail uint64
		if k, _ := events.Cursor().Last(); len(k) == seqLen {
			tail = binary.BigEndian.Uint64(k)
		}
		var runs []indexEntry
		for i, s := range names {
			if err := checkStream(s); err != nil {
				return errcode.Wrap(errcode.InvalidParams, err, "cannot archive stream "+s)
			}
			if live.Get([]byte(s)) != nil {
				return errcode.Wrap(errcode.InvalidState, fmt.Errorf("journal: archive %q: %w", s, ErrStreamLive),
					fmt.Sprintf("stream %s is live: only ended streams can be archived", s))
			}
			var err error
			if runs, err = streamRuns(index, s, runs[:0]); err != nil {
				return err
			}
			runs = append(runs, pend[i]...)
			if len(runs) == 0 {
				if _, ok, err := tombstone(tx, []byte(s)); err != nil {
					return err
				} else if ok {
					already++
					continue
				}
				return errcode.Wrap(errcode.NotFound, fmt.Errorf("journal: archive %q: %w", s, ErrStreamUnknown),
					fmt.Sprintf("no stream %s in the journal", s))
			}
			last := runs[0]
			for _, r := range runs[1:] {
				if r.last() > last.last() {
					last = r
				}
			}
			if last.seq+last.count-1 >= tail {
				held = append(held, s)
				continue
			}
			todo = append(todo, archStream{name: s, version: last.last()})
		}
		return nil
	})
	if err != nil {
		return nil, 0, nil, archiveError(err, "")
	}
	return todo, already, held, nil
}

// copyStreams reads the records (and snapshot) of every stream of batch as
// stored, checking each record's checksum, stream and version.
func (j *Journal) copyStreams(batch []archStream) error {
	pend := make([][]indexEntry, len(batch))
	for i := range batch {
		pend[i] = j.pend.copyRuns(batch[i].name, nil)
	}
	return j.view(func(tx *bolt.Tx) error {
		events, index, snaps := tx.Bucket(bucketEvents), tx.Bucket(bucketStreams), tx.Bucket(bucketSnapshots)
		var runs []indexEntry
		for i := range batch {
			s := &batch[i]
			var err error
			if runs, err = streamRuns(index, s.name, runs[:0]); err != nil {
				return err
			}
			runs = append(runs, pend[i]...)
			s.recs = s.recs[:0]
			next := uint64(1)
			for _, run := range runs {
				if run.last() < next {
					continue // flushed while the pending runs were copied: in both
				}
				if run.first > next {
					return corruptf("stream %q: versions %d..%d missing from the index", s.name, next, run.first-1)
				}
				for ver := next; ver <= run.last(); ver++ {
					seq := run.seq + (ver - run.first)
					var k [seqLen]byte
					putSeq(k[:], seq)
					v := events.Get(k[:])
					if v == nil {
						return corruptf("stream %q version %d: event seq %d missing", s.name, ver, seq)
					}
					st, evVer, _, err := decodeEvent(seq, v)
					if err != nil {
						return err
					}
					if evVer != ver || string(st) != s.name {
						return corruptf("event seq %d is %q version %d, index says %q version %d", seq, st, evVer, s.name, ver)
					}
					s.recs = append(s.recs, rawRecord{seq: seq, value: bytes.Clone(v)})
				}
				next = run.last() + 1
			}
			if uint64(len(s.recs)) < s.version {
				return corruptf("stream %q: %d records found, version %d expected", s.name, len(s.recs), s.version)
			}
			s.version = uint64(len(s.recs))
			s.snap = nil
			if v := snaps.Get([]byte(s.name)); v != nil {
				if _, _, err := decodeSnapshot([]byte(s.name), v); err != nil {
					return err
				}
				s.snap = bytes.Clone(v)
			}
		}
		return nil
	})
}

// streamRuns appends the runs of every on-disk index entry of stream, in
// version order.
func streamRuns(index *bolt.Bucket, stream string, runs []indexEntry) ([]indexEntry, error) {
	prefix := appendIndexPrefix(nil, stream)
	c := index.Cursor()
	for k, v := c.Seek(prefix); k != nil; k, v = c.Next() {
		first, ok := indexKeyVersion(prefix, k)
		if !ok {
			if bytes.HasPrefix(k, prefix) {
				continue // cannot happen: a longer key with this prefix is another length
			}
			break
		}
		var err error
		if runs, err = decodeIndexRuns(first, k, v, runs); err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// streamIndexKeys returns copies of the on-disk index keys of stream.
func streamIndexKeys(index *bolt.Bucket, stream string) [][]byte {
	prefix := appendIndexPrefix(nil, stream)
	var keys [][]byte
	c := index.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if _, ok := indexKeyVersion(prefix, k); ok {
			keys = append(keys, bytes.Clone(k))
		}
	}
	return keys
}

// deleteArchived runs step 2 in the writer goroutine. It returns the streams
// of batch that had been archived meanwhile (by another Archive).
func (j *Journal) deleteArchived(ctx context.Context, batch []archStream, file string) (map[string]bool, error) {
	skipped := map[string]bool{}
	r := getRequest()
	r.kind = kindExclusive
	r.fn = func() error { return j.deleteInWriter(batch, file, skipped) }
	err := j.submit(ctx, r)
	putRequest(r)
	return skipped, err
}

// deleteInWriter is the delete transaction; it runs in the writer goroutine.
func (j *Journal) deleteInWriter(batch []archStream, file string, skipped map[string]bool) error {
	w := &j.w
	defer func() {
		for i := range batch {
			delete(w.cache, batch[i].name)
		}
	}()
	err := j.update(func(tx *bolt.Tx) error {
		events, index, live := tx.Bucket(bucketEvents), tx.Bucket(bucketStreams), tx.Bucket(bucketLive)
		snaps, meta := tx.Bucket(bucketSnapshots), tx.Bucket(bucketMeta)
		if events == nil || index == nil || live == nil || snaps == nil || meta == nil {
			return corruptf("%s: journal buckets missing", j.path)
		}
		for i := range batch {
			s := &batch[i]
			if live.Get([]byte(s.name)) != nil {
				return fmt.Errorf("journal: archive %q: the stream is live again: %w", s.name, ErrConflict)
			}
			if _, ok, err := tombstone(tx, []byte(s.name)); err != nil {
				return err
			} else if ok {
				skipped[s.name] = true
			}
		}
		// Every record up to w.seq goes to the on-disk index: the holes are
		// then all at or below the watermark, and the records Open reads
		// after it are gap free as before.
		if err := j.writeIndex(tx, false); err != nil {
			return err
		}
		tombs, err := tx.CreateBucketIfNotExists(bucketArchived)
		if err != nil {
			return err
		}
		var runs []indexEntry
		for i := range batch {
			s := &batch[i]
			if skipped[s.name] {
				continue
			}
			if runs, err = streamRuns(index, s.name, runs[:0]); err != nil {
				return err
			}
			// The index, complete now, must name exactly the records copied.
			n := 0
			for _, run := range runs {
				for ver := run.first; ver <= run.last(); ver++ {
					seq := run.seq + (ver - run.first)
					if ver != uint64(n)+1 || n >= len(s.recs) || s.recs[n].seq != seq {
						return fmt.Errorf("journal: archive %q: version %d (seq %d) was not copied: %w", s.name, ver, seq, ErrConflict)
					}
					n++
				}
			}
			if n != len(s.recs) {
				return fmt.Errorf("journal: archive %q: %d records copied, the index has %d: %w", s.name, len(s.recs), n, ErrConflict)
			}
			if s.recs[n-1].seq >= w.seq {
				// archivable held it back; it cannot have become the last
				// record without changing.
				return fmt.Errorf("journal: archive %q: it holds the journal's last record: %w", s.name, ErrConflict)
			}
			for _, r := range s.recs {
				var k [seqLen]byte
				putSeq(k[:], r.seq)
				if err := events.Delete(k[:]); err != nil {
					return err
				}
			}
			for _, k := range streamIndexKeys(index, s.name) {
				if err := index.Delete(k); err != nil {
					return err
				}
			}
			if err := snaps.Delete([]byte(s.name)); err != nil {
				return err
			}
			t := ArchivedStream{Archive: file, Version: s.version, LastSeq: s.recs[len(s.recs)-1].seq}
			if err := tombs.Put([]byte(s.name), appendTombstone(nil, s.name, t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		clear(skipped)
		if !isKind(err) {
			err = fmt.Errorf("journal: %s: archive commit: %w", j.path, err)
		}
		return err
	}
	// The transaction wrote the pending index.
	j.pend.mu.Lock()
	clear(j.pend.streams)
	j.pend.records = 0
	j.pend.mu.Unlock()
	j.flushes.Add(1)
	return nil
}

// archiveFile is an archive file open for writing (no writer goroutine:
// its transactions are Archive's own).
type archiveFile struct {
	j       *Journal // for its path and its panic-safe transactions
	created bool
}

// openArchiveFile opens (or creates) the archive file at path.
func openArchiveFile(path string) (*archiveFile, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, errcode.Newf(errcode.InvalidParams, "%s is a directory, not an archive file", path)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	db, err := openBolt(path, Options{Timeout: archiveLockTimeout})
	if err != nil {
		switch {
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrNotJournal):
			return nil, errcode.Wrap(errcode.InvalidParams, err, path+" is not an archive file")
		case errors.Is(err, ErrLocked):
			return nil, errcode.Wrap(errcode.Unavailable, err, "the archive file "+path+" is held by another process")
		}
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot open the archive file "+path)
	}
	a := &archiveFile{j: &Journal{path: path, db: db}, created: created}
	err = a.j.view(func(tx *bolt.Tx) error {
		if _, err := a.j.checkLayout(tx); err != nil {
			return err
		}
		if !isArchiveFile(tx) {
			return errcode.Newf(errcode.InvalidParams, "%s is a journal, not an archive file: archives go to a file of their own", path)
		}
		return nil
	})
	if err == errFresh {
		err = a.j.update(func(tx *bolt.Tx) error {
			for _, name := range journalBuckets {
				if _, err := tx.CreateBucket(name); err != nil {
					return err
				}
			}
			meta := tx.Bucket(bucketMeta)
			for _, kv := range [][2][]byte{
				{keyMagic, magic},
				{keySchema, binary.BigEndian.AppendUint16(nil, SchemaVersion)},
				{keyIndexed, make([]byte, seqLen)},
				{keyArchiveFile, []byte("1")},
			} {
				if err := meta.Put(kv[0], kv[1]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		a.close()
		if errcode.CodeOf(err) != "" {
			return nil, err
		}
		switch {
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrNewerSchema):
			return nil, errcode.Wrap(errcode.JournalCorrupt, err, "the archive file "+path+" is damaged")
		case errors.Is(err, ErrNotJournal):
			return nil, errcode.Wrap(errcode.InvalidParams, err, path+" is not an archive file")
		}
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot write the archive file "+path)
	}
	if created {
		syncDir(filepath.Dir(path))
	}
	return a, nil
}

func (a *archiveFile) close() {
	if !a.j.stuck.Load() {
		_ = a.j.db.Close()
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// put writes the streams of batch into the archive file in one transaction
// (committed with an fsync). A record the file holds already must have the
// same bytes; it is counted, not written again. It returns that count.
func (a *archiveFile) put(batch []archStream) (int, error) {
	dups := 0
	err := a.j.update(func(tx *bolt.Tx) error {
		dups = 0
		events, index, snaps, meta := tx.Bucket(bucketEvents), tx.Bucket(bucketStreams), tx.Bucket(bucketSnapshots), tx.Bucket(bucketMeta)
		indexed := binary.BigEndian.Uint64(meta.Get(keyIndexed))
		var runs, have []indexEntry
		for i := range batch {
			s := &batch[i]
			// What the archive holds of the stream already must be a
			// prefix of it, record for record.
			var err error
			if have, err = streamRuns(index, s.name, have[:0]); err != nil {
				return err
			}
			n := 0
			for _, run := range have {
				for ver := run.first; ver <= run.last(); ver++ {
					if ver != uint64(n)+1 || n >= len(s.recs) || s.recs[n].seq != run.seq+(ver-run.first) {
						return errcode.Newf(errcode.Conflict, "the archive file %s holds another stream %s (version %d at another seq)", a.j.path, s.name, ver)
					}
					n++
				}
			}
			runs = runs[:0]
			for v, r := range s.recs {
				var k [seqLen]byte
				putSeq(k[:], r.seq)
				if old := events.Get(k[:]); old != nil {
					if !bytes.Equal(old, r.value) {
						return errcode.Newf(errcode.Conflict, "the archive file %s holds another record at seq %d", a.j.path, r.seq)
					}
					dups++
				} else if err := events.Put(k[:], r.value); err != nil {
					return err
				}
				runs = addRun(runs, indexEntry{first: uint64(v) + 1, seq: r.seq, count: 1})
				indexed = max(indexed, r.seq)
			}
			for _, k := range streamIndexKeys(index, s.name) {
				if err := index.Delete(k); err != nil {
					return err
				}
			}
			for rest := runs; len(rest) > 0; {
				part := rest[:min(len(rest), maxRunsPerKey)]
				rest = rest[len(part):]
				if err := index.Put(appendIndexKey(nil, s.name, part[0].first), appendIndexValue(nil, part)); err != nil {
					return err
				}
			}
			if s.snap != nil {
				if err := snaps.Put([]byte(s.name), s.snap); err != nil {
					return err
				}
			}
		}
		return meta.Put(keyIndexed, binary.BigEndian.AppendUint64(nil, indexed))
	})
	if err != nil {
		if errcode.CodeOf(err) != "" {
			return 0, err
		}
		if errors.Is(err, ErrCorrupt) {
			return 0, errcode.Wrap(errcode.JournalCorrupt, err, "the archive file "+a.j.path+" is damaged")
		}
		return 0, errcode.Wrap(errcode.Unavailable, err, "cannot write the archive file "+a.j.path)
	}
	return dups, nil
}

// Ended calls fn with the last record of every stream that is not live (it
// ended: its last Append had end=true) and whose name starts with one of
// prefixes (every stream when prefixes is empty). Archived streams are not
// in the journal any more and are not listed. The order is unspecified. fn
// is called outside of any transaction, on copies; it may call Archive.
//
// Ended reads the streams index (one entry per stream and index flush) and
// one record per ended stream: it is meant for retention, not the hot path.
func (j *Journal) Ended(prefixes []string, fn func(last Record) error) error {
	match := func(s string) bool {
		if len(prefixes) == 0 {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(s, p) {
				return true
			}
		}
		return false
	}
	// The last run of every stream with records after the index watermark,
	// copied before the first transaction (as ReadStream does).
	pendLast := map[string]indexEntry{}
	j.pend.mu.RLock()
	for s, runs := range j.pend.streams {
		if len(runs) > 0 && match(s) {
			pendLast[s] = runs[len(runs)-1]
		}
	}
	j.pend.mu.RUnlock()
	seen := map[string]bool{}
	var after []byte // the index prefix of the last stream listed
	recs := make([]Record, 0, 256)
	for {
		recs = recs[:0]
		more := false
		err := j.view(func(tx *bolt.Tx) error {
			index, live, events := tx.Bucket(bucketStreams), tx.Bucket(bucketLive), tx.Bucket(bucketEvents)
			if index == nil || live == nil || events == nil {
				return corruptf("journal buckets missing")
			}
			var cp copier
			emit := func(name string, last indexEntry) error {
				if p, ok := pendLast[name]; ok && p.last() > last.last() {
					last = p
				}
				if live.Get([]byte(name)) != nil {
					return nil
				}
				seq := last.seq + last.count - 1
				var k [seqLen]byte
				putSeq(k[:], seq)
				v := events.Get(k[:])
				if v == nil {
					if _, ok, err := tombstone(tx, []byte(name)); ok || err != nil {
						return err // archived since the pending runs were copied
					}
					return corruptf("stream %q version %d: event seq %d missing", name, last.last(), seq)
				}
				s, ver, data, err := decodeEvent(seq, v)
				if err != nil {
					return err
				}
				if string(s) != name || ver != last.last() {
					return corruptf("event seq %d is %q version %d, index says %q version %d", seq, s, ver, name, last.last())
				}
				recs = append(recs, Record{Seq: seq, Stream: name, Version: ver, Data: cp.copy(data)})
				return nil
			}
			c := index.Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.First()
			} else {
				k, v = c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(after), ^uint64(0)))
				for k != nil && bytes.HasPrefix(k, after) && len(k) == len(after)+verLen {
					k, v = c.Next()
				}
			}
			var runs []indexEntry
			for k != nil {
				if len(recs) >= chunkRecords {
					more = true
					return nil
				}
				n, w := binary.Uvarint(k)
				if w <= 0 || uint64(len(k)) != uint64(w)+n+verLen {
					return corruptf("index key %x malformed", k)
				}
				prefix := k[:len(k)-verLen]
				name := string(k[w : len(k)-verLen])
				// The stream's last entry holds its last run.
				var lk, lv []byte
				for ; k != nil && len(k) == len(prefix)+verLen && bytes.HasPrefix(k, prefix); k, v = c.Next() {
					lk, lv = k, v
				}
				after = append(after[:0], prefix...)
				seen[name] = true
				if !match(name) {
					continue
				}
				first, _ := indexKeyVersion(prefix, lk)
				var err error
				if runs, err = decodeIndexRuns(first, lk, lv, runs[:0]); err != nil {
					return err
				}
				if err := emit(name, runs[len(runs)-1]); err != nil {
					return err
				}
			}
			// Streams that have records after the watermark only.
			for name, last := range pendLast {
				if !seen[name] {
					seen[name] = true
					if err := emit(name, last); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}
