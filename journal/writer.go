package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

type reqKind uint8

const (
	kindAppend reqKind = iota
	kindSnapshot
	kindCheck
	// kindExclusive runs fn alone in the writer goroutine, between batches
	// (Archive's delete transaction).
	kindExclusive
)

// request is one call handed to the writer. Requests are pooled; the writer
// answers through done (capacity 1) and never touches a request after that.
type request struct {
	kind     reqKind
	ctx      context.Context
	stream   string
	expected uint64 // append: expected version; snapshot: version
	records  [][]byte
	data     []byte // snapshot data
	end      bool
	fn       func() error // kindExclusive

	skip     bool   // not written (context done before it was taken)
	firstSeq uint64 // answer
	err      error  // answer
	done     chan struct{}
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

func getRequest() *request { return requestPool.Get().(*request) }

func putRequest(r *request) {
	done := r.done
	*r = request{done: done}
	requestPool.Put(r)
}

// weight is what r counts against Options.MaxBatch.
func (r *request) weight() int {
	if r.kind == kindAppend {
		return len(r.records)
	}
	return 1
}

// size is the number of arena bytes r needs in a write transaction.
func (r *request) size() int {
	switch r.kind {
	case kindAppend:
		n := verLen
		for _, rec := range r.records {
			n += eventSize(r.stream, rec)
		}
		return n
	case kindSnapshot:
		return crcLen + verLen + len(r.data)
	}
	return 0
}

// streamState is the writer's cached view of a stream.
type streamState struct {
	version  uint64
	live     bool
	archived string // the archive file's base name when the stream was archived (see Archive)
}

// batchRun is the index run of one committed append of the current batch.
type batchRun struct {
	stream string
	run    indexEntry
}

// writerState belongs to the writer goroutine.
type writerState struct {
	seq     uint64                 // last seq assigned (committed after a successful batch)
	cache   map[string]streamState // live streams (plus, during a batch, others touched)
	notLive []string               // streams cached in this batch that are not live
	arena   []byte                 // values of the current transaction (bbolt keeps references until commit)
	key     []byte                 // scratch key buffer (bbolt copies keys)
	seqKey  []byte                 // an event's key (bbolt copies it)
	// Cursors of the current transaction, for lookups: a cursor seeks
	// again without allocating, a Get makes a new one each time.
	indexCur, liveCur *bolt.Cursor
	batch             []*request
	runs              []batchRun // index runs of the current batch, in order
	flush             map[string][]indexEntry
	names             []string
	// lastCommit is when the last commit began; timer waits for the
	// commit interval (see gather).
	lastCommit time.Time
	timer      *time.Timer
}

func (w *writerState) init(lastSeq uint64) {
	w.seq = lastSeq
	w.cache = make(map[string]streamState, 1024)
	w.key = make([]byte, 0, 64)
	w.seqKey = make([]byte, seqLen)
	w.batch = make([]*request, 0, 256)
	w.runs = make([]batchRun, 0, 256)
}

// pendingIndex holds the streams-index runs of records committed after the
// last index flush (seq > the meta "indexed" watermark). Readers copy from it
// under the read lock; the writer changes it under the write lock after a
// commit. Open rebuilds it from the events bucket.
type pendingIndex struct {
	mu      sync.RWMutex
	streams map[string][]indexEntry
	records int // records in streams; written under mu by the writer
}

// add records a committed run (caller holds mu, or owns p exclusively).
func (p *pendingIndex) add(stream string, run indexEntry) {
	p.streams[stream] = addRun(p.streams[stream], run)
	p.records += int(run.count)
}

// copyRuns appends the pending runs of stream to dst.
func (p *pendingIndex) copyRuns(stream string, dst []indexEntry) []indexEntry {
	p.mu.RLock()
	dst = append(dst, p.streams[stream]...)
	p.mu.RUnlock()
	return dst
}

// run is the writer goroutine: take one request (blocking), drain what is
// queued without blocking, commit them in one transaction, answer, repeat.
// When the request channel is closed it flushes the index and returns.
func (j *Journal) run() {
	defer close(j.writerDone)
	debug.SetPanicOnFault(true)
	if j.gate != nil {
		<-j.gate
	}
	var pending *request
	for {
		first := pending
		pending = nil
		if first == nil {
			r, ok := <-j.reqs
			if !ok {
				j.finalFlush()
				return
			}
			first = r
		}
		if first.kind == kindCheck {
			first.err = j.checkInWriter()
			first.done <- struct{}{}
			continue
		}
		if first.kind == kindExclusive {
			if first.err = first.ctx.Err(); first.err == nil {
				first.err = first.fn()
			}
			first.done <- struct{}{}
			continue
		}
		batch := append(j.w.batch[:0], first)
		n := first.weight()
		yielded := false
	drain:
		for n < j.maxBatch {
			select {
			case r, ok := <-j.reqs:
				if !ok {
					break drain
				}
				if r.kind == kindCheck || r.kind == kindExclusive || n+r.weight() > j.maxBatch {
					pending = r
					break drain
				}
				batch = append(batch, r)
				n += r.weight()
			default:
				// The queue is empty. Before paying for a commit, let the
				// goroutines that are runnable — actors about to append —
				// run once, then drain again: under load this multiplies
				// the batch size; a lone writer loses microseconds, not a
				// timer's milliseconds.
				if yielded || len(batch) == 1 && j.lone() {
					break drain
				}
				yielded = true
				runtime.Gosched()
			}
		}
		if j.commitInterval > 0 {
			if pending == nil && n < j.maxBatch {
				batch, pending = j.gather(batch, n)
			}
			j.w.lastCommit = time.Now()
		}
		j.commitBatch(batch)
		for _, r := range batch {
			r.done <- struct{}{}
		}
		clear(batch)
		j.w.batch = batch[:0]
	}
}

// gather holds a commit back until Options.CommitInterval has passed since
// the last one began, taking the appends that arrive meanwhile into batch
// (n is its weight): under a steady stream of appends from many callers, each
// commit then carries what arrived in an interval, not the one or two that
// came during the last fsync. It returns the batch and a request it took
// that belongs to the next batch (nil if none).
func (j *Journal) gather(batch []*request, n int) ([]*request, *request) {
	wait := holdCommit(j.commitInterval, time.Since(j.w.lastCommit), len(batch), j.waiting.Load())
	if wait <= 0 {
		return batch, nil
	}
	if j.w.timer == nil {
		j.w.timer = time.NewTimer(wait)
	} else {
		j.w.timer.Reset(wait)
	}
	defer j.w.timer.Stop()
	for n < j.maxBatch && len(batch) < holdLimit {
		select {
		case r, ok := <-j.reqs:
			if !ok {
				return batch, nil
			}
			if r.kind == kindCheck || r.kind == kindExclusive || n+r.weight() > j.maxBatch {
				return batch, r
			}
			batch = append(batch, r)
			n += r.weight()
		case <-j.w.timer.C:
			return batch, nil
		}
	}
	return batch, nil
}

// holdLimit is the batch holdCommit no longer holds.
const holdLimit = 64

// holdCommit is how long the writer holds a commit of batched requests back,
// with interval the commit interval, since the time since the last commit
// began and inFlight the appends and snapshots whose callers are waiting
// (the batch's included). A request alone in flight is never held: its
// caller is the only one waiting, nothing else is on its way, and a lone
// caller's commands would each wait an interval. Nor is a batch of
// holdLimit requests or more: it pays for its commit already, and under
// that load the writer, woken by a timer, would wait for the CPU behind
// every runnable goroutine — the hold would then last far longer than
// the interval.
func holdCommit(interval, since time.Duration, batched int, inFlight int64) time.Duration {
	if interval <= 0 || batched <= 1 && inFlight <= 1 || batched >= holdLimit {
		return 0
	}
	return max(interval-since, 0)
}

// commitBatch writes batch in one transaction and sets each request's answer.
func (j *Journal) commitBatch(batch []*request) {
	w := &j.w
	need, active := 0, 0
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err, r.skip = err, true
			continue
		}
		active++
		need += r.size()
	}
	if active == 0 {
		return
	}
	if cap(w.arena) < need || (cap(w.arena) > 16<<20 && need < cap(w.arena)/8) {
		w.arena = make([]byte, 0, need+need/4)
	}
	w.arena = w.arena[:0]
	w.runs = w.runs[:0]
	committed := w.seq
	flush := j.pend.records >= j.flushRecords
	var nrec, napp, nconf uint64

	began := time.Now()                                 // the commit's latency, for Stats.CommitTime
	defer func() { w.indexCur, w.liveCur = nil, nil }() // they die with the transaction
	err := j.update(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		index := tx.Bucket(bucketStreams)
		live := tx.Bucket(bucketLive)
		if events == nil || index == nil || live == nil {
			return corruptf("%s: journal buckets missing", j.path)
		}
		events.FillPercent = 1.0
		for _, r := range batch {
			if r.skip {
				continue
			}
			if r.kind == kindSnapshot {
				snaps := tx.Bucket(bucketSnapshots)
				if snaps == nil {
					return corruptf("%s: snapshots bucket missing", j.path)
				}
				start := len(w.arena)
				w.arena = appendSnapshot(w.arena, r.stream, r.expected, r.data)
				w.key = append(w.key[:0], r.stream...)
				if err := snaps.Put(w.key, w.arena[start:]); err != nil {
					return err
				}
				continue
			}
			st, err := j.streamState(tx, index, live, r.stream)
			if err != nil {
				return err
			}
			if st.archived != "" {
				r.err = &ArchivedError{Stream: r.stream, Expected: r.expected, Version: st.version, Archive: st.archived}
				nconf++
				continue
			}
			if st.version != r.expected {
				r.err = &ConflictError{Stream: r.stream, Expected: r.expected, Actual: st.version}
				nconf++
				continue
			}
			r.firstSeq = w.seq + 1
			for i, rec := range r.records {
				w.seq++
				start := len(w.arena)
				w.arena = appendEvent(w.arena, w.seq, r.stream, st.version+1+uint64(i), rec)
				putSeq(w.seqKey, w.seq)
				if err := events.Put(w.seqKey, w.arena[start:]); err != nil {
					return err
				}
			}
			count := uint64(len(r.records))
			w.runs = append(w.runs, batchRun{r.stream, indexEntry{first: st.version + 1, seq: r.firstSeq, count: count}})
			newVersion := st.version + count
			switch {
			case r.end:
				if st.live {
					w.key = append(w.key[:0], r.stream...)
					if err := live.Delete(w.key); err != nil {
						return err
					}
				}
				w.notLive = append(w.notLive, r.stream)
				st.live = false
			case !st.live: // a stream that goes on is live, even one that had ended (a client registered again)
				// The live set changes only when a stream starts or ends: its
				// value is the version the stream had when it became live;
				// the current version comes from the index (see versionOf).
				start := len(w.arena)
				w.arena = binary.BigEndian.AppendUint64(w.arena, newVersion)
				w.key = append(w.key[:0], r.stream...)
				if err := live.Put(w.key, w.arena[start:]); err != nil {
					return err
				}
				st.live = true
			}
			st.version = newVersion
			w.cache[r.stream] = st
			nrec += count
			napp++
		}
		if flush {
			if err := j.writeIndex(tx, true); err != nil {
				return err
			}
		}
		if j.failTx != nil {
			return j.failTx()
		}
		return nil
	})

	if err != nil {
		// Nothing of this batch is on disk: forget what the cache learned.
		clear(w.cache)
		w.seq = committed
		if !isKind(err) {
			err = fmt.Errorf("journal: %s: commit: %w", j.path, err)
		}
		for _, r := range batch {
			if !r.skip {
				r.err = err
				r.firstSeq = 0
			}
		}
	} else {
		j.pend.mu.Lock()
		if flush {
			clear(j.pend.streams)
			j.pend.records = 0
		} else {
			for _, br := range w.runs {
				j.pend.add(br.stream, br.run)
			}
		}
		j.pend.mu.Unlock()
		j.lastSeq.Store(w.seq)
		j.tail.signal()
		j.batches.Add(1)
		j.commitNanos.Add(uint64(time.Since(began)))
		j.records.Add(nrec)
		j.appends.Add(napp)
		j.conflicts.Add(nconf)
		if flush {
			j.flushes.Add(1)
		}
	}
	for _, s := range w.notLive {
		if st, ok := w.cache[s]; ok && !st.live {
			delete(w.cache, s)
		}
	}
	clear(w.notLive)
	w.notLive = w.notLive[:0]
	clear(w.runs)
}

