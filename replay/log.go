package replay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/journal"
)

// LockTimeout is how long Open waits for a journal that another process holds.
// It is short on purpose: a running engine keeps its journal locked for as
// long as it runs, so waiting longer would not help.
const LockTimeout = 100 * time.Millisecond

// Log is a journal opened for replay. It only reads: the file is opened
// read-only, and nothing in this package writes to it. Its methods are safe
// for concurrent use.
type Log struct {
	path string
	j    *journal.Journal
}

// Open opens the journal at path read-only. path is a journal file (a copy
// taken with `callengine backup`, or the journal.db of a stopped engine) or a
// data directory that holds a journal.db.
//
// Errors: not_found when there is no such file; unavailable when the journal
// is locked by a running engine (take a copy with `callengine backup`), was
// written by a newer callengine, or cannot be read; journal_corrupt when the
// file is damaged or is not a callengine journal.
func Open(path string) (*Log, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "journal.db")
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errcode.Newf(errcode.NotFound, "no journal at %s", path)
		}
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot read "+path)
	}
	if fi.Size() == 0 {
		// journal.Open would make an empty file a new journal; read-only it
		// cannot, and there is nothing to replay.
		return nil, errcode.Newf(errcode.JournalCorrupt, "%s is empty: not a callengine journal", path)
	}
	j, err := journal.Open(path, journal.Options{ReadOnly: true, Timeout: LockTimeout})
	if err != nil {
		return nil, openError(path, err)
	}
	return &Log{path: path, j: j}, nil
}

// openError gives journal.Open's failures a stable code and a message that
// says what to do.
func openError(path string, err error) error {
	msg := journal.OpenProblem(path, err)
	switch {
	case msg == "":
		msg = "cannot open journal " + path
	case errors.Is(err, journal.ErrLocked):
		msg += " (a running engine): take a copy with `callengine backup --data DIR --out FILE` and replay the copy"
	}
	return errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}

// readError gives a failed read of the journal a stable code. Errors that
// already have one (a record that did not decode, a callback's error) pass.
func readError(err error) error {
	if err == nil || errcode.CodeOf(err) != "" {
		return err
	}
	msg := "journal read failed"
	switch {
	case errors.Is(err, journal.ErrCorrupt):
		msg = "journal damaged"
	case errors.Is(err, journal.ErrClosed):
		msg = "replay log closed"
	}
	return errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}

// Path returns the journal file's path.
func (l *Log) Path() string { return l.path }

// LastSeq returns the number of events in the journal.
func (l *Log) LastSeq() uint64 { return l.j.LastSeq() }

// Close closes the journal file.
func (l *Log) Close() error { return l.j.Close() }

// decode decodes a record into env. A body that does not decode is
// journal_corrupt, with the malformed error as its cause.
func decode(r journal.Record, env *events.Envelope) error {
	*env = events.Envelope{Seq: r.Seq, Stream: r.Stream, Version: r.Version}
	if err := events.DecodeBody(r.Data, env); err != nil {
		return errcode.Wrap(errcode.JournalCorrupt, err, fmt.Sprintf("event %d of %s (seq %d) does not decode", r.Version, r.Stream, r.Seq))
	}
	return nil
}

const (
	groupStreamPrefix   = events.GroupStreamPrefix
	messageStreamPrefix = events.MessageStreamPrefix
)

// streamKind tells the kinds of streams apart.
type streamKind uint8

const (
	otherStream streamKind = iota
	callStream
	clientStream
	transferStream
	groupStream
	messageStream
	sessionStream
)

func kindOf(stream string) (streamKind, string) {
	switch {
	case strings.HasPrefix(stream, events.CallStreamPrefix):
		return callStream, stream[len(events.CallStreamPrefix):]
	case strings.HasPrefix(stream, events.ClientStreamPrefix):
		return clientStream, stream[len(events.ClientStreamPrefix):]
	case strings.HasPrefix(stream, events.TransferStreamPrefix):
		return transferStream, stream[len(events.TransferStreamPrefix):]
	case strings.HasPrefix(stream, groupStreamPrefix):
		return groupStream, stream[len(groupStreamPrefix):]
	case strings.HasPrefix(stream, messageStreamPrefix):
		return messageStream, stream[len(messageStreamPrefix):]
	case strings.HasPrefix(stream, events.SessionStreamPrefix):
		return sessionStream, stream[len(events.SessionStreamPrefix):]
	}
	return otherStream, stream
}

// instant turns engine-clock Unix nanoseconds into a UTC time; 0 stays the
// zero time (an instant that has not happened).
func instant(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
