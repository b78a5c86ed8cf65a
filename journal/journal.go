package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options configure Open. The zero value is a good default.
type Options struct {
	// Timeout is how long Open waits for the file lock; 0 means 1s. Open never
	// waits forever. When the lock is not obtained, Open returns ErrLocked.
	Timeout time.Duration
	// MaxBatch is the most records the writer puts in one write transaction;
	// 0 means 4096. A single Append with more records is written alone.
	MaxBatch int
	// ReadOnly opens the file read-only with a shared lock; Append and
	// SaveSnapshot then return ErrReadOnly. The file must already be a journal.
	ReadOnly bool
	// NoFreelistSync is passed to bbolt: the freelist is not written on each
	// commit (faster commits, slower Open). Durability of records is unchanged.
	NoFreelistSync bool
	// CommitInterval is the least time between the starts of two commits
	// while appends come from more than one caller: the writer holds a
	// commit back until then and takes what arrives meanwhile into it
	// (group commit). Fewer, larger commits cost less CPU and fewer fsyncs
	// per record, for up to this much more latency per append. An append
	// that is alone in flight is committed at once. 0 (the default):
	// commit as soon as the queue is drained.
	CommitInterval time.Duration

	// flushRecords overrides defaultFlushRecords (tests).
	flushRecords int
	// gate, if set, holds the writer until it is closed (tests use it to
	// queue requests that then form one batch).
	gate <-chan struct{}
	// failTx, if set, is called at the end of every append transaction; an
	// error it returns aborts the transaction (tests).
	failTx func() error
}

const (
	defaultTimeout  = time.Second
	defaultMaxBatch = 4096
	// defaultFlushRecords is how many records may have their streams-index
	// runs only in memory (rebuilt from the events on Open) before the writer
	// writes them to the on-disk index, inside the next append transaction.
	defaultFlushRecords = 65536
)

// Stats are counters of a Journal since Open.
type Stats struct {
	Batches   uint64 // committed write transactions that carried appends or snapshots
	Records   uint64 // records committed
	Appends   uint64 // Append calls that committed
	Conflicts uint64 // Append calls refused with a *ConflictError
	// IndexFlushes counts transactions that wrote the in-memory part of the
	// streams index to disk (see the package doc).
	IndexFlushes uint64
	// CommitTime is the time the Batches took to commit, fsync included:
	// over Batches, the mean commit latency.
	CommitTime time.Duration
}

// Journal is an open journal file. All methods are safe for concurrent use.
type Journal struct {
	path     string
	db       *bolt.DB
	readOnly bool
	maxBatch int

	commitInterval time.Duration
	flushRecords   int
	pend           pendingIndex
	gate           <-chan struct{}
	failTx         func() error

	// mu guards closed against Append's send: Append holds it shared while it
	// hands over a request, Close holds it exclusively to set closed.
	mu        sync.RWMutex
	closed    bool
	isClosed  atomic.Bool
	stuck     atomic.Bool // bbolt's writer lock is lost (see writeTx)
	closeErr  error
	closeOnce sync.Once

	reqs       chan *request
	writerDone chan struct{}
	waiting    atomic.Int64 // Append and SaveSnapshot calls in flight

	lastSeq     atomic.Uint64
	tail        tailSignal // wakes WaitFor
	batches     atomic.Uint64
	commitNanos atomic.Uint64
	records     atomic.Uint64
	appends     atomic.Uint64
	conflicts   atomic.Uint64
	flushes     atomic.Uint64

	w writerState // owned by the writer goroutine
}

// Open opens the journal at path, creating the file and the journal layout if
// the file does not exist or is empty (unless opts.ReadOnly). It fails with
// ErrLocked when another holder keeps the file locked longer than
// opts.Timeout, ErrNotJournal for a file that is not a journal, ErrNewerSchema
// for a journal of a newer schema and ErrCorrupt for a damaged one. It never
// panics on a bad file.
func Open(path string, opts Options) (*Journal, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.flushRecords <= 0 {
		opts.flushRecords = defaultFlushRecords
	}
	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	j := &Journal{
		path:     path,
		db:       db,
		readOnly: opts.ReadOnly,
		maxBatch: opts.MaxBatch,

		commitInterval: opts.CommitInterval,

		flushRecords: opts.flushRecords,
		pend:         pendingIndex{streams: make(map[string][]indexEntry)},
		gate:         opts.gate,
		failTx:       opts.failTx,
	}
	if err := j.init(); err != nil {
		if !j.stuck.Load() {
			_ = db.Close()
		}
		return nil, err
	}
	if !j.readOnly {
		j.reqs = make(chan *request, min(max(opts.MaxBatch, 1024), 8192))
		j.writerDone = make(chan struct{})
		j.w.init(j.lastSeq.Load())
		go j.run()
	}
	return j, nil
}

