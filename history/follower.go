package history

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// Follow starts the goroutine that keeps the file up to date: it scans the
// journal from the checkpoint on in batches (Options.BatchSize records),
// folds each batch into the entries held in memory until the next flush
// of the file (see flushEntries) — entries, voicemail messages, the fold's
// state of live calls and the new checkpoint together, in one transaction
// — and then waits for the next commit of the journal (journal.WaitFor). A
// flush that fails (a full disk) drops what was not in the file and applies
// the journal again from the file's checkpoint, with a growing pause;
// queries meanwhile fail with code unavailable. Close stops it and flushes.
// Follow is a no-op after the first call.
func (h *History) Follow() {
	h.applyMu.Lock()
	defer h.applyMu.Unlock()
	if h.closed.Load() || h.following.Swap(true) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go h.follow(ctx)
}

func (h *History) follow(ctx context.Context) {
	defer close(h.done)
	const minPause, maxPause = 50 * time.Millisecond, 5 * time.Second
	pause := minPause
	for {
		err := h.catchUp(ctx)
		if ctx.Err() != nil || h.closed.Load() || errors.Is(err, journal.ErrClosed) {
			return
		}
		if err != nil {
			h.failure.Store(&err)
			h.tick.pulse()
			h.opts.Logger.Error("history: cannot apply the journal", slog.Any("err", err), slog.Duration("retry_in", pause))
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, maxPause)
			continue
		}
		if h.failure.Load() != nil {
			h.failure.Store(nil)
			h.tick.pulse()
		}
		pause = minPause
		// What is not in the file yet is flushed after flushEvery, even
		// when no record comes.
		wait, stop := ctx, context.CancelFunc(func() {})
		if h.unflushed() {
			wait, stop = context.WithTimeout(ctx, flushEvery)
		}
		err = h.j.WaitFor(wait, h.applied.Load())
		stop()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				continue // time to flush
			}
			return // ctx ended, or the journal closed
		}
		if h.opts.Gather > 0 {
			// Let more commits gather: one read of the journal for
			// them all, unless a query is waiting.
			t := time.NewTimer(h.opts.Gather)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-h.hurry:
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// The file is flushed — the entries in pend, the messages, the fold's state
// of live calls and the checkpoint written in one transaction — when pend
// holds flushEntries entries, when flushEvery has passed since the last
// flush, when a batch changes a voicemail message (queries of the box read
// the file alone), by CatchUp and by Close. Between flushes the file lags
// behind: after a crash the follower applies the journal again from its
// checkpoint. Few flushes are what makes the file cheap to keep: an entry
// costs a page of the file written, whatever the number of its changes in
// the flush.
const (
	flushEntries = 32768
	flushEvery   = 3 * time.Second
)

// CatchUp applies every record of the journal that is not in the file yet,
// in batches, and returns when none is left (or ctx ends), the file
// flushed. Queries do it themselves when nothing follows the journal.
func (h *History) CatchUp(ctx context.Context) error {
	if err := h.catchUp(ctx); err != nil {
		return err
	}
	h.applyMu.Lock()
	defer h.applyMu.Unlock()
	if h.closed.Load() {
		return errcode.New(errcode.Closed, "history closed")
	}
	return h.flushOrReset()
}

func (h *History) catchUp(ctx context.Context) error {
	h.applyMu.Lock()
	defer h.applyMu.Unlock()
	var recs []journal.Record
	for {
		if h.closed.Load() {
			return errcode.New(errcode.Closed, "history closed")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Every record up to target was committed before the scan starts:
		// the scan sees it, unless it was archived since.
		target := h.j.LastSeq()
		from := h.applied.Load()
		if from >= target {
			if time.Since(h.flushed.at) >= flushEvery {
				return h.flushOrReset()
			}
			return nil
		}
		recs = recs[:0]
		full := false
		for next := from + 1; ; {
			n := len(recs)
			var err error
			if recs, err = h.j.ScanBatch(next, h.opts.BatchSize-n, recs); err != nil {
				return err
			}
			if len(recs) == n {
				break
			}
			if full = len(recs) >= h.opts.BatchSize; full {
				break
			}
			next = recs[len(recs)-1].Seq + 1
		}
		checkpoint := target
		if n := len(recs); n > 0 && (full || recs[n-1].Seq > target) {
			checkpoint = recs[n-1].Seq
		}
		h.applyBatch(recs, checkpoint)
		if len(h.msgs) > 0 || h.pend.n >= flushEntries || time.Since(h.flushed.at) >= flushEvery {
			if err := h.flushOrReset(); err != nil {
				return err
			}
		}
		h.applied.Store(checkpoint)
		h.tick.pulse()
	}
}

// applyBatch folds recs into the projection and pend, and the changes of
// voicemail messages into msgs.
func (h *History) applyBatch(recs []journal.Record, checkpoint uint64) {
	skipped := 0
	h.pendMu.Lock()
	for _, r := range recs {
		switch {
		case strings.HasPrefix(r.Stream, CallStreamPrefix):
			if passOver(r.Data, &callTypes) {
				continue
			}
		case strings.HasPrefix(r.Stream, ClientStreamPrefix):
			if passOver(r.Data, &clientTypes) {
				continue
			}
		default:
			continue
		}
		env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
		if err := events.DecodeBody(r.Data, &env); err != nil {
			skipped++
			h.opts.Logger.Error("history: record passed over", slog.Uint64("seq", r.Seq), slog.String("stream", r.Stream), slog.Any("err", err))
			continue
		}
		changes := h.proj.Apply(env)
		for i := range changes {
			switch ch := &changes[i]; ch.Op {
			case PutEntry, DeleteEntry:
				h.pend.set(ch)
			default:
				h.msgs = append(h.msgs, *ch)
			}
		}
	}
	h.pendMu.Unlock()
	if n := len(recs); n > 0 {
		f := fingerprintOf(recs[n-1])
		h.last = &f
	}
	h.folded = checkpoint
	h.skipped.Add(uint64(skipped))
}

// flushOrReset flushes the file. If it cannot, the history goes back to what
// the file holds, to apply the journal again from there.
func (h *History) flushOrReset() error {
	err := h.flush()
	if err == nil {
		return nil
	}
	if p, lerr := h.s.loadLive(); lerr == nil {
		h.proj = p
	}
	h.pendMu.Lock()
	h.pend.reset()
	h.pendMu.Unlock()
	h.msgs = h.msgs[:0]
	h.last, h.folded = h.flushed.last, h.flushed.checkpoint
	h.applied.Store(h.flushed.checkpoint)
	return errcode.Wrap(errcode.Unavailable, err, "history: cannot write "+h.s.path)
}

// unflushed reports whether something applied is not in the file yet.
func (h *History) unflushed() bool {
	h.applyMu.Lock()
	defer h.applyMu.Unlock()
	return h.folded != h.flushed.checkpoint || h.pend.n > 0 || len(h.msgs) > 0
}

// flush writes what was applied since the last flush — entries, messages,
// the fold's state of live calls and the checkpoint — in one transaction.
func (h *History) flush() error {
	if h.folded == h.flushed.checkpoint && h.pend.n == 0 && len(h.msgs) == 0 {
		h.flushed.at = time.Now()
		return nil
	}
	h.pendMu.Lock()
	defer h.pendMu.Unlock()
	err := h.s.update(func(tx *bolt.Tx) error {
		w := newWriter(tx)
		for i := range h.msgs {
			if err := w.apply(&h.msgs[i]); err != nil {
				return err
			}
		}
		if err := w.flush(&h.pend); err != nil {
			return err
		}
		if err := saveLive(tx, h.proj); err != nil {
			return err
		}
		return saveCheckpoint(tx, h.folded, h.last)
	})
	if err != nil {
		return err
	}
	h.pend.reset()
	h.msgs = h.msgs[:0]
	h.proj.clearDirty()
	h.flushed.checkpoint, h.flushed.last, h.flushed.at = h.folded, h.last, time.Now()
	return nil
}
