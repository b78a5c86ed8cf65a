package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/retention"
)

const archiveUsage = `usage: callengine archive --data DIR --older-than AGE [flags]
       callengine archive --journal PATH --older-than AGE [flags]

Moves the calls that ended more than AGE ago (and the transfers and messages
that go with them) out of the journal into an archive file,
ARCHIVE-DIR/archive-YYYYMM.db (the month of the cutoff), then deletes them
from the journal, leaving a tombstone for each. Live calls, clients, and the
calls a live transfer names stay. Read an archive with
` + "`callengine replay FILE`" + `.

Offline: the journal must not be held by a running engine (exit 2); a running engine archives by itself with Config.RetainEnded.
The journal file keeps its size (bbolt reuses the pages freed); --compact
then rewrites it into a fresh file, verifies it, and swaps it in, keeping the
old file as journal.db.bak until the new one has verified. See
docs/retention.md.

Exit status: 0 done (also when nothing was due); 1 the work failed (an
archive file or the compacted journal cannot be written or does not
verify); 2 bad usage, or a journal that cannot be read (missing, empty,
truncated, damaged, not a journal, held by a running engine).

flags:
`

// archiveOutput is what --json prints.
type archiveOutput struct {
	Journal string                `json:"journal"`
	Archive retention.Report      `json:"archive"`
	Compact *journal.CompactInfo  `json:"compact,omitempty"`
	Backup  string                `json:"backup_kept,omitempty"` // the old file, when it could not be verified and removed
	Sizes   map[string]sizeOutput `json:"sizes"`
}

type sizeOutput struct {
	FileBytes  int64 `json:"file_bytes"`
	InUseBytes int64 `json:"in_use_bytes"`
}