// openBolt opens the bbolt file, turning bbolt errors (and panics or faults on
// a damaged file) into journal errors.
func openBolt(path string, opts Options) (db *bolt.DB, err error) {
	if err := fileProblem(path, opts.ReadOnly); err != nil {
		return nil, err
	}
	var files []*os.File
	bo := &bolt.Options{
		Timeout:        opts.Timeout,
		ReadOnly:       opts.ReadOnly,
		NoFreelistSync: opts.NoFreelistSync,
		FreelistType:   bolt.FreelistMapType,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			if err == nil {
				files = append(files, f)
			}
			return f, err
		},
	}
	defer func() {
		if r := recover(); r != nil {
			// bbolt panicked half-way through Open: release the file (and
			// with it the lock). Its memory map cannot be released.
			for _, f := range files {
				_ = f.Close()
			}
			db, err = nil, fmt.Errorf("journal: open %s: damaged file: %v: %w", path, r, ErrCorrupt)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err = bolt.Open(path, 0o600, bo)
	if err == nil {
		return db, nil
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("journal: open %s: lock not obtained within %v: %w", path, opts.Timeout, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("journal: open %s: not a bbolt file (%v): %w", path, err, ErrNotJournal)
	case strings.Contains(err.Error(), "file size too small"):
		return nil, fmt.Errorf("journal: open %s: not a bbolt file (%v): %w", path, err, ErrNotJournal)
	case errors.Is(err, berrors.ErrChecksum), strings.Contains(err.Error(), "mmap too large"):
		return nil, fmt.Errorf("journal: open %s: %v: %w", path, err, ErrCorrupt)
	}
	return nil, fmt.Errorf("journal: open %s: %w", path, err)
}

var errFresh = errors.New("fresh file")

// init checks the layout (creating it in a fresh file) and loads LastSeq.
func (j *Journal) init() error {
	err := j.view(j.loadLayout)
	if err == errFresh && !j.readOnly {
		err = j.update(func(tx *bolt.Tx) error {
			for _, name := range journalBuckets {
				if _, err := tx.CreateBucket(name); err != nil {
					return err
				}
			}
			meta := tx.Bucket(bucketMeta)
			if err := meta.Put(keyMagic, magic); err != nil {
				return err
			}
			if err := meta.Put(keySchema, binary.BigEndian.AppendUint16(nil, SchemaVersion)); err != nil {
				return err
			}
			return meta.Put(keyIndexed, make([]byte, seqLen))
		})
		if err == nil {
			err = j.view(j.loadLayout)
		}
	}
	if err == errFresh {
		return fmt.Errorf("journal: open %s: empty file: %w", j.path, ErrNotJournal)
	}
	if err != nil && !isKind(err) {
		return fmt.Errorf("journal: open %s: %w", j.path, err)
	}
	return err
}

func (j *Journal) loadLayout(tx *bolt.Tx) error {
	last, err := j.checkLayout(tx)
	if err != nil {
		return err
	}
	indexed := binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keyIndexed))
	// Rebuild the in-memory index of the records after the watermark.
	clear(j.pend.streams)
	j.pend.records = 0
	var key [seqLen]byte
	putSeq(key[:], indexed+1)
	c := tx.Bucket(bucketEvents).Cursor()
	want := indexed + 1
	for k, v := c.Seek(key[:]); k != nil; k, v = c.Next() {
		if len(k) != seqLen || binary.BigEndian.Uint64(k) != want {
			return corruptf("%s: event key %x where seq %d was expected", j.path, k, want)
		}
		s, ver, _, err := decodeEvent(want, v)
		if err != nil {
			return err
		}
		name := string(s)
		runs := j.pend.streams[name]
		if l := len(runs); l > 0 && runs[l-1].last()+1 != ver {
			return corruptf("%s: event seq %d is %q version %d, version %d expected", j.path, want, s, ver, runs[l-1].last()+1)
		}
		j.pend.add(name, indexEntry{first: ver, seq: want, count: 1})
		want++
	}
	j.lastSeq.Store(last)
	return nil
}

// checkLayout checks meta and buckets and returns the last seq.
func (j *Journal) checkLayout(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		c := tx.Cursor()
		if k, _ := c.First(); k != nil {
			empty = false
		}
		if empty {
			return 0, errFresh
		}
		return 0, fmt.Errorf("journal: %s: bbolt file without journal meta: %w", j.path, ErrNotJournal)
	}
	if m := meta.Get(keyMagic); !bytes.Equal(m, magic) {
		return 0, fmt.Errorf("journal: %s: bad magic %q: %w", j.path, m, ErrNotJournal)
	}
	s := meta.Get(keySchema)
	if len(s) != 2 {
		return 0, corruptf("%s: schema value of %d bytes", j.path, len(s))
	}
	switch v := binary.BigEndian.Uint16(s); {
	case v > SchemaVersion:
		return 0, fmt.Errorf("journal: %s: schema %d, this build reads up to %d: %w", j.path, v, SchemaVersion, ErrNewerSchema)
	case v < 1:
		return 0, corruptf("%s: schema %d", j.path, v)
	}
	for _, name := range journalBuckets {
		if tx.Bucket(name) == nil {
			return 0, corruptf("%s: bucket %q missing", j.path, name)
		}
	}
	idx := meta.Get(keyIndexed)
	if len(idx) != seqLen {
		return 0, corruptf("%s: index watermark of %d bytes", j.path, len(idx))
	}
	indexed := binary.BigEndian.Uint64(idx)
	k, v := tx.Bucket(bucketEvents).Cursor().Last()
	if k == nil {
		if indexed != 0 {
			return 0, corruptf("%s: index watermark %d in an empty journal", j.path, indexed)
		}
		return 0, nil
	}
	if len(k) != seqLen {
		return 0, corruptf("%s: event key of %d bytes", j.path, len(k))
	}
	seq := binary.BigEndian.Uint64(k)
	if _, _, _, err := decodeEvent(seq, v); err != nil {
		return 0, err
	}
	if indexed > seq {
		return 0, corruptf("%s: index watermark %d beyond the last event %d", j.path, indexed, seq)
	}
	return seq, nil
}

