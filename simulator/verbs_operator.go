package simulator

import (
	"path/filepath"
	"time"
)

// crash closes the engine and reopens it from its journal: "crash".
type crash struct{}

func parseCrash(a *args) (command, error) {
	if len(a.rest) != 0 {
		return nil, a.bad("crash takes nothing")
	}
	return crash{}, nil
}

func (crash) run(s *sim) error { return s.crash() }

// archive runs retention, by the operator: "archive older-than 720h".
type archive struct {
	olderThan time.Duration
}

func parseArchive(a *args) (command, error) {
	if len(a.rest) != 2 || a.rest[0] != "older-than" {
		return nil, a.bad("expected archive older-than <duration>")
	}
	d, err := time.ParseDuration(a.rest[1])
	if err != nil {
		return nil, a.bad("archive older-than %q: not a duration", a.rest[1])
	}
	return archive{olderThan: d}, nil
}

func (c archive) run(s *sim) error {
	rep, err := s.eng.Archive(s.ctx, c.olderThan)
	if err != nil {
		return err
	}
	heldBack := rep.HeldBack + rep.KeptCalls + rep.Undelivered
	if rep.File == "" {
		s.say("~ nothing to archive; %d held back", heldBack)
	} else {
		s.say("~ archived %d calls, %d transfers, %d messages (%d records) to %s; %d held back",
			rep.Calls, rep.Transfers, rep.Messages, rep.Records, filepath.Base(rep.File), heldBack)
	}
	return nil
}
