package aggregate

import (
	"context"
	"errors"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// journalError gives a failed append a stable code: the journal's errors
// carry theirs (errcode.Classify); the message says what it means here.
func journalError(err error) error {
	if errcode.CodeOf(err) != "" {
		return err
	}
	if err == context.Canceled || err == context.DeadlineExceeded { // as the journal returns them
		return err
	}
	msg := "journal append failed"
	switch {
	case errors.Is(err, journal.ErrConflict):
		msg = "concurrent write to the stream"
	case errors.Is(err, journal.ErrCorrupt):
		msg = "journal damaged"
	case errors.Is(err, journal.ErrClosed):
		msg = "engine closed"
	}
	return errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}