// view runs fn in a read transaction. A bbolt panic or memory fault on a
// damaged page becomes ErrCorrupt. fn must not call user code.
func (j *Journal) view(fn func(*bolt.Tx) error) (err error) {
	if j.isClosed.Load() {
		return fmt.Errorf("journal: %s: %w", j.path, ErrClosed)
	}
	defer func() {
		if r := recover(); r != nil {
			err = corruptf("%s: damaged page: %v", j.path, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	err = j.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("journal: %s: %w", j.path, ErrClosed)
	}
	return err
}

// update runs fn in a write transaction and commits it (only from Open or
// the writer goroutine), with the same panic protection as view. If bbolt
// panics and cannot even roll back, its writer lock stays held: the journal
// is then marked stuck, and later writes fail with ErrCorrupt instead of
// waiting for that lock forever.
func (j *Journal) update(fn func(*bolt.Tx) error) error {
	return j.writeTx(fn, true)
}

// writeTx runs fn in a write transaction, committed if commit is set and fn
// succeeded, rolled back otherwise.
func (j *Journal) writeTx(fn func(*bolt.Tx) error, commit bool) (err error) {
	if j.stuck.Load() {
		return corruptf("%s: an earlier write failed on a damaged page", j.path)
	}
	var tx *bolt.Tx
	defer func() {
		if r := recover(); r != nil {
			err = corruptf("%s: damaged page: %v", j.path, r)
			if tx == nil || tx.DB() == nil {
				return
			}
			func() {
				defer func() { _ = recover() }()
				_ = tx.Rollback()
			}()
			if tx.DB() != nil {
				j.stuck.Store(true)
			}
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	tx, err = j.db.Begin(true)
	if err != nil {
		return err
	}
	if err = fn(tx); err != nil || !commit {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Path returns the file path the journal was opened with.
func (j *Journal) Path() string { return j.path }

// LastSeq returns the sequence number of the last committed record, 0 for an
// empty journal. In a read-only journal it is the value seen at Open.
func (j *Journal) LastSeq() uint64 { return j.lastSeq.Load() }

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	return Stats{
		Batches:   j.batches.Load(),
		Records:   j.records.Load(),
		Appends:   j.appends.Load(),
		Conflicts: j.conflicts.Load(),

		IndexFlushes: j.flushes.Load(),
		CommitTime:   time.Duration(j.commitNanos.Load()),
	}
}

// Close stops accepting requests, lets the writer commit and answer every
// request already handed to it, and closes the file. It waits for running
// reads to finish. Close is idempotent: later calls return the first result.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.mu.Lock()
		j.closed = true
		j.mu.Unlock()
		if j.reqs != nil {
			close(j.reqs)
			<-j.writerDone
		}
		j.isClosed.Store(true)
		j.tail.waiters.Add(1) // force the wake-up
		j.tail.signal()
		j.tail.waiters.Add(-1)
		if j.stuck.Load() {
			// bbolt's writer lock was lost in a panic: db.Close would wait
			// for it forever. The file stays open until the process exits.
			j.closeErr = corruptf("close %s: file left open after a failed write on a damaged page", j.path)
			return
		}
		if err := j.db.Close(); err != nil {
			j.closeErr = fmt.Errorf("journal: close %s: %w", j.path, err)
		}
	})
	return j.closeErr
}

// submit hands r to the writer and waits for its answer. The context only
// matters until the writer has taken the request.
// lone reports whether the writer's current request is the only one in
// flight: then nobody is about to append and yielding for more is pointless.
func (j *Journal) lone() bool { return j.waiting.Load() <= 1 }

func (j *Journal) submit(ctx context.Context, r *request) error {
	if j.readOnly {
		return fmt.Errorf("journal: %s: %w", j.path, ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.ctx = ctx
	j.waiting.Add(1)
	defer j.waiting.Add(-1)
	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return fmt.Errorf("journal: %s: %w", j.path, ErrClosed)
	}
	select {
	case j.reqs <- r:
	case <-ctx.Done():
		j.mu.RUnlock()
		return ctx.Err()
	}
	j.mu.RUnlock()
	<-r.done
	return r.err
}