// archiveCmd runs `callengine archive` (retention).
func archiveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("archive", archiveUsage, stderr)
	jf := addJournalFlags(fs, "the engine's data directory; the journal is `DIR`/journal.db", "the journal file (instead of --data)")
	archiveDir := fs.String("archive-dir", "", "where archive files go (default: the engine's Config.ArchiveDir, DIR/archive; with --journal FILE, FILE-archive beside it)")
	olderThan := fs.Duration("older-than", 0, "archive calls that ended more than this long ago, e.g. 720h (required)")
	nowFlag := fs.String("now", "", "the instant the age counts back from, RFC 3339 (default: the wall clock; journals written on a virtual clock need it)")
	compact := fs.Bool("compact", false, "then rewrite the journal into a fresh, smaller file and swap it in")
	asJSON := fs.Bool("json", false, "print the outcome as JSON")
	timeout := fs.Duration("timeout", time.Hour, "give up after this long")
	if _, code, ok := parseFlags(fs, args, stdout, false); !ok {
		return code
	}
	bad := func(msg string) int {
		fmt.Fprintf(stderr, "callengine archive: %s\n\n", msg)
		fs.Usage()
		return 2
	}
	now := time.Now()
	switch {
	case fs.NArg() > 0:
		return bad(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case jf.problem() != "":
		return bad(jf.problem())
	case *olderThan <= 0:
		return bad("--older-than AGE is required and must be positive, e.g. 720h")
	case *timeout <= 0:
		return bad("--timeout must be positive")
	case *nowFlag != "":
		t, err := time.Parse(time.RFC3339Nano, *nowFlag)
		if err != nil {
			return bad(fmt.Sprintf("--now %q is not an RFC 3339 time", *nowFlag))
		}
		now = t
	}
	cfg := jf.config()
	src, dir := cfg.JournalPath, *archiveDir
	if dir == "" {
		dir = cfg.ArchiveDir
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "callengine archive: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	j, err := openForArchive(src, *compact)
	if err != nil {
		fail(err)
		return inputStatus(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = j.Close()
		}
	}()
	out := archiveOutput{Journal: src, Sizes: map[string]sizeOutput{}}
	out.Archive, err = retention.ArchiveJournal(ctx, j, dir, now.Add(-*olderThan))
	if err != nil {
		fail(err)
		if errcode.CodeOf(err) == errcode.JournalCorrupt {
			return 2 // the journal's damage, met while reading it
		}
		return 1
	}
	rep := &out.Archive
	out.Sizes["before"] = sizeOutput{rep.Before.FileBytes, rep.Before.InUseBytes}
	out.Sizes["archived"] = sizeOutput{rep.After.FileBytes, rep.After.InUseBytes}
	if *compact {
		info, kept, err := compactInPlace(ctx, j, src)
		closed = true // compactInPlace closed it
		if err != nil {
			return fail(err)
		}
		out.Compact, out.Backup = &info, kept
		out.Sizes["compacted"] = sizeOutput{info.After.FileBytes, info.After.InUseBytes}
	} else {
		closed = true
		if err := j.Close(); err != nil {
			return fail(errcode.Wrap(errcode.Unavailable, err, "cannot close "+src))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(err)
		}
		return 0
	}
	writeArchiveText(stdout, &out)
	return 0
}

// openForArchive opens the journal for writing, refusing a missing file (Open
// would create one) and one that a running engine holds. With compact, a
// journal.db.bak left by an earlier compaction that did not verify stops it
// before anything is done.
func openForArchive(src string, compact bool) (*journal.Journal, error) {
	st, err := os.Stat(src)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, errcode.Wrap(errcode.NotFound, err, "no journal at "+src)
	case err != nil:
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot read "+src)
	case st.IsDir():
		return nil, errcode.Newf(errcode.InvalidParams, "%s is a directory, not a journal file", src)
	case st.Size() == 0:
		// journal.Open would make it a new, empty journal
		return nil, errcode.Newf(errcode.JournalCorrupt, "%s is empty: not a journal", src)
	}
	if compact {
		if _, err := os.Stat(src + ".bak"); err == nil {
			return nil, errcode.Newf(errcode.InvalidState, "%s.bak exists: an earlier compaction did not finish its check; compare it with %s and remove it, then run again", src, src)
		}
	}
	j, err := journal.Open(src, journal.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		msg := journal.OpenProblem(src, err)
		switch {
		case msg == "":
			msg = "cannot open " + src
		case errors.Is(err, journal.ErrLocked):
			msg += " (a running engine): stop it first, or let the engine archive by itself (Config.RetainEnded)"
		}
		return nil, errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
	}
	if ok, err := j.IsArchiveFile(); err != nil || ok {
		_ = j.Close()
		if err == nil {
			err = errcode.Newf(errcode.InvalidParams, "%s is an archive file, not a journal", src)
		}
		return nil, err
	}
	return j, nil
}

