package main

import (
	"errors"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// inputStatus is the exit status of a command that failed with err while it
// read its input journal: 2 when the input cannot be read — missing, a
// directory, empty, not a journal, truncated or damaged, held by a running
// engine — and 1 when the work itself failed (the output cannot be written,
// the time ran out).
func inputStatus(err error) int {
	if errors.Is(err, journal.ErrLocked) {
		return 2
	}
	switch errcode.CodeOf(err) {
	case errcode.NotFound, errcode.JournalCorrupt, errcode.InvalidParams, errcode.Malformed:
		return 2
	}
	return 1
}
