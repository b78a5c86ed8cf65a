package engine

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/retention"
)

// Archive moves the calls that ended more than olderThan ago (engine clock),
// and the transfers and messages that go with them, out of the journal into
// Config.ArchiveDir/archive-YYYYMM.db (see retention.ArchiveJournal for what
// goes). Live calls, clients and everything a live stream refers to stay. The
// engine goes on taking commands meanwhile: each batch's deletion is one
// journal write transaction, serialised with appends. Archive calls of one
// engine run one at a time; Close stops the one under way between two batches
// (it then returns closed; what was archived stays archived).
//
// After Archive, an archived call is not in the engine any more: Call
// returns not_found; the archive file holds its events (`callengine replay
// FILE`). The journal file keeps its size until it is compacted offline
// (`callengine archive --compact`).
//
// Errors: closed, invalid_params (olderThan negative), unavailable (the
// archive file cannot be written), conflict (a stream changed while it was
// archived: run it again), journal_corrupt.
func (e *Engine) Archive(ctx context.Context, olderThan time.Duration) (retention.Report, error) {
	if err := e.checkOpen(); err != nil {
		return retention.Report{}, err
	}
	if olderThan < 0 {
		return retention.Report{}, errcode.Newf(errcode.InvalidParams, "older than %v: a negative age", olderThan)
	}
	a := e.archiver
	if a == nil {
		// Only while Open runs (an Adapter's Attach): retention starts last.
		return retention.Report{}, errcode.New(errcode.Unavailable, "the engine is still opening: retention has not started")
	}
	a.gate.Lock()
	defer a.gate.Unlock()
	// Close stops an archive under way (between two batches).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(a.ctx, cancel)()
	if err := e.checkOpen(); err != nil {
		return retention.Report{}, err
	}
	// Readers that follow the journal see a stream before it goes: the call
	// history catches up now, and a stream with events a webhook endpoint
	// has not delivered yet stays for a later run.
	keepAbove := uint64(math.MaxUint64)
	if h := e.hist.Load(); h != nil {
		if err := h.CatchUp(ctx); err != nil {
			return retention.Report{}, err
		}
	}
	if done, ok := e.webhooksDone(); ok {
		keepAbove = done
	}
	rep, err := retention.ArchiveJournalUpTo(ctx, e.journal, e.cfg.ArchiveDir, e.cfg.Clock.Now().Add(-olderThan), keepAbove)
	if err != nil && e.closed.Load() && errcode.CodeOf(err) != errcode.Closed {
		err = errcode.Wrap(errcode.Closed, err, "engine closed during the archive")
	}
	return rep, err
}

// archiver is the engine's retention part (the field Engine.archiver): it
// runs the engine's Archive calls one at a time and lets Close stop the one
// under way, and, when Config.RetainEnded is set, archives every period.
// openRetention creates it in Open, closeRetention closes it in Close.
type archiver struct {
	e      *Engine
	gate   sync.Mutex      // held by the Archive call under way
	ctx    context.Context // done when the engine closes: stops the Archive under way
	cancel context.CancelFunc

	// The periodic archiver; period 0 when Config.RetainEnded is not set.
	period time.Duration
	mu     sync.Mutex // held while a periodic run is under way, and to re-arm
	closed bool
	timer  clock.Timer
}

// RetentionPeriod is how often an engine with Config.RetainEnded = retain
// archives: retain/10, at least a minute, at most an hour (engine clock).
func RetentionPeriod(retain time.Duration) time.Duration {
	return min(max(retain/10, time.Minute), time.Hour)
}

// openRetention creates the engine's archiver and, when Config.RetainEnded
// is set, starts the periodic archiving of ended calls older than it: every
// RetentionPeriod on the engine's clock (a virtual clock runs it from
// Advance, on the advancing goroutine).
func (e *Engine) openRetention(ctx context.Context) error {
	a := &archiver{e: e}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	e.archiver = a
	if e.cfg.RetainEnded <= 0 {
		return nil
	}
	a.period = RetentionPeriod(e.cfg.RetainEnded)
	a.mu.Lock()
	a.timer = e.cfg.Clock.AfterFunc(a.period, a.run)
	a.mu.Unlock()
	e.cfg.Logger.Info("retention on", slog.Duration("retain_ended", e.cfg.RetainEnded),
		slog.Duration("every", a.period), slog.String("archive_dir", e.cfg.ArchiveDir))
	return nil
}

// run archives once and arms the next run.
func (a *archiver) run() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	e, log := a.e, a.e.cfg.Logger
	rep, err := e.Archive(a.ctx, e.cfg.RetainEnded)
	switch {
	case err != nil && (a.ctx.Err() != nil || errcode.CodeOf(err) == errcode.Closed):
		return // closing
	case err != nil:
		log.Error("retention: archive failed", slog.String("code", string(errcode.CodeOf(err))), slog.Any("err", err))
	case rep.File == "":
		log.Debug("retention: nothing to archive", slog.Time("cutoff", rep.Cutoff),
			slog.Int("kept_calls", rep.KeptCalls), slog.Int("kept_transfers", rep.KeptTransfers))
	default:
		log.Info("retention: archived", slog.String("file", rep.File), slog.Time("cutoff", rep.Cutoff),
			slog.Int("calls", rep.Calls), slog.Int("transfers", rep.Transfers), slog.Int("messages", rep.Messages),
			slog.Int("records", rep.Records), slog.Int64("bytes", rep.Bytes),
			slog.Int("kept_calls", rep.KeptCalls), slog.Int("kept_transfers", rep.KeptTransfers), slog.Int("held_back", rep.HeldBack),
			slog.Int64("file_bytes", rep.After.FileBytes),
			slog.Int64("in_use_before", rep.Before.InUseBytes), slog.Int64("in_use_after", rep.After.InUseBytes),
			slog.Duration("took", rep.Duration))
	}
	if rep.Undecodable > 0 {
		log.Warn("retention: streams whose last event does not decode stay in the journal", slog.Int("streams", rep.Undecodable))
	}
	a.timer = e.cfg.Clock.AfterFunc(a.period, a.run)
}

// closeRetention stops the periodic archiver and the Archive call under way
// (between two batches), and waits for them; Close calls it before the
// journal closes. It is safe when retention was never opened.
func (e *Engine) closeRetention() {
	if a := e.archiver; a != nil {
		a.close()
	}
}

func (a *archiver) close() {
	a.cancel()
	a.mu.Lock() // a periodic run under way has stopped
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
	a.gate.Lock()   // and so has an Archive call
	a.gate.Unlock() //nolint:staticcheck // a barrier
}
