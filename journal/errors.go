package journal

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the journal returns wraps one of them where one
// applies; test with errors.Is. Code maps each to a stable string code.
var (
	// ErrConflict: the stream's version is not the expected one. Returned as a
	// *ConflictError, which matches ErrConflict with errors.Is.
	ErrConflict = errors.New("journal: version conflict")
	// ErrCorrupt: the file is damaged (bad checksum, damaged bbolt page,
	// malformed entry).
	ErrCorrupt = errors.New("journal: corrupt")
	// ErrNotJournal: the file is not a bbolt file, or a bbolt file that is not
	// a journal.
	ErrNotJournal = errors.New("journal: not a journal")
	// ErrNewerSchema: the journal was written by a newer version of the software.
	ErrNewerSchema = errors.New("journal: newer schema")
	// ErrClosed: the journal is closed.
	ErrClosed = errors.New("journal: closed")
	// ErrReadOnly: a write on a journal opened with Options.ReadOnly.
	ErrReadOnly = errors.New("journal: read-only")
	// ErrEmpty: Append with no records.
	ErrEmpty = errors.New("journal: empty append")
	// ErrLocked: another holder (process or open handle) has the file locked
	// and did not release it within Options.Timeout.
	ErrLocked = errors.New("journal: locked")
)

// ConflictError is returned by Append when the stream's current version is not
// the expected one. Nothing of that Append was written.
type ConflictError struct {
	Stream   string // the stream appended to
	Expected uint64 // the version the caller expected
	Actual   uint64 // the stream's version when the append was tried
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("journal: version conflict on stream %q: expected %d, actual %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Code returns the stable string code of the journal error kind err wraps:
// "conflict", "journal_corrupt", "not_a_journal", "journal_newer_schema",
// "journal_closed", "read_only", "empty_append", "journal_locked", or "" for
// nil and errors of other kinds.
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrCorrupt):
		return "journal_corrupt"
	case errors.Is(err, ErrNotJournal):
		return "not_a_journal"
	case errors.Is(err, ErrNewerSchema):
		return "journal_newer_schema"
	case errors.Is(err, ErrClosed):
		return "journal_closed"
	case errors.Is(err, ErrReadOnly):
		return "read_only"
	case errors.Is(err, ErrEmpty):
		return "empty_append"
	case errors.Is(err, ErrLocked):
		return "journal_locked"
	}
	return ""
}

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("journal: "+format+": %w", append(args, ErrCorrupt)...)
}
