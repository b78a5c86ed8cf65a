package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/callengine/callengine/journal"
)

const backupUsage = `usage: callengine backup --data DIR --out FILE [flags]
       callengine backup --journal PATH --out FILE [flags]

Takes a consistent copy of a journal, also while a running engine holds it
open. If nobody holds the journal, the copy is taken in a bbolt read
transaction. If an engine holds it (another process), the raw file is copied
and kept only if no commit happened during the copy, tried again otherwise.
The copy is verified (opened and checked as a journal) before it replaces
FILE. --out - writes the copy to stdout (the report then goes to stderr).
See docs/backup.md.

Exit status: 0 copied; 1 the copy failed (FILE cannot be written, the
journal kept changing, the time ran out); 2 bad usage, or a journal that
cannot be read (missing, empty, truncated, damaged, not a journal).

flags:
`

// backupCmd is "callengine backup".
func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", backupUsage, stderr)
	jf := addJournalFlags(fs, "the engine's data directory; the journal is `DIR`/journal.db", "the journal file (instead of --data)")
	out := fs.String("out", "", "where to write the copy (replaced only by a complete, verified copy)")
	attempts := fs.Int("attempts", 20, "raw copies to try while the journal keeps changing")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	noCheck := fs.Bool("no-check", false, "skip the full check of the copy (it is still opened as a journal)")
	asJSON := fs.Bool("json", false, "print the outcome as JSON (on stderr with --out -)")
	if _, code, ok := parseFlags(fs, args, stdout, false); !ok {
		return code
	}
	bad := func(msg string) int {
		fmt.Fprintf(stderr, "callengine backup: %s\n\n", msg)
		fs.Usage()
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return bad(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *out == "":
		return bad("--out FILE is required")
	case jf.problem() != "":
		return bad(jf.problem())
	case *attempts < 1:
		return bad("--attempts must be at least 1")
	case *timeout <= 0:
		return bad("--timeout must be positive")
	}
	src := jf.config().JournalPath
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	dst, toStdout, cleanup, err := backupTarget(*out)
	if err != nil {
		fmt.Fprintf(stderr, "callengine backup: %v\n", err)
		return 1
	}
	defer cleanup()
	info, err := journal.CopyFile(ctx, src, dst, journal.CopyOptions{MaxAttempts: *attempts, SkipCheck: *noCheck})
	if err != nil {
		fmt.Fprintf(stderr, "callengine backup: %v\n", err)
		return inputStatus(err)
	}
	if toStdout {
		if stdout, err = backupToStdout(&info, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "callengine backup: %v\n", err)
			return 1
		}
	}
	method := "read transaction (nobody held the journal)"
	if info.Method == journal.CopyStableMeta {
		method = fmt.Sprintf("raw copy with stable meta pages (an engine holds the journal), %d attempt(s)", info.Attempts)
	}
	check := "passed"
	if !info.Checked {
		check = "skipped (--no-check); the copy opens as a journal"
	}
	if *asJSON {
		return backupJSON(stdout, stderr, src, info)
	}
	fmt.Fprintf(stdout, "copied %s to %s\n", src, info.Path)
	fmt.Fprintf(stdout, "  method    %s\n", method)
	fmt.Fprintf(stdout, "  size      %d bytes (%s)\n", info.Bytes, humanBytes(info.Bytes))
	fmt.Fprintf(stdout, "  events    %d (seq 1 to %d)\n", info.LastSeq, info.LastSeq)
	fmt.Fprintf(stdout, "  live      %d streams (clients and calls a restore brings back)\n", info.LiveStreams)
	fmt.Fprintf(stdout, "  bbolt tx  %d\n", info.TxID)
	fmt.Fprintf(stdout, "  check     %s\n", check)
	fmt.Fprintf(stdout, "  took      %v (the copy itself %v, then the verification)\n",
		info.Duration.Round(time.Microsecond), info.Window.Round(time.Microsecond))
	return 0
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
