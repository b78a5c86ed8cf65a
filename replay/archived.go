package replay

import (
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// Retention moves ended calls (and the transfers and messages that go with
// them) out of the hot journal into archive files (docs/retention.md). Both
// open here: a hot journal lacks the archived streams but has a tombstone
// for each, which says which archive file holds it; an archive file holds
// only archived streams, and the streams they name may have stayed in the
// hot journal.

// Archived returns the tombstone of a stream retention moved out of this
// journal; ok is false when it was not archived (or this is an archive file).
func (l *Log) Archived(stream string) (journal.ArchivedStream, bool, error) {
	t, ok, err := l.j.Archived(stream)
	return t, ok, readError(err)
}

// IsArchive reports whether the file is an archive file written by retention
// rather than a hot journal.
func (l *Log) IsArchive() (bool, error) {
	ok, err := l.j.IsArchiveFile()
	return ok, readError(err)
}

// elsewhere returns the test Verify applies to a stream that a stream of
// this file names but that is not in it: in an archive file, any such stream
// may be in the hot journal (or another archive); in a hot journal, only one
// with a tombstone.
func (l *Log) elsewhere() (func(stream string) bool, error) {
	archive, err := l.IsArchive()
	if err != nil {
		return nil, err
	}
	if archive {
		return func(string) bool { return true }, nil
	}
	return func(stream string) bool {
		_, ok, err := l.j.Archived(stream)
		return err == nil && ok
	}, nil
}

// notFoundCall is the not_found error for a call this file does not hold,
// saying where it went when retention archived it.
func (l *Log) notFoundCall(callID string) error {
	if t, ok, err := l.j.Archived(events.CallStream(callID)); err == nil && ok {
		return errcode.Newf(errcode.NotFound, "call %s was archived to %s (%d events): replay that file", callID, t.Archive, t.Version)
	}
	return errcode.Newf(errcode.NotFound, "the journal has no call %s", callID)
}
