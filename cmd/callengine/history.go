package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/history"
	"github.com/callengine/callengine/journal"
	"github.com/callengine/callengine/replay"
)

const historyUsage = `usage: callengine history --data DIR --client ID [flags]
       callengine history --journal FILE --client ID [flags]

Lists a client's call history — the calls it made, received and missed,
newest first — or, with --voicemail, its voicemail box, from a journal read
offline (read-only). See docs/history.md.

With --data the journal is DIR/journal.db and the history is the one the
engine keeps beside it, DIR/history.db: it is brought up to date with the
journal (rebuilt from it when it is missing or stale, or with --rebuild) and
left there for the engine's next start. A running engine holds its data
directory: take a copy with 'callengine backup --data DIR --out FILE' and
give the copy with --journal; the history is then built in a temporary file.
--journal - reads the journal from stdin.

Times are RFC 3339 (2026-01-05T09:30:00Z), on the engine's clock; output is
in UTC. A call that has not ended is measured to its last event.

Exit status: 0 done, 2 bad usage, a journal or history that cannot be read,
or a client the journal does not know.

flags:
`

// historyCmd runs "callengine history".
func historyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("history", historyUsage, stderr)
	jf := addJournalFlags(fs, "the engine's data `DIR` (stopped): DIR/journal.db, and DIR/history.db kept up to date",
		"a journal `FILE` (a copy taken with 'callengine backup'), instead of --data")
	client := fs.String("client", "", "the client `ID` whose history is listed (required)")
	number := fs.String("number", "", "only calls with this `NUMBER`: the other party's, the same or ending with its digits (0101 matches +14155550101)")
	since := fs.String("since", "", "only calls set up at or after this `TIME`")
	until := fs.String("until", "", "only calls set up before this `TIME`")
	reason := fs.String("reason", "", "only calls that ended with one of these `REASONS` as the client sees them, comma-separated: hangup, busy, no-answer, failed, transferred, rejected, canceled, missed, voicemail")
	kind := fs.String("kind", "", "only calls of these `KINDS`, comma-separated: made, received, missed")
	limit := fs.Int("limit", history.DefaultLimit, fmt.Sprintf("list at most `N` calls (1 to %d)", history.MaxLimit))
	before := fs.String("before", "", "list the calls after this `CURSOR` (printed at the end of a full page)")
	voicemail := fs.Bool("voicemail", false, "list the client's voicemail box instead: messages newest first, new and total counts")
	rebuild := fs.Bool("rebuild", false, "with --data: rebuild DIR/history.db from the journal first")
	asJSON := fs.Bool("json", false, "write JSON instead of text")
	if _, code, ok := parseFlags(fs, args, stdout, false); !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "callengine history: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'callengine history -h' for the flags")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "callengine history:", err)
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case jf.problem() != "":
		return usageErr("%s", jf.problem())
	case *client == "":
		return usageErr("--client ID is required")
	case *rebuild && *jf.data == "":
		return usageErr("--rebuild rebuilds DIR/history.db: it goes with --data (with --journal the history is always built afresh)")
	}
	if *voicemail {
		for _, f := range []string{"number", "since", "until", "reason", "kind", "limit", "before"} {
			if set[f] {
				return usageErr("--%s filters the call list: it does not go with --voicemail", f)
			}
		}
	}
	q := history.Query{Client: *client, Number: *number, Limit: *limit, Before: *before}
	var err error
	if q.From, err = replayTime("since", *since); err != nil {
		return usageErr("%v", err)
	}
	if q.To, err = replayTime("until", *until); err != nil {
		return usageErr("%v", err)
	}
	for _, s := range splitList(*reason) {
		r, ok := events.ParseReason(s)
		if !ok {
			return usageErr("--reason %q: one of hangup, busy, no-answer, failed, transferred, rejected, canceled, missed, voicemail", s)
		}
		q.Reasons = append(q.Reasons, r)
	}
	for _, s := range splitList(*kind) {
		k, ok := history.ParseKind(s)
		if !ok {
			return usageErr("--kind %q: one of made, received, missed", s)
		}
		q.Kinds = append(q.Kinds, k)
	}
	if *limit < 1 || *limit > history.MaxLimit {
		return usageErr("--limit %d: between 1 and %d", *limit, history.MaxLimit)
	}

	cfg := jf.config()
	src, hpath := cfg.JournalPath, ""
	if *jf.data != "" {
		hpath = cfg.HistoryPath // kept up to date; a --journal copy's history is built afresh
	}
	file, done, err := stdinFile(src)
	if err != nil {
		return fail(err)
	}
	defer done()
	j, err := openJournalReadOnly(file)
	if err != nil {
		return fail(err)
	}
	defer j.Close()
	if hpath == "" {
		tmp, err := os.MkdirTemp("", "callengine-history")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(tmp)
		hpath = filepath.Join(tmp, "history.db")
	} else if *rebuild {
		if err := history.Rebuild(ctx, hpath, j, history.Options{}); err != nil {
			return fail(err)
		}
	}
	h, err := history.Open(hpath, j, history.Options{LockTimeout: replay.LockTimeout})
	if err != nil {
		if errcode.CodeOf(err) == errcode.Unavailable {
			err = fmt.Errorf("%w (is an engine or another 'callengine history' using %s?)", err, hpath)
		}
		return fail(err)
	}
	defer h.Close()
	if why := h.Rebuilt(); why != "" {
		fmt.Fprintf(stderr, "callengine history: %s rebuilt from the journal: %s\n", hpath, why)
	}
	// A client the journal does not know — never registered, in no call —
	// is an error, not an empty list: a misspelt id would look like a quiet
	// client.
	if v, err := j.StreamVersion(events.ClientStream(*client)); err != nil {
		return fail(err)
	} else if v == 0 {
		some, err := h.Calls(ctx, history.Query{Client: *client, Limit: 1})
		if err != nil {
			return fail(err)
		}
		if len(some) == 0 {
			return fail(errcode.Newf(errcode.NotFound, "no client %q in the journal %s", *client, src))
		}
	}
	out := replayOutput{w: stdout, json: *asJSON}

	if *voicemail {
		box, err := h.Voicemail(ctx, *client)
		if err != nil {
			return fail(err)
		}
		doc := struct {
			Journal string `json:"journal"`
			Client  string `json:"client"`
			history.Box
		}{src, *client, box}
		return out.done(fail, out.write(doc, func(w io.Writer) error { return writeBox(w, box) }))
	}

	entries, err := h.Calls(ctx, q)
	if err != nil {
		return fail(err)
	}
	next := ""
	if len(entries) == q.Limit {
		next = entries[len(entries)-1].Cursor()
	}
	doc := struct {
		Journal string          `json:"journal"`
		Client  string          `json:"client"`
		Calls   []history.Entry `json:"calls"`
		Next    string          `json:"next,omitempty"` // give as --before for the next page
	}{src, *client, entries, next}
	if doc.Calls == nil {
		doc.Calls = []history.Entry{}
	}
	return out.done(fail, out.write(doc, func(w io.Writer) error {
		if err := writeEntries(w, entries); err != nil {
			return err
		}
		s := "s"
		if len(entries) == 1 {
			s = ""
		}
		if next != "" {
			_, err := fmt.Fprintf(w, "%d call%s; more with --before %s\n", len(entries), s, next)
			return err
		}
		_, err := fmt.Fprintf(w, "%d call%s\n", len(entries), s)
		return err
	}))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// openJournalReadOnly opens a journal file read-only, as replay.Open does,
