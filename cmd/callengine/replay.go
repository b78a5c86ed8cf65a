package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/replay"
)

const replayUsage = `usage: callengine replay FILE [flags]

Reads a journal read-only and shows what happened. FILE is a copy taken with
'callengine backup --data DIR --out FILE' (a running engine keeps its journal
locked), or the journal.db — or the data directory — of a stopped engine;
FILE - reads the journal from stdin. --html - writes the page to stdout.
See docs/replay.md.

  callengine replay FILE                        every call, one line each (filters below)
  callengine replay FILE --transfers            every transfer, one line each (same filters, but --reason)
  callengine replay FILE --call ID              a call's events, each with the state after it,
                                                and the events of the transfers that name it
  callengine replay FILE --call ID --html OUT   the call as a ladder diagram (self-contained HTML)
  callengine replay FILE --at TIME              every client, call and transfer as of TIME
  callengine replay FILE --verify               run every stream through the current code

Times are RFC 3339, with or without fractional seconds (2026-01-05T09:30:00Z),
on the engine's clock; output is in UTC.

Exit status: 0 done, 1 --verify found a divergence, 2 bad usage or a journal
that cannot be read (missing, locked, damaged, not a journal, unknown call).

flags:
`

// replayLadder draws a call as a ladder diagram in a self-contained HTML page
// (a variable so that tests can watch what it is given).
var replayLadder = replay.WriteLadder

