package aggregate

import (
	"context"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// journalError gives a failed append a stable code.
func journalError(err error) error {
	if errcode.CodeOf(err) != "" {
		return err
	}
	switch journal.Code(err) {
	case "conflict":
		return errcode.Wrap(errcode.Conflict, err, "concurrent write to the stream")
	case "journal_corrupt":
		return errcode.Wrap(errcode.JournalCorrupt, err, "journal damaged")
	case "journal_closed":
		return errcode.Wrap(errcode.Closed, err, "engine closed")
	}
	if err == context.Canceled || err == context.DeadlineExceeded { // as the journal returns them
		return err
	}
	return errcode.Wrap(errcode.Unavailable, err, "journal append failed")
}
