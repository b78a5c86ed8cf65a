package engine

import (
	"context"
	"errors"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// BackupInfo describes a backup written by Backup.
type BackupInfo struct {
	Path        string        // the file written
	Bytes       int64         // its size
	LastSeq     uint64        // the backup holds the events with seq 1…LastSeq
	LiveStreams int           // client and call streams live in the backup (what a restore brings back)
	TxID        uint64        // the journal's bbolt transaction the backup is as of
	Checked     bool          // the backup passed journal.Check
	Duration    time.Duration // wall time, verification included
}

// Backup writes a consistent copy of the engine's journal to path while the
// engine goes on taking commands. The copy is taken in a bbolt read
// transaction (one committed state of the whole journal), written to a
// temporary file next to path, synced, opened and checked as a journal, then
// renamed over path: path is either left as it was or replaced by a complete,
// verified copy. The copy holds every event acknowledged before Backup was
// called, and perhaps some acknowledged while it ran. An engine opened on the
// copy (Config.JournalPath) restores the clients and calls it holds.
//
// Errors: closed (the engine is closed), unavailable (path cannot be
// written, e.g. its directory does not exist), invalid_params (path is the
// journal itself), missing_parameter (empty path), journal_corrupt (the copy
// does not verify). When ctx ends first, Backup returns ctx.Err() and path is
// left as it was.
func (e *Engine) Backup(ctx context.Context, path string) (BackupInfo, error) {
	if err := e.checkOpen(); err != nil {
		return BackupInfo{}, err
	}
	info, err := e.journal.HotCopy(ctx, path, journal.CopyOptions{})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return BackupInfo{}, cerr
		}
		if e.closed.Load() {
			return BackupInfo{}, errcode.Wrap(errcode.Closed, err, "engine closed during the backup")
		}
		return BackupInfo{}, err
	}
	return BackupInfo{
		Path:        info.Path,
		Bytes:       info.Bytes,
		LastSeq:     info.LastSeq,
		LiveStreams: info.LiveStreams,
		TxID:        info.TxID,
		Checked:     info.Checked,
		Duration:    info.Duration,
	}, nil
}
