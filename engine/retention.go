package engine

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// Retention (docs/retention.md): ended calls older than an age leave the hot
// journal. They are written to an archive file first (journal.Archive), and
// the hot journal keeps a tombstone per stream.
//
// What goes, decided from the journal alone (so that `callengine archive`
// decides the same offline):
//
//   - a call stream ("call/…") that is not live, whose last event is a
//     CallEnded at an engine-clock time before the cutoff, and that no live
//     transfer names (as the call it transfers, its consultation call or its
//     new call);
//   - a transfer stream ("transfer/…") that is not live (it has its
//     outcome), whose last event is before the cutoff, and each of whose
//     calls goes too, went before (a tombstone), or was never placed;
//   - a message stream ("message/…") that is not live, whose last event is
//     its MessageDelivered or MessageFailed, before the cutoff.
//
// Clients, groups, sessions and every live stream stay. An ended transfer
// may stay while a call it names is archived (the call was due, the
// transfer's new call was not); `replay --verify` accepts the reference
// because the tombstone says where the call went. The reverse cannot happen:
// a transfer goes only with, or after, all of its calls.

// ArchiveReport is what Engine.Archive (or ArchiveJournal) did.
type ArchiveReport struct {
	Cutoff time.Time `json:"cutoff"` // engine clock: what ended before it was due
	// File is the archive file written ("" when nothing was due):
	// ArchiveDir/archive-YYYYMM.db, the month of the cutoff (UTC).
	File      string `json:"file,omitempty"`
	Calls     int    `json:"calls"`     // call streams archived
	Transfers int    `json:"transfers"` // transfer streams archived
	Messages  int    `json:"messages"`  // message streams archived
	Records   int    `json:"records"`   // their events
	Bytes     int64  `json:"bytes"`     // their encoded size in the journal
	// KeptCalls counts ended calls old enough that stay because a live
	// transfer names them; KeptTransfers ended transfers old enough that
	// stay because a call they name stays.
	KeptCalls     int `json:"kept_calls,omitempty"`
	KeptTransfers int `json:"kept_transfers,omitempty"`
	// HeldBack counts due streams that stay because they hold the journal's
	// last record (see journal.ArchiveInfo.HeldBack); they go next time.
	HeldBack int `json:"held_back,omitempty"`
	// Undelivered counts due streams that stay because a webhook endpoint
	// has not delivered their events yet; they go once it has.
	Undelivered int `json:"undelivered,omitempty"`
	// Undecodable counts streams whose last event does not decode: they
	// stay (run `callengine replay --verify`).
	Undecodable int `json:"undecodable,omitempty"`
	// Duplicates counts events the archive file held already (an earlier
	// run stopped between its copy and its delete).
	Duplicates int `json:"duplicates,omitempty"`
	// Before and After are the hot journal's size: the file does not
	// shrink (bbolt reuses the freed pages), its in-use bytes do.
	Before   journal.Usage `json:"before"`
	After    journal.Usage `json:"after"`
	Duration time.Duration `json:"duration"`
}

// Archive moves the calls that ended more than olderThan ago (engine clock),
// and the transfers and messages that go with them, out of the journal into
// Config.ArchiveDir/archive-YYYYMM.db (see ArchiveJournal for what goes).
// Live calls, clients and everything a live stream refers to stay. The engine
// goes on taking commands meanwhile: each batch's deletion is one journal
// write transaction, serialised with appends. Archive calls of one engine run
// one at a time; Close stops the one under way between two batches (it then
// returns closed; what was archived stays archived).
//
// After Archive, an archived call is not in the engine any more: Call
// returns not_found; the archive file holds its events (`callengine replay
// FILE`). The journal file keeps its size until it is compacted offline
// (`callengine archive --compact`).
//
// Errors: closed, invalid_params (olderThan negative), unavailable (the
// archive file cannot be written), conflict (a stream changed while it was
// archived: run it again), journal_corrupt.
func (e *Engine) Archive(ctx context.Context, olderThan time.Duration) (ArchiveReport, error) {
	if err := e.checkOpen(); err != nil {
		return ArchiveReport{}, err
	}
	if olderThan < 0 {
		return ArchiveReport{}, errcode.Newf(errcode.InvalidParams, "older than %v: a negative age", olderThan)
	}
	g := e.archiveGate()
	g.mu.Lock()
	defer g.mu.Unlock()
	// Close stops an archive under way (between two batches).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(g.ctx, cancel)()
	if err := e.checkOpen(); err != nil {
		return ArchiveReport{}, err
	}
	// Readers that follow the journal see a stream before it goes: the call
	// history catches up now, and a stream with events a webhook endpoint
	// has not delivered yet stays for a later run.
	keepAbove := uint64(math.MaxUint64)
	if h := e.hist.Load(); h != nil {
		if err := h.CatchUp(ctx); err != nil {
			return ArchiveReport{}, err
		}
	}
	if done, ok := e.webhooksDone(); ok {
		keepAbove = done
	}
	rep, err := archiveJournal(ctx, e.journal, e.cfg.ArchiveDir, e.cfg.Clock.Now().Add(-olderThan), keepAbove)
	if err != nil && e.closed.Load() && errcode.CodeOf(err) != errcode.Closed {
		err = errcode.Wrap(errcode.Closed, err, "engine closed during the archive")
	}
	return rep, err
}