// with errors that say what to do.
func openJournalReadOnly(path string) (*journal.Journal, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errcode.Newf(errcode.NotFound, "no journal at %s", path)
	case err != nil:
		return nil, errcode.Wrap(errcode.Unavailable, err, "cannot read "+path)
	case fi.IsDir():
		return nil, errcode.Newf(errcode.InvalidParams, "%s is a directory: give it with --data", path)
	case fi.Size() == 0:
		return nil, errcode.Newf(errcode.JournalCorrupt, "%s is empty: not a callengine journal", path)
	}
	j, err := journal.Open(path, journal.Options{ReadOnly: true, Timeout: replay.LockTimeout})
	if err == nil {
		if err := checkIndex(j, path); err != nil {
			_ = j.Close()
			return nil, err
		}
		return j, nil
	}
	msg := journal.OpenProblem(path, err)
	switch {
	case msg == "":
		msg = "cannot open journal " + path
	case errors.Is(err, journal.ErrLocked):
		msg += " (a running engine): take a copy with `callengine backup --data DIR --out FILE` and give it with --journal"
	}
	return nil, errcode.Wrap(errcode.Classify(err, errcode.Unavailable), err, msg)
}

// checkIndex runs journal.CheckIndex on j, so that a reader notices a
// damaged streams index as backup and replay --verify do, instead of
// reading around it (the listings read events in sequence, not through the
// index).
func checkIndex(j *journal.Journal, path string) error {
	if err := j.CheckIndex(); err != nil {
		return errcode.Wrap(errcode.Classify(err, errcode.JournalCorrupt), err,
			"the streams index of the journal "+path+" is damaged: rebuild it with callengine repair (on a copy, or with the engine stopped)")
	}
	return nil
}