// compactInPlace rewrites the open journal j (nothing appends to it: this
// process holds its lock and does not) into src+".compact", then swaps it in:
// src is hard-linked as src+".bak", the copy renamed over src (one atomic
// step: src is always a complete journal), and j closed. The new src is then
// opened and checked; if it verifies, the .bak is removed, otherwise it is
// put back. It returns the path of a .bak left in place ("" when removed).
func compactInPlace(ctx context.Context, j *journal.Journal, src string) (journal.CompactInfo, string, error) {
	tmp, bak := src+".compact", src+".bak"
	info, err := j.CompactTo(ctx, tmp)
	if err != nil {
		_ = j.Close()
		_ = os.Remove(tmp)
		return info, "", err
	}
	dir := filepath.Dir(src)
	if err := os.Link(src, bak); err != nil {
		_ = j.Close()
		_ = os.Remove(tmp)
		return info, "", errcode.Wrap(errcode.Unavailable, err, "cannot keep the old journal as "+bak)
	}
	syncDirectory(dir)
	if err := os.Rename(tmp, src); err != nil {
		_ = j.Close()
		_ = os.Remove(tmp)
		_ = os.Remove(bak)
		return info, "", errcode.Wrap(errcode.Unavailable, err, "cannot put the compacted journal in place")
	}
	syncDirectory(dir)
	// j now reads the old file (bak); closing it writes nothing: Archive
	// wrote the whole index and nothing was appended since.
	if err := j.Close(); err != nil {
		return info, bak, errcode.Wrap(errcode.Unavailable, err, "cannot close the old journal (kept as "+bak+")")
	}
	n, err := journal.Open(src, journal.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		if errors.Is(err, journal.ErrLocked) {
			// An engine opened the new journal already: it opened and
			// checked its layout; keep the old file for a check by hand.
			return info, bak, nil
		}
		return info, bak, restoreBackup(src, bak, err)
	}
	verr := n.Check()
	if verr == nil && n.LastSeq() != info.LastSeq {
		verr = fmt.Errorf("the new journal ends at seq %d, the old one at %d", n.LastSeq(), info.LastSeq)
	}
	live := 0
	if verr == nil {
		verr = n.LiveStreams(func(string) error { live++; return nil })
	}
	if verr == nil && live != info.Live {
		verr = fmt.Errorf("the new journal has %d live streams, the old one %d", live, info.Live)
	}
	_ = n.Close()
	if verr != nil {
		return info, bak, restoreBackup(src, bak, verr)
	}
	if err := os.Remove(bak); err != nil {
		return info, bak, nil
	}
	syncDirectory(dir)
	return info, "", nil
}

// restoreBackup puts the old journal back after the new one failed to verify.
func restoreBackup(src, bak string, cause error) error {
	if err := os.Rename(bak, src); err != nil {
		return errcode.Wrap(errcode.JournalCorrupt, cause, fmt.Sprintf("the compacted journal does not verify, and the old one could not be put back (%v): it is %s", err, bak))
	}
	syncDirectory(filepath.Dir(src))
	return errcode.Wrap(errcode.JournalCorrupt, cause, "the compacted journal does not verify; the old one was put back (the archiving stands)")
}

func syncDirectory(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func writeArchiveText(w io.Writer, out *archiveOutput) {
	r := &out.Archive
	cutoff := r.Cutoff.UTC().Format(time.RFC3339)
	if r.File == "" {
		fmt.Fprintf(w, "nothing ended before %s: nothing archived\n", cutoff)
	} else {
		fmt.Fprintf(w, "archived %d calls, %d transfers, %d messages (%d events, %s) that ended before %s\n",
			r.Calls, r.Transfers, r.Messages, r.Records, humanBytes(r.Bytes), cutoff)
		fmt.Fprintf(w, "  archive    %s\n", r.File)
	}
	if r.KeptCalls+r.KeptTransfers+r.HeldBack+r.Undecodable > 0 {
		fmt.Fprintf(w, "  kept       %d calls named by live transfers, %d transfers naming calls that stay, %d holding the journal's last event, %d not decodable\n",
			r.KeptCalls, r.KeptTransfers, r.HeldBack, r.Undecodable)
	}
	if r.Duplicates > 0 {
		fmt.Fprintf(w, "  repeated   %d events were in the archive already (an earlier run stopped half-way)\n", r.Duplicates)
	}
	size := func(label string, s sizeOutput) {
		fmt.Fprintf(w, "  %-10s file %s, in use %s\n", label, humanBytes(s.FileBytes), humanBytes(s.InUseBytes))
	}
	fmt.Fprintf(w, "journal %s\n", out.Journal)
	size("before", out.Sizes["before"])
	size("archived", out.Sizes["archived"])
	if c, ok := out.Sizes["compacted"]; ok {
		size("compacted", c)
		if out.Backup != "" {
			fmt.Fprintf(w, "  the old file is kept as %s (the new one could not be checked: an engine holds it)\n", out.Backup)
		}
	} else if r.File != "" {
		fmt.Fprintln(w, "  (the file keeps its size: bbolt reuses the freed pages; --compact shrinks it)")
	}
	fmt.Fprintf(w, "took %v\n", r.Duration.Round(time.Millisecond))
}