// writeIndex writes the pending index runs (plus, with withBatch, those of
// the current batch) to the streams index, one key per stream (per
// maxRunsPerKey runs), and moves the "indexed" watermark to w.seq.
func (j *Journal) writeIndex(tx *bolt.Tx, withBatch bool) error {
	w := &j.w
	index, meta := tx.Bucket(bucketStreams), tx.Bucket(bucketMeta)
	if index == nil || meta == nil {
		return corruptf("%s: journal buckets missing", j.path)
	}
	if w.flush == nil {
		w.flush = make(map[string][]indexEntry)
	}
	defer clear(w.flush)
	for s, runs := range j.pend.streams {
		w.flush[s] = slices.Clone(runs) // pend is shared with readers: never modify it here
	}
	if withBatch {
		for _, br := range w.runs {
			w.flush[br.stream] = addRun(w.flush[br.stream], br.run)
		}
	}
	names := w.names[:0]
	for s := range w.flush {
		names = append(names, s)
	}
	slices.Sort(names)
	size := 0
	for _, s := range names {
		size += len(w.flush[s]) * 2 * binary.MaxVarintLen64
		size += (len(w.flush[s])/maxRunsPerKey + 1) * binary.MaxVarintLen64
	}
	buf := make([]byte, 0, size) // values must stay valid until the commit
	for _, s := range names {
		for runs := w.flush[s]; len(runs) > 0; {
			part := runs[:min(len(runs), maxRunsPerKey)]
			runs = runs[len(part):]
			start := len(buf)
			buf = appendIndexValue(buf, part)
			w.key = appendIndexKey(w.key[:0], s, part[0].first)
			if err := index.Put(w.key, buf[start:]); err != nil {
				return err
			}
		}
	}
	clear(names)
	w.names = names[:0]
	return meta.Put(keyIndexed, binary.BigEndian.AppendUint64(nil, w.seq))
}

