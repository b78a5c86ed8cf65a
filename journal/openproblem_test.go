package journal

import (
	"errors"
	"fmt"
	"testing"
)

// OpenProblem words each kind of refused Open once, for every tool.
func TestOpenProblem(t *testing.T) {
	wrap := func(e error) error { return fmt.Errorf("journal: open: %w", e) }
	for _, tc := range []struct {
		err        error
		path, want string
	}{
		{wrap(ErrCorrupt), "j.db", "the journal j.db is damaged"},
		{wrap(ErrNotJournal), "j.db", "j.db is not a callengine journal"},
		{wrap(ErrNewerSchema), "j.db", "the journal j.db was written by a newer callengine"},
		{wrap(ErrLocked), "j.db", "the journal j.db is held by another process"},
		{wrap(ErrNotJournal), "", "the file is not a callengine journal"},
		{wrap(ErrCorrupt), "", "the journal is damaged"},
		{errors.New("disk on fire"), "j.db", ""},
	} {
		if got := OpenProblem(tc.path, tc.err); got != tc.want {
			t.Errorf("OpenProblem(%q, %v) = %q, want %q", tc.path, tc.err, got, tc.want)
		}
	}
}
