package engine

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/history"
)

// HistoryEntry is one call in a client's call history (H1): see
// history.Entry.
type HistoryEntry = history.Entry

// HistoryKind is what a call was for a client: made, received or missed.
type HistoryKind = history.Kind

// The kinds of history entries.
const (
	HistoryMade     = history.Made
	HistoryReceived = history.Received
	HistoryMissed   = history.Missed
)

// VoicemailBox is a client's voicemail box (C7): its messages, newest
// first, and their new and total counts (the message-waiting indicator).
type VoicemailBox = history.Box

// VoicemailMessage is one message of a voicemail box, named by the call
// that left it.
type VoicemailMessage = history.Message

// VoicemailCounts are the new and total counts of a voicemail box.
type VoicemailCounts = history.Counts

// HistoryQuery selects entries of a client's history. Zero fields select
// everything; see history.Query for each field.
type HistoryQuery struct {
	// Number keeps the calls whose other party (or the caller id a
	// received call showed) has this number, the same string or one whose
	// digits end with its digits.
	Number string
	// From and To keep the calls set up at or after From and before To.
	From, To time.Time
	// Reasons keeps the calls that ended with one of these reasons as the
	// client sees them.
	Reasons []Reason
	// Kinds keeps the calls of these kinds.
	Kinds []HistoryKind
	// Limit is the most entries returned: default 50, at most 1000.
	Limit int
	// Before is HistoryEntry.Cursor of the last entry of the previous
	// page: the next page starts after it.
	Before string
}

// openHistory opens the call history projection (H1, C7) at
// Config.HistoryPath — rebuilding it from the journal when it is missing or
// stale — and starts following the journal, once restore is done. Nothing
// with Config.NoHistory.
func (e *Engine) openHistory(ctx context.Context) error {
	if e.cfg.NoHistory {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(e.cfg.HistoryPath), 0o755); err != nil {
		return errcode.Wrap(errcode.Unavailable, err, "cannot create the call history's directory")
	}
	h, err := history.Open(e.cfg.HistoryPath, e.journal, history.Options{
		Now: e.cfg.Clock.Now, Logger: e.cfg.Logger, LockTimeout: e.cfg.LockTimeout,
	})
	if err != nil {
		return err
	}
	if why := h.Rebuilt(); why != "" {
		e.cfg.Logger.Info("call history rebuilt from the journal", slog.String("file", e.cfg.HistoryPath), slog.String("why", why))
	}
	h.Follow()
	e.hist.Store(h)
	return nil
}

// closeHistory stops it; Close calls it before the journal closes. It is
// safe when the history was never opened.
func (e *Engine) closeHistory() {
	if h := e.hist.Swap(nil); h != nil {
		if err := h.Close(); err != nil {
			e.cfg.Logger.Warn("call history close", slog.Any("err", err))
		}
	}
}

// history returns the engine's history after checking that the engine is
// open, the history on, and ctx's principal may act for client.
func (e *Engine) history(ctx context.Context, client string) (*history.History, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	if e.cfg.NoHistory {
		return nil, errcode.New(errcode.Unavailable, "the call history is turned off (Config.NoHistory)")
	}
	if client == "" {
		return nil, errcode.New(errcode.MissingParameter, "which client?")
	}
	if err := e.authorizeClient(ctx, client); err != nil {
		return nil, err
	}
	h := e.hist.Load()
	if h == nil {
		return nil, errcode.New(errcode.Closed, "engine closed")
	}
	return h, nil
}

// History lists client's call history (H1): the calls it made, received
// and missed, newest first, with their state, timestamps, durations and end
// reason as the client sees it, filtered and paged by q. It includes every
// call journaled before it was called (it waits for the projection to catch
// up, within ctx).
//
// Errors: missing_parameter without a client; invalid_params for a bad
// query; forbidden for a principal that may not act for the client;
// unavailable when the history is turned off or cannot catch up within ctx.
func (e *Engine) History(ctx context.Context, client string, q HistoryQuery) ([]HistoryEntry, error) {
	h, err := e.history(ctx, client)
	if err != nil {
		return nil, err
	}
	return h.Calls(ctx, history.Query{
		Client: client, Number: q.Number, From: q.From, To: q.To,
		Reasons: q.Reasons, Kinds: q.Kinds, Limit: q.Limit, Before: q.Before,
	})
}

// DeleteHistory removes calls from client's call history (and from no one
// else's). Every call must be in it: otherwise the error is not_found and
// nothing is journaled. The calls' own records stay in the journal.
func (e *Engine) DeleteHistory(ctx context.Context, client string, calls []string) error {
	h, err := e.history(ctx, client)
	if err != nil {
		return err
	}
	if err := checkCalls(ctx, "history", client, calls, h.NotInHistory); err != nil {
		return err
	}
	_, err = e.clientCommand(ctx, client, false, fsm.DeleteHistory{Calls: calls})
	return err
}

// Voicemail returns client's voicemail box (C7): its messages, newest
// first, with who left each, how long it is, when, and whether it is new;
// and the new and total counts.
func (e *Engine) Voicemail(ctx context.Context, client string) (VoicemailBox, error) {
	h, err := e.history(ctx, client)
	if err != nil {
		return VoicemailBox{}, err
	}
	return h.Voicemail(ctx, client)
}

// MarkVoicemailHeard marks messages of client's box, named by their calls,
// heard: they no longer count as new. Every call must have left a message
// in the box: otherwise the error is not_found and nothing is journaled.
func (e *Engine) MarkVoicemailHeard(ctx context.Context, client string, calls []string) error {
	h, err := e.history(ctx, client)
	if err != nil {
		return err
	}
	if err := checkCalls(ctx, "voicemail box", client, calls, h.NotInBox); err != nil {
		return err
	}
	_, err = e.clientCommand(ctx, client, false, fsm.MarkVoicemailHeard{Calls: calls})
	return err
}

// DeleteVoicemail deletes messages from client's box, as MarkVoicemailHeard
// checks them.
func (e *Engine) DeleteVoicemail(ctx context.Context, client string, calls []string) error {
	h, err := e.history(ctx, client)
	if err != nil {
		return err
	}
	if err := checkCalls(ctx, "voicemail box", client, calls, h.NotInBox); err != nil {
		return err
	}
	_, err = e.clientCommand(ctx, client, false, fsm.DeleteVoicemail{Calls: calls})
	return err
}

// checkCalls refuses an empty list and calls that missing reports.
func checkCalls(ctx context.Context, where, client string, calls []string, missing func(context.Context, string, []string) ([]string, error)) error {
	if len(calls) == 0 {
		return errcode.New(errcode.MissingParameter, "no calls given")
	}
	gone, err := missing(ctx, client, calls)
	if err != nil {
		return err
	}
	if len(gone) > 0 {
		return errcode.Newf(errcode.NotFound, "not in the %s of client %s: %s", where, client, strings.Join(gone, ", "))
	}
	return nil
}