// finalFlush writes the pending index at Close, so that the next Open does
// not need to rebuild it. A failure loses nothing: Open rebuilds it.
func (j *Journal) finalFlush() {
	if j.pend.records == 0 {
		return
	}
	err := j.update(func(tx *bolt.Tx) error { return j.writeIndex(tx, false) })
	if err == nil {
		j.pend.mu.Lock()
		clear(j.pend.streams)
		j.pend.records = 0
		j.pend.mu.Unlock()
		j.flushes.Add(1)
	}
}

// streamState returns the stream's current version and liveness, from the
// cache or, on a miss, from the pending index and the file (then cached).
func (j *Journal) streamState(tx *bolt.Tx, index, live *bolt.Bucket, stream string) (streamState, error) {
	w := &j.w
	if st, ok := w.cache[stream]; ok {
		return st, nil
	}
	var st streamState
	// The index knows every stream's version (its pending runs first: the
	// writer may read pend without the lock). Only a stream with records
	// can be live, so a new one costs no live-set lookup.
	if runs := j.pend.streams[stream]; len(runs) > 0 {
		st.version = runs[len(runs)-1].last()
	} else {
		if w.indexCur == nil {
			w.indexCur = index.Cursor()
		}
		ver, err := lastVersion(w.indexCur, stream, &w.key)
		if err != nil {
			return st, err
		}
		st.version = ver
	}
	w.key = append(w.key[:0], stream...)
	if st.version > 0 {
		if w.liveCur == nil {
			w.liveCur = live.Cursor()
		}
		if k, v := w.liveCur.Seek(w.key); v != nil && bytes.Equal(k, w.key) {
			if _, err := decodeLive(w.key, v); err != nil {
				return st, err
			}
			st.live = true
		}
	} else {
		// Unknown here: perhaps archived (a new stream costs this one
		// lookup; none without the archived bucket).
		t, ok, err := tombstone(tx, w.key)
		if err != nil {
			return st, err
		}
		if ok {
			st.version, st.archived = t.Version, t.Archive
		}
	}
	if !st.live {
		w.notLive = append(w.notLive, stream)
	}
	w.cache[stream] = st
	return st, nil
}

