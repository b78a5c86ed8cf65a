package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/callengine/callengine/journal"
)

const repairUsage = `usage: callengine repair --journal PATH [flags]
       callengine repair --data DIR [flags]

Rebuilds the streams index of a journal from its events. The events are the
journal's source of truth: each carries a checksum, its stream and its
version. The index, which lookups and restores use to find a stream's
events, is derived from them; when it is damaged (replay --verify or backup
report "index entry … bad run", a lookup fails with journal_corrupt),
repair reads and verifies every event, drops the index and writes it again,
in one transaction, then checks the whole journal.

Run it on a journal no engine holds (stop the engine, or repair a copy
taken with callengine backup --no-check). A damaged event cannot be
repaired: repair then changes nothing and exits 1. See docs/backup.md.

Exit status: 0 repaired; 1 the repair failed (a damaged event, a file cut
short); 2 bad usage, or a journal that cannot be opened (missing, empty, a
directory, not a journal, held by a running engine).

flags:
`

// repairCmd is "callengine repair".
func repairCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("repair", repairUsage, stderr)
	jf := addJournalFlags(fs, "the engine's data directory; the journal is `DIR`/journal.db", "the journal file (instead of --data)")
	timeout := fs.Duration("timeout", time.Second, "how long to wait for the journal's lock")
	asJSON := fs.Bool("json", false, "write the result as JSON")
	pos, code, ok := parseFlags(fs, args, stdout, false)
	if !ok {
		return code
	}
	bad := func(msg string) int {
		fmt.Fprintf(stderr, "callengine repair: %s\n\n", msg)
		fs.Usage()
		return 2
	}
	switch {
	case len(pos) > 0:
		return bad(fmt.Sprintf("unexpected argument %q", pos[0]))
	case jf.problem() != "":
		return bad(jf.problem())
	case *timeout <= 0:
		return bad("--timeout must be positive")
	}
	path := jf.config().JournalPath
	if msg := inputProblem(path); msg != "" {
		fmt.Fprintf(stderr, "callengine repair: %s\n", msg)
		return 2
	}
	info, err := journal.RebuildIndex(path, journal.Options{Timeout: *timeout})
	if err != nil {
		msg := err.Error()
		if errors.Is(err, journal.ErrLocked) {
			msg = fmt.Sprintf("%s is locked: an engine holds it; stop it first (or repair a copy): %v", path, err)
		}
		fmt.Fprintf(stderr, "callengine repair: %s\n", msg)
		if errors.Is(err, journal.ErrLocked) || errors.Is(err, journal.ErrNotJournal) {
			return 2
		}
		return 1
	}
	if *asJSON {
		b, _ := json.MarshalIndent(map[string]any{
			"journal": path, "events": info.Events, "streams": info.Streams, "entries": info.Entries,
			"replaced": info.Replaced, "check": "passed", "took_ms": float64(info.Duration.Microseconds()) / 1000,
		}, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintf(stdout, "rebuilt the streams index of %s\n", path)
	fmt.Fprintf(stdout, "  events    %d (checksums verified)\n", info.Events)
	fmt.Fprintf(stdout, "  streams   %d\n", info.Streams)
	fmt.Fprintf(stdout, "  entries   %d written, %d replaced\n", info.Entries, info.Replaced)
	fmt.Fprintf(stdout, "  check     passed\n")
	fmt.Fprintf(stdout, "  took      %v\n", info.Duration.Round(time.Microsecond))
	return 0
}

// inputProblem says what is wrong with the journal file at path before a
// tool opens it — missing, a directory, empty — or "".
func inputProblem(path string) string {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s: no such file", path)
	case err != nil:
		return fmt.Sprintf("cannot read %s: %v", path, err)
	case fi.IsDir():
		return fmt.Sprintf("%s is a directory, not a journal", path)
	case fi.Size() == 0:
		return fmt.Sprintf("%s is empty: not a journal", path)
	}
	return ""
}