// replayCmd is "callengine replay".
func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay", replayUsage, stderr)
	callID := fs.String("call", "", "show the call with this `ID`: its events and its state after each")
	htmlOut := fs.String("html", "", "with --call: write the call as a ladder diagram to this HTML `FILE`")
	at := fs.String("at", "", "show every client and call as of this `TIME`")
	verify := fs.Bool("verify", false, "re-run every stream through the current fsm code; report divergences, exit 1 if any")
	transfers := fs.Bool("transfers", false, "list the transfers instead of the calls (filters as for calls, but --reason)")
	asJSON := fs.Bool("json", false, "write JSON instead of text")
	since := fs.String("since", "", "list calls set up (transfers started) at or after this `TIME`")
	until := fs.String("until", "", "list calls set up (transfers started) before this `TIME`")
	client := fs.String("client", "", "list calls where this client `ID` is the caller or the callee (transfers where it transfers, is sent on, or is the target)")
	number := fs.String("number", "", "list calls with this `NUMBER`: caller's, callee's, caller id or as dialled (E.164 in any spelling); transfers with it as a party's number or the target as given")
	reason := fs.String("reason", "", "list calls that ended with this `REASON`: hangup, busy, no-answer, failed, transferred, rejected, canceled, missed")

	positional, code, ok := parseFlags(fs, args, stdout, true)
	if !ok {
		return code
	}
	var err error
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "callengine replay: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'callengine replay -h' for the flags")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "callengine replay:", err)
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch len(positional) {
	case 0:
		return usageErr("which journal? give a FILE (a copy taken with 'callengine backup')")
	case 1:
	default:
		return usageErr("one journal at a time: unexpected %q", positional[1])
	}
	set["verify"] = *verify // --verify=false asks for no verification
	set["transfers"] = *transfers
	var modes []string
	for _, m := range []string{"call", "at", "verify", "transfers"} {
		if set[m] {
			modes = append(modes, "--"+m)
		}
	}
	if len(modes) > 1 {
		return usageErr("%s: choose one", strings.Join(modes, " and "))
	}
	if set["html"] && !set["call"] {
		return usageErr("--html draws one call: give its --call ID")
	}
	if set["call"] && *callID == "" {
		return usageErr("--call needs a call id")
	}
	if set["html"] && *htmlOut == "" {
		return usageErr("--html needs an output file")
	}
	if len(modes) > 0 {
		for _, f := range []string{"since", "until", "client", "number", "reason"} {
			if !set[f] || modes[0] == "--transfers" && f != "reason" {
				continue
			}
			if modes[0] == "--transfers" {
				return usageErr("--reason filters calls by how they ended: a transfer has no such reason (its STATUS says how it went)")
			}
			return usageErr("--%s filters the call list: it does not go with %s", f, modes[0])
		}
	}
	var filter replay.Filter
	if filter.Since, err = replayTime("since", *since); err != nil {
		return usageErr("%v", err)
	}
	if filter.Until, err = replayTime("until", *until); err != nil {
		return usageErr("%v", err)
	}
	filter.Client, filter.Number = *client, *number
	if *reason != "" {
		r, ok := events.ParseReason(*reason)
		if !ok {
			return usageErr("--reason %q: one of hangup, busy, no-answer, failed, transferred, rejected, canceled, missed", *reason)
		}
		filter.Reason = r
	}
	instant, err := replayTime("at", *at)
	if err != nil {
		return usageErr("%v", err)
	}

	file, done, err := stdinFile(positional[0])
	if err != nil {
		return fail(err)
	}
	defer done()
	l, err := replay.Open(file)
	if err != nil {
		return fail(err)
	}
	if !set["verify"] { // --verify checks the index itself and reports what it finds
		if err := checkIndexOf(l.Path()); err != nil {
			l.Close()
			return fail(err)
		}
	}
	defer l.Close()
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	out := replayOutput{w: stdout, json: *asJSON}

	switch {
	case set["verify"]:
		r, err := l.Verify()
		if err != nil {
			return fail(err)
		}
		if err := out.write(r, func(w io.Writer) error { return replay.WriteReport(w, r) }); err != nil {
			return fail(err)
		}
		if !r.OK() {
			return 1
		}
		return 0

	case set["at"]:
		s, err := l.At(instant)
		if err != nil {
			return fail(err)
		}
		return out.done(fail, out.write(s, func(w io.Writer) error { return replay.WriteSnapshot(w, s) }))

	case set["transfers"]:
		ts, err := l.Transfers(filter)
		if err != nil {
			return fail(err)
		}
		doc := struct {
			Journal   string                   `json:"journal"`
			Transfers []replay.TransferSummary `json:"transfers"`
		}{l.Path(), ts}
		return out.done(fail, out.write(doc, func(w io.Writer) error {
			if err := replay.WriteTransfers(w, ts); err != nil {
				return err
			}
			live := 0
			for _, t := range ts {
				if t.Live {
					live++
				}
			}
			_, err := fmt.Fprintf(w, "%d transfers, %d live\n", len(ts), live)
			return err
		}))

	case set["html"]:
		// The call's events and those of the transfers that name it, which
		// the ladder draws as notes.
		steps, err := l.Timeline(*callID)
		if err != nil {
			return fail(err)
		}
		envs := replay.StepEnvelopes(steps)
		if *htmlOut == "-" {
			// stdout carries the page; the summary goes to stderr.
			if err := replayLadder(stdout, replayTitle(steps[len(steps)-1].Call()), envs); err != nil {
				return fail(fmt.Errorf("--html: %w", err))
			}
			out.w = stderr
		} else if err := replayWriteHTML(*htmlOut, replayTitle(steps[len(steps)-1].Call()), envs); err != nil {
			return fail(err)
		}
		summary := struct {
			HTML   string `json:"html"`
			Call   string `json:"call"`
			Events int    `json:"events"`
		}{*htmlOut, *callID, len(envs)}
		return out.done(fail, out.write(summary, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "wrote %s: call %s, %d events\n", *htmlOut, *callID, len(envs))
			return err
		}))

	case set["call"]:
		steps, err := l.Timeline(*callID)
		if err != nil {
			return fail(err)
		}
		doc := struct {
			Call     replay.CallSummary `json:"call"`
			Timeline []replay.Step      `json:"timeline"`
		}{steps[len(steps)-1].Call(), steps}
		return out.done(fail, out.write(doc, func(w io.Writer) error { return replay.WriteTimeline(w, steps) }))
	}

	calls, err := l.Calls(filter)
	if err != nil {
		return fail(err)
	}
	doc := struct {
		Journal string               `json:"journal"`
		Calls   []replay.CallSummary `json:"calls"`
	}{l.Path(), calls}
	return out.done(fail, out.write(doc, func(w io.Writer) error {
		if err := replay.WriteCalls(w, calls); err != nil {
			return err
		}
		live := 0
		for _, c := range calls {
			if c.Live {
				live++
			}
		}
		_, err := fmt.Fprintf(w, "%d calls, %d live\n", len(calls), live)
		return err
	}))
}

// replayTime parses an RFC 3339 time given to flag name; "" is the zero time.
func replayTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q is not an RFC 3339 time such as 2026-01-05T09:30:00Z", name, s)
	}
	return t, nil
}

// replayTitle names a call for the ladder page.
func replayTitle(c replay.CallSummary) string {
	who := func(p events.Party) string {
		if p.Client != "" {
			return p.Client
		}
		return p.Number
	}
	return fmt.Sprintf("Call %s: %s → %s (%s)", c.ID, who(c.Caller), who(c.Callee), c.Direction)
}

// replayWriteHTML writes the ladder page to path; a failed page leaves no file.
func replayWriteHTML(path, title string, envs []events.Envelope) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := replayLadder(f, title, envs); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("--html: %w", err)
	}
	return f.Close()
}

// replayOutput writes a result as JSON or as text.
type replayOutput struct {
	w    io.Writer
	json bool
}

func (o replayOutput) write(v any, text func(io.Writer) error) error {
	if !o.json {
		return text(o.w)
	}
	enc := json.NewEncoder(o.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// done turns the outcome of writing into the exit status.
func (o replayOutput) done(fail func(error) int, err error) int {
	if err != nil {
		return fail(err)
	}
	return 0
}
