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
// applies each batch in one transaction of the file — entries, voicemail
// marks, the fold's state of live calls and the new checkpoint together —
// and then waits for the next commit of the journal (journal.WaitFor). A
// batch that fails (a full disk) is retried with a growing pause; queries
// meanwhile fail with code unavailable. Close stops it. Follow is a no-op
// after the first call.
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
		if err := h.j.WaitFor(ctx, h.applied.Load()); err != nil {
			return // ctx ended, or the journal closed
		}
		if h.opts.Gather > 0 {
			// Let more commits gather: one transaction of the file for
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

// CatchUp applies every record of the journal that is not in the file yet,
// in batches, and returns when none is left (or ctx ends). Queries do it
// themselves when nothing follows the journal.
func (h *History) CatchUp(ctx context.Context) error { return h.catchUp(ctx) }

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
			return nil
		}
		recs = recs[:0]
		err := h.j.Scan(from+1, func(r journal.Record) error {
			recs = append(recs, r)
			if len(recs) >= h.opts.BatchSize {
				return errStop
			}
			return nil
		})
		full := err == errStop
		if err != nil && !full {
			return err
		}
		checkpoint := target
		if n := len(recs); n > 0 && (full || recs[n-1].Seq > target) {
			checkpoint = recs[n-1].Seq
		}
		if err := h.applyBatch(recs, checkpoint); err != nil {
			return err
		}
		h.applied.Store(checkpoint)
		h.tick.pulse()
	}
}

// applyBatch folds recs and writes their changes and the checkpoint in one
// transaction. If it fails, the fold's state is reloaded from the file.
func (h *History) applyBatch(recs []journal.Record, checkpoint uint64) error {
	skipped := 0
	err := h.s.update(func(tx *bolt.Tx) error {
		skipped = 0
		w := newWriter(tx)
		for _, r := range recs {
			if !strings.HasPrefix(r.Stream, CallStreamPrefix) && !strings.HasPrefix(r.Stream, ClientStreamPrefix) {
				continue
			}
			env := events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
			if err := events.DecodeBody(r.Data, &env); err != nil {
				skipped++
				h.opts.Logger.Error("history: record passed over", slog.Uint64("seq", r.Seq), slog.String("stream", r.Stream), slog.Any("err", err))
				continue
			}
			for i, changes := 0, h.proj.Apply(env); i < len(changes); i++ {
				if err := w.apply(&changes[i]); err != nil {
					return err
				}
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
		if err := saveLive(tx, h.proj); err != nil {
			return err
		}
		var last *fingerprint
		if n := len(recs); n > 0 {
			f := fingerprintOf(recs[n-1])
			last = &f
		}
		return saveCheckpoint(tx, checkpoint, last)
	})
	if err != nil {
		if p, lerr := h.s.loadLive(); lerr == nil {
			h.proj = p
		}
		return errcode.Wrap(errcode.Unavailable, err, "history: cannot write "+h.s.path)
	}
	h.skipped.Add(uint64(skipped))
	return nil
}