// checkIndexOf opens the journal at path read-only for checkIndex.
func checkIndexOf(path string) error {
	j, err := openJournalReadOnly(path)
	if err != nil {
		return err
	}
	return j.Close()
}

// historyParty writes a party as its client id and number.
func historyParty(p events.Party) string {
	switch {
	case p.Client != "" && p.Number != "":
		return p.Client + " " + p.Number
	case p.Client != "":
		return p.Client
	case p.Number != "":
		return p.Number
	}
	return "?"
}

func historyTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(replay.TimeLayout)
}

// historyDuration writes h:mm:ss, with milliseconds when there are any.
func historyDuration(d time.Duration) string {
	d = d.Round(time.Millisecond)
	h, m, s, ms := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second, d%time.Second/time.Millisecond
	if ms != 0 {
		return fmt.Sprintf("%d:%02d:%02d.%03d", h, m, s, ms)
	}
	return fmt.Sprintf("%d:%02d:%02d", h, m, s)
}

func writeEntries(w io.Writer, entries []history.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tSETUP\tKIND\tOTHER\tSTATE\tREASON\tRANG\tTALKED\tNOTES")
	for i := range entries {
		e := &entries[i]
		reason := e.Reason.String()
		if reason == "" {
			reason = "-"
		}
		var notes []string
		if e.Direction != events.Internal {
			notes = append(notes, e.Direction.String())
		}
		if e.Voicemail {
			notes = append(notes, "voicemail")
		}
		if e.AnsweredBy != "" {
			notes = append(notes, "answered by "+e.AnsweredBy)
		}
		if e.Group != "" {
			notes = append(notes, "group "+e.Group)
		}
		if e.Transfer != "" {
			notes = append(notes, "transfer "+e.Transfer)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Call, historyTime(e.SetupAt), e.Kind, historyParty(e.Other),
			e.State, reason, historyDuration(e.RingDuration), historyDuration(e.TalkDuration), strings.Join(notes, ", "))
	}
	return tw.Flush()
}

func writeBox(w io.Writer, box history.Box) error {
	if _, err := fmt.Fprintf(w, "%d new, %d in the box\n", box.Counts.New, box.Counts.Total); err != nil {
		return err
	}
	if len(box.Messages) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tAT\tFROM\tLENGTH\tNEW")
	for _, m := range box.Messages {
		isNew := ""
		if m.New {
			isNew = "new"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Call, historyTime(m.At), historyParty(m.From), historyDuration(m.Duration), isNew)
	}
	return tw.Flush()
}