// versionOf returns a stream's current version: the last of its pending
// runs (records committed since the last index flush) or else the last
// version the on-disk streams index holds for it.
func (j *Journal) versionOf(index *bolt.Bucket, stream string, pend []indexEntry) (uint64, error) {
	if l := len(pend); l > 0 {
		return pend[l-1].last(), nil
	}
	var buf []byte
	return lastVersion(index.Cursor(), stream, &buf)
}

// lastVersion reads a stream's last version from the on-disk streams index,
// 0 if it has no entry there. buf is scratch space.
func lastVersion(index *bolt.Cursor, stream string, buf *[]byte) (uint64, error) {
	k, v, first, ok := lastIndexEntry(index, stream, buf)
	if !ok {
		return 0, nil
	}
	total, err := indexTotal(k, v)
	if err != nil {
		return 0, err
	}
	if first == 0 || first+total-1 < first {
		return 0, corruptf("index entry %x: bad version range", k)
	}
	return first + total - 1, nil
}

// lastIndexEntry finds the on-disk index entry of stream's last versions:
// its key and value and the first version it covers; ok is false when the
// stream has no entry. c is a cursor of the streams index (a writer seeks
// with one cursor per transaction: seeking again allocates nothing); buf is
// scratch space.
func lastIndexEntry(c *bolt.Cursor, stream string, buf *[]byte) (k, v []byte, first uint64, ok bool) {
	*buf = appendIndexKey((*buf)[:0], stream, ^uint64(0))
	prefix := (*buf)[:indexPrefixLen(stream)]
	k, v = c.Seek(*buf)
	if k == nil {
		k, v = c.Last()
	} else if !bytes.Equal(k, *buf) {
		k, v = c.Prev()
	}
	first, ok = indexKeyVersion(prefix, k)
	return k, v, first, ok
}
