package retention

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// Report is what an archive run did (ArchiveJournal, engine.Engine.Archive).
type Report struct {
	Cutoff time.Time `json:"cutoff"` // engine clock: what ended before it was due
	// File is the archive file written ("" when nothing was due):
	// dir/archive-YYYYMM.db, the month of the cutoff (UTC).
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
// Times are the engine-clock times the events carry. engine.Engine.Archive
// calls it (through ArchiveJournalUpTo) with the engine's journal;
// `callengine archive` with a journal no engine has open. dir is created if
// missing.
//
// Errors: unavailable (the archive file cannot be written), conflict (a
// stream changed while it was archived: run it again), journal_corrupt, or
// ctx's own error.
func ArchiveJournal(ctx context.Context, j *journal.Journal, dir string, cutoff time.Time) (Report, error) {
	return ArchiveJournalUpTo(ctx, j, dir, cutoff, math.MaxUint64)
}

// ArchiveJournalUpTo is ArchiveJournal keeping the streams whose last event
// is above sequence number upTo: events that a reader following the journal
// (a webhook endpoint) has not had yet. They count in Report.Undelivered and
// go in a later run.
func ArchiveJournalUpTo(ctx context.Context, j *journal.Journal, dir string, cutoff time.Time, upTo uint64) (Report, error) {
	start := time.Now()
	rep := Report{Cutoff: cutoff}
	d, err := selectDue(ctx, j, cutoff, upTo, &rep)
	if err != nil {
		return rep, archiveError(err)
	}
	streams := slices.Concat(d.calls, d.transfers, d.messages)
	if len(streams) == 0 {
		if rep.Before, err = j.Usage(); err != nil {
			return rep, archiveError(err)
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
		rep.Calls, rep.Transfers, rep.Messages = count(d.calls), count(d.transfers), count(d.messages)
	}
	rep.Duration = time.Since(start)
	if err != nil {
		return rep, archiveError(err)
	}
	return rep, nil
}

// ArchiveFileName is the archive file that an archive run writes for cutoff:
// archive-YYYYMM.db, the month of cutoff in UTC.
func ArchiveFileName(cutoff time.Time) string {
	return "archive-" + cutoff.UTC().Format("200601") + ".db"
}

// archiveError gives a journal error its code and a message; errors that
// have a code, and ctx's own, pass as they are.
func archiveError(err error) error {
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
