package journal

import (
	"errors"
	"fmt"

	"github.com/callengine/callengine/errcode"
)

// Sentinel errors. Every error the journal returns wraps one of them where one
// applies; test with errors.Is. Each is an *Error and carries the stable
// errcode code its kind is reported under: errcode.Classify finds it.
var (
	// ErrConflict: the stream's version is not the expected one. Returned as a
	// *ConflictError, which matches ErrConflict with errors.Is. Code conflict.
	ErrConflict error = &Error{"journal: version conflict", errcode.Conflict}
	// ErrCorrupt: the file is damaged (bad checksum, damaged bbolt page,
	// malformed entry). Code journal_corrupt.
	ErrCorrupt error = &Error{"journal: corrupt", errcode.JournalCorrupt}
	// ErrNotJournal: the file is not a bbolt file, or a bbolt file that is not
	// a journal. Code journal_corrupt.
	ErrNotJournal error = &Error{"journal: not a journal", errcode.JournalCorrupt}
	// ErrNewerSchema: the journal was written by a newer version of the
	// software. Code unavailable.
	ErrNewerSchema error = &Error{"journal: newer schema", errcode.Unavailable}
	// ErrClosed: the journal is closed. Code closed.
	ErrClosed error = &Error{"journal: closed", errcode.Closed}
	// ErrReadOnly: a write on a journal opened with Options.ReadOnly. Code
	// unavailable.
	ErrReadOnly error = &Error{"journal: read-only", errcode.Unavailable}
	// ErrEmpty: Append with no records. Code unavailable.
	ErrEmpty error = &Error{"journal: empty append", errcode.Unavailable}
	// ErrLocked: another holder (process or open handle) has the file locked
	// and did not release it within Options.Timeout. Code unavailable.
	ErrLocked error = &Error{"journal: locked", errcode.Unavailable}
)

// Error is the type of the sentinel errors: a kind of failure and the
// errcode code it is reported under. It implements errcode.Coder.
type Error struct {
	text string
	code errcode.Code
}

// Error implements error.
func (e *Error) Error() string { return e.text }

// ErrorCode returns the code the kind is reported under.
func (e *Error) ErrorCode() errcode.Code { return e.code }

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

// ErrorCode returns errcode.Conflict, the code of ErrConflict.
func (e *ConflictError) ErrorCode() errcode.Code { return errcode.Conflict }

// isKind reports whether err wraps one of the sentinel errors.
func isKind(err error) bool { return errcode.Classify(err, "") != "" }

// corruptf returns an error wrapping ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("journal: "+format+": %w", append(args, ErrCorrupt)...)
}

// OpenProblem says in words what is wrong with the journal at path that Open
// refused with err: damaged, not a journal, written by a newer callengine,
// or held by another process; "" for any other error. An empty path words
// it for "the journal". Callers add what to do about it.
func OpenProblem(path string, err error) string {
	the, file := "the journal "+path, path
	if path == "" {
		the, file = "the journal", "the file"
	}
	switch {
	case errors.Is(err, ErrCorrupt):
		return the + " is damaged"
	case errors.Is(err, ErrNotJournal):
		return file + " is not a callengine journal"
	case errors.Is(err, ErrNewerSchema):
		return the + " was written by a newer callengine"
	case errors.Is(err, ErrLocked):
		return the + " is held by another process"
	}
	return ""
}
