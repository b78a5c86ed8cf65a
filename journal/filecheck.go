package journal

import (
	"errors"
	"fmt"
	"os"
)

// truncatedError is the error of a file shorter than its last commit. It
// wraps ErrCorrupt.
type truncatedError struct{ msg string }

func (e *truncatedError) Error() string { return e.msg + ": " + ErrCorrupt.Error() }
func (e *truncatedError) Unwrap() error { return ErrCorrupt }

func isTruncated(err error) bool {
	var t *truncatedError
	return errors.As(err, &t)
}

// fileProblem looks at the file at path before bbolt opens it, for the two
// damages bbolt reports badly: an empty file opened read-only (bbolt would
// try to write a new database: "bad file descriptor") and a file cut short
// (bbolt maps past its end and reports whatever bytes it finds there, a
// different "page" each run). It returns nil when bbolt should decide,
// ErrNotJournal for the empty file, and an error wrapping ErrCorrupt that
// says how short the file is for a truncated one.
func fileProblem(path string, readOnly bool) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // missing, or unreadable: bbolt says so
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if fi.Size() == 0 {
		if readOnly {
			return fmt.Errorf("journal: %s: empty file: %w", path, ErrNotJournal)
		}
		return nil // becomes a new journal
	}
	p, err := readMetaPages(f)
	if err != nil {
		if p.meta[0].valid {
			// A whole first meta page, and the file ends before the
			// second: a journal cut within its first pages.
			m := p.meta[0]
			return &truncatedError{fmt.Sprintf("journal: %s is truncated: it has %d bytes, a journal has at least %d (%d pages of %d bytes)",
				path, fi.Size(), max(int64(m.pgid), 4)*int64(m.pageSize), max(m.pgid, 4), m.pageSize)}
		}
		return nil // not bbolt: bbolt says so
	}
	m, ok := p.newest()
	if !ok {
		return nil
	}
	if need := int64(m.pgid) * int64(m.pageSize); fi.Size() < need {
		return truncated(path, fi.Size(), m)
	}
	return nil
}

func truncated(path string, size int64, m boltMeta) error {
	need := int64(m.pgid) * int64(m.pageSize)
	return &truncatedError{fmt.Sprintf("journal: %s is truncated: it has %d bytes, its last commit (bbolt tx %d) needs %d (%d pages of %d bytes)",
		path, size, m.txid, need, m.pgid, m.pageSize)}
}