// ArchiveJournal archives from j, into dir/archive-YYYYMM.db (the month of
// cutoff, UTC), the streams that ended before cutoff:
//
//   - call streams that are not live, whose last event is a CallEnded before
//     cutoff, and that no live transfer names;
//   - transfer streams that are not live, whose last event is before cutoff,
//     and all of whose calls are archived in this run, were archived before,
//     or were never placed;
//   - message streams that are not live, whose last event (delivered or
//     failed) is before cutoff.
//
// Times are the engine-clock times the events carry. Engine.Archive calls it
// with the engine's journal; `callengine archive` with a journal no engine
// has open. dir is created if missing.
func ArchiveJournal(ctx context.Context, j *journal.Journal, dir string, cutoff time.Time) (ArchiveReport, error) {
	return archiveJournal(ctx, j, dir, cutoff, math.MaxUint64)
}

// archiveJournal is ArchiveJournal keeping the streams whose last event is
// above sequence number keepAbove (not yet delivered to a webhook).
func archiveJournal(ctx context.Context, j *journal.Journal, dir string, cutoff time.Time, keepAbove uint64) (ArchiveReport, error) {
	start := time.Now()
	rep := ArchiveReport{Cutoff: cutoff}
	cut := cutoff.UnixNano()
	var calls, transfers, messages []string
	err := j.Ended([]string{events.CallStreamPrefix, events.TransferStreamPrefix, MessageStreamPrefix}, func(last journal.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var env events.Envelope
		if err := events.DecodeBody(last.Data, &env); err != nil {
			rep.Undecodable++
			return nil
		}
		if env.Time >= cut {
			return nil
		}
		if last.Seq > keepAbove {
			rep.Undelivered++
			return nil
		}
		switch s := last.Stream; {
		case strings.HasPrefix(s, events.CallStreamPrefix):
			if _, ok := env.Event.(events.CallEnded); ok {
				calls = append(calls, s)
			}
		case strings.HasPrefix(s, events.TransferStreamPrefix):
			transfers = append(transfers, s)
		case strings.HasPrefix(s, MessageStreamPrefix):
			switch env.Event.(type) {
			case events.MessageDelivered, events.MessageFailed:
				messages = append(messages, s)
			}
		}
		return nil
	})
	if err != nil {
		return rep, retentionError(err)
	}
	// Calls a live transfer names stay.
	protected := map[string]bool{}
	err = j.LiveStreams(func(stream string) error {
		if !strings.HasPrefix(stream, events.TransferStreamPrefix) {
			return nil
		}
		t, ok, err := transferCalls(j, stream)
		if err != nil || !ok {
			return err
		}
		for _, c := range t {
			protected[events.CallStream(c)] = true
		}
		return nil
	})
	if err != nil {
		return rep, retentionError(err)
	}
	going := map[string]bool{}
	calls = slices.DeleteFunc(calls, func(s string) bool {
		if protected[s] {
			rep.KeptCalls++
			return true
		}
		going[s] = true
		return false
	})
	// A transfer goes with its calls.
	transfers, err = filterErr(transfers, func(s string) (bool, error) {
		refs, ok, err := transferCalls(j, s)
		if err != nil || !ok {
			return false, err
		}
		for _, c := range refs {
			cs := events.CallStream(c)
			if going[cs] {
				continue
			}
			if _, archived, err := j.Archived(cs); err != nil {
				return false, err
			} else if archived {
				continue
			}
			if v, err := j.StreamVersion(cs); err != nil {
				return false, err
			} else if v == 0 {
				continue // never placed
			}
			rep.KeptTransfers++
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return rep, retentionError(err)
	}
	streams := slices.Concat(calls, transfers, messages)
	if len(streams) == 0 {
		if rep.Before, err = j.Usage(); err != nil {
			return rep, retentionError(err)
		}
		rep.After = rep.Before
		rep.Duration = time.Since(start)
		return rep, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, errcode.Wrap(errcode.Unavailable, err, "cannot create the archive directory "+dir)
	}
	rep.File = filepath.Join(dir, ArchiveFileName(cutoff))
	info, err := j.Archive(ctx, streams, rep.File)
	rep.Before, rep.After = info.Before, info.After
	rep.Records, rep.Bytes, rep.Duplicates = info.Records, info.Bytes, info.Duplicates
	held := map[string]bool{}
	for _, s := range info.HeldBack {
		held[s] = true
	}
	rep.HeldBack = len(held)
	if err == nil {
		count := func(list []string) (n int) {
			for _, s := range list {
				if !held[s] {
					n++
				}
			}
			return n
		}
		rep.Calls, rep.Transfers, rep.Messages = count(calls), count(transfers), count(messages)
	}
	rep.Duration = time.Since(start)
	if err != nil {
		return rep, retentionError(err)
	}
	return rep, nil
}

// ArchiveFileName is the archive file that Archive writes for cutoff:
// archive-YYYYMM.db, the month of cutoff in UTC.
func ArchiveFileName(cutoff time.Time) string {
	return "archive-" + cutoff.UTC().Format("200601") + ".db"
}

// transferCalls returns the ids of the calls a transfer names (the call it
// transfers, its consultation call, its new call); ok is false when its
// first event is not a TransferInitiated that decodes (such a transfer is
// left alone).
func transferCalls(j *journal.Journal, stream string) (ids []string, ok bool, err error) {
	errFirst := errors.New("first record read")
	err = j.ReadStream(stream, 1, func(r journal.Record) error {
		var env events.Envelope
		if events.DecodeBody(r.Data, &env) == nil {
			if t, isInit := env.Event.(events.TransferInitiated); isInit {
				for _, id := range []string{t.Call, t.Consult, t.NewCall} {
					if id != "" {
						ids = append(ids, id)
					}
				}
				ok = true
			}
		}
		return errFirst
	})
	if err == errFirst {
		err = nil
	}
	return ids, ok, err
}

// filterErr keeps the elements of list for which keep is true.
func filterErr(list []string, keep func(string) (bool, error)) ([]string, error) {
	out := list[:0]
	for _, s := range list {
		k, err := keep(s)
		if err != nil {
			return nil, err
		}
		if k {
			out = append(out, s)
		}
	}
	return out, nil
}

func retentionError(err error) error {
	if errcode.CodeOf(err) != "" || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := "archive failed"
	switch {
	case errors.Is(err, journal.ErrConflict):
		msg = "a stream changed while it was archived: archive again"
	case errors.Is(err, journal.ErrCorrupt):
		msg = "the journal is damaged"
	case errors.Is(err, journal.ErrClosed):
		msg = "the journal is closed"
	}
	return errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}

// Per-engine retention state. The Engine struct is shared with other
// features; retention keeps its state here, keyed by engine, from Open
// (openRetention) to Close (closeRetention).
var (
	archiveGates sync.Map // *Engine → *archiveGate
	retentions   sync.Map // *Engine → *retention: the periodic archiver
)

// archiveGate makes an engine's Archive calls run one at a time, and lets
// Close stop the one under way.
type archiveGate struct {
	mu     sync.Mutex
	ctx    context.Context // done when the engine closes
	cancel context.CancelFunc
}

func (e *Engine) archiveGate() *archiveGate {
	g := &archiveGate{}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	v, loaded := archiveGates.LoadOrStore(e, g)
	if loaded {
		g.cancel()
	}
	g = v.(*archiveGate)
	if e.closed.Load() {
		archiveGates.Delete(e) // closeRetention may have run already: do not keep the engine
		g.cancel()
	}
	return g
}

// retention is the periodic archiver of one engine.
type retention struct {
	e      *Engine
	period time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // held while a run is under way, and to re-arm
	closed bool
	timer  clock.Timer
}

// RetentionPeriod is how often an engine with Config.RetainEnded = retain
// archives: retain/10, at least a minute, at most an hour (engine clock).
func RetentionPeriod(retain time.Duration) time.Duration {
	return min(max(retain/10, time.Minute), time.Hour)
}

// openRetention starts the periodic archiving of ended calls older than
// Config.RetainEnded, when set: every RetentionPeriod on the engine's clock
// (a virtual clock runs it from Advance, on the advancing goroutine).
func (e *Engine) openRetention(ctx context.Context) error {
	if e.cfg.RetainEnded <= 0 {
		return nil
	}
	r := &retention{e: e, period: RetentionPeriod(e.cfg.RetainEnded)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	retentions.Store(e, r)
	r.mu.Lock()
	r.timer = e.cfg.Clock.AfterFunc(r.period, r.run)
	r.mu.Unlock()
	e.cfg.Logger.Info("retention on", slog.Duration("retain_ended", e.cfg.RetainEnded),
		slog.Duration("every", r.period), slog.String("archive_dir", e.cfg.ArchiveDir))
	return nil
}

// run archives once and arms the next run.
func (r *retention) run() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	e, log := r.e, r.e.cfg.Logger
	rep, err := e.Archive(r.ctx, e.cfg.RetainEnded)
	switch {
	case err != nil && (r.ctx.Err() != nil || errcode.CodeOf(err) == errcode.Closed):
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
	r.timer = e.cfg.Clock.AfterFunc(r.period, r.run)
}

// closeRetention stops the periodic archiver (a run under way stops between
// two batches); Close calls it before the journal closes. It is safe when
// retention was never opened.
func (e *Engine) closeRetention() {
	if v, ok := retentions.LoadAndDelete(e); ok {
		r := v.(*retention)
		r.cancel()
		r.mu.Lock()
		r.closed = true
		if r.timer != nil {
			r.timer.Stop()
		}
		r.mu.Unlock()
	}
	if v, ok := archiveGates.LoadAndDelete(e); ok {
		// Stop an Archive call under way, and wait for it.
		g := v.(*archiveGate)
		g.cancel()
		g.mu.Lock()
		g.mu.Unlock() //nolint:staticcheck // a barrier
	}
}
