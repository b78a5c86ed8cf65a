package replay

import (
	"errors"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/callengine/callengine/journal"
)

// scanBatch is how many records the scanning goroutine hands a worker at once.
const scanBatch = 512

// errScanStopped ends the journal scan early once a worker failed.
var errScanStopped = errors.New("replay: scan stopped")

// workerCount is how many goroutines decode and fold: one per core, at most
// 4; the goroutine that scans the journal is one more.
func workerCount() int { return min(max(runtime.GOMAXPROCS(0), 1), 4) }

// seqError is a worker's error with the seq of the record that caused it, so
// that the error of the earliest record is the one returned, whatever the
// scheduling.
type seqError struct {
	seq uint64
	err error
}

// scan reads every record of the journal in seq order and hands each to
// handle on one of workers goroutines, chosen by the record's stream: every
// stream is handled by one goroutine, in seq order. Streams are independent,
// so the workers need no coordination. handle may keep r.Data but not r. The first error (by seq) of handle, or
// the journal's read error, is returned.
func (l *Log) scan(workers int, handle func(w int, r *journal.Record) error) error {
	if workers <= 1 {
		return readError(l.j.Scan(1, func(r journal.Record) error { return handle(0, &r) }))
	}
	feeds := make([]chan []journal.Record, workers)
	// Handled batches come back through free to be filled again: handle
	// must not keep a *journal.Record (it may keep Record.Data).
	free := make(chan []journal.Record, 6*workers)
	errs := make([]seqError, workers)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range feeds {
		feeds[w] = make(chan []journal.Record, 4)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for batch := range feeds[w] {
				if failed.Load() {
					continue // drain
				}
				for i := range batch {
					if err := handle(w, &batch[i]); err != nil {
						errs[w] = seqError{batch[i].Seq, err}
						failed.Store(true)
						break
					}
				}
				clear(batch)
				select {
				case free <- batch[:0]:
				default:
				}
			}
		}(w)
	}
	seed := maphash.MakeSeed()
	batches := make([][]journal.Record, workers)
	send := func(w int) {
		feeds[w] <- batches[w]
		select {
		case batches[w] = <-free:
		default:
			batches[w] = make([]journal.Record, 0, scanBatch)
		}
	}
	for w := range batches {
		batches[w] = make([]journal.Record, 0, scanBatch)
	}
	// Stream names repeat: Scan gives one string per name and chunk, so the
	// last name's worker is remembered rather than hashed again.
	lastName, lastW := "", 0
	scanErr := l.j.Scan(1, func(r journal.Record) error {
		w := lastW
		if r.Stream != lastName {
			w = int(maphash.String(seed, r.Stream) % uint64(workers))
			lastName, lastW = r.Stream, w
		}
		batches[w] = append(batches[w], r)
		if len(batches[w]) == scanBatch {
			if failed.Load() {
				return errScanStopped
			}
			send(w)
		}
		return nil
	})
	if scanErr == nil {
		for w := range batches {
			if len(batches[w]) > 0 {
				send(w)
			}
		}
	}
	for _, f := range feeds {
		close(f)
	}
	wg.Wait()
	var first *seqError
	for w := range errs {
		if errs[w].err != nil && (first == nil || errs[w].seq < first.seq) {
			first = &errs[w]
		}
	}
	if first != nil {
		return first.err
	}
	if scanErr != nil && !errors.Is(scanErr, errScanStopped) {
		return readError(scanErr)
	}
	return nil
}
