package history_test

// Data-driven tests in the style of fsm/: every file under testdata/fold is a
// conversation — events appended to a real journal, and queries of the
// history built from it. Run with -rewrite to regenerate the expected output
// after a deliberate change, then read the diff.
//
// Event commands (every one accepts at=+Ns, the engine-clock time of the
// event relative to the start of the file; call=ID, default the last call
// named):
//
//	dialed call=c1 caller=alice callee=bob    CallDialed; a party is a client id
//	       [caller-number=+1…] [callee-number=…] [caller-name=…]  and/or a number
//	       [caller-id=…] [direction=internal|outbound|inbound|transit]
//	       [group=sales] [transfer=t1] [voicemail-limit=2m]
//	ringing [devices=(bob-desk, bob-web)]     CallRinging (ring-all: member/device)
//	answered [device=bob-desk]                CallAnswered
//	held by=caller|callee   resumed by=…      CallHeld, CallResumed
//	muted side=…                              CallMuted (the history ignores it)
//	parked side=caller by=callee slot=701     CallParked
//	unparked client=carol [number=…]          CallUnparked
//	to-voicemail reason=rejected|no-answer    CallToVoicemail
//	voicemail-left client=bob from=alice [from-number=…] duration=20s   VoicemailLeft
//	ended reason=hangup [by=caller] [missed]  CallEnded
//	history-deleted client=bob calls=(c1, c2) HistoryDeleted on client/bob
//	heard client=bob calls=(c1)               VoicemailHeard
//	voicemail-deleted client=bob calls=(c1)   VoicemailDeleted
//
// After an event the runner prints the changes Projection.Apply made of it
// (a pure projection of its own), one a line; the history under test
// follows the journal on its own.
//
// Queries (of the history under test, which catches up first):
//
//	calls client=alice [number=…] [from=+10s] [to=+20s] [reasons=(missed, hangup)]
//	      [kinds=(missed)] [limit=2] [before=last] [now=+30s]
//	                     before=last pages on from the last entry listed
//	voicemail client=bob
//	restart              close the history and open it again on its file
//	rebuild              rebuild a second history from scratch; it must list
//	                     the same as the first for every client seen

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/history"
	"github.com/callengine/callengine/journal"
)

var base = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func TestFold(t *testing.T) {
	datadriven.Walk(t, "testdata/fold", func(t *testing.T, path string) {
		r := newRunner(t)
		datadriven.RunTest(t, path, r.run)
	})
}

type runner struct {
	t        *testing.T
	dir      string
	j        *journal.Journal
	h        *history.History
	pure     *history.Projection
	now      time.Duration
	call     string
	versions map[string]uint64
	clients  []string
	last     string // cursor of the last entry listed
}

func newRunner(t *testing.T) *runner {
	dir := t.TempDir()
	j, err := journal.Open(filepath.Join(dir, "journal.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{t: t, dir: dir, j: j, pure: history.NewProjection(), versions: map[string]uint64{}}
	r.h = openHistory(t, filepath.Join(dir, "history.db"), j, r.clock)
	t.Cleanup(func() {
		r.h.Close()
		j.Close()
	})
	return r
}

func openHistory(t testing.TB, path string, j *journal.Journal, now func() time.Time) *history.History {
	t.Helper()
	h, err := history.Open(path, j, history.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (r *runner) clock() time.Time { return base.Add(r.now) }

func offset(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil {
		t.Fatalf("bad offset %q: %v", s, err)
	}
	return d
}

func arg(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			if len(a.Vals) == 0 {
				return "true"
			}
			return strings.Join(a.Vals, ",")
		}
	}
	return def
}

func argList(d *datadriven.TestData, key string) []string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			var out []string
			for _, v := range a.Vals {
				for _, s := range strings.Split(v, ",") {
					if s = strings.TrimSpace(s); s != "" {
						out = append(out, s)
					}
				}
			}
			return out
		}
	}
	return nil
}

func side(t *testing.T, s string) events.Side {
	if s == "" {
		return events.NoSide
	}
	v, ok := events.ParseSide(s)
	if !ok {
		t.Fatalf("bad side %q", s)
	}
	return v
}

func reason(t *testing.T, s string) events.Reason {
	v, ok := events.ParseReason(s)
	if !ok {
		t.Fatalf("bad reason %q", s)
	}
	return v
}

func (r *runner) seen(clients ...string) {
	for _, c := range clients {
		if c != "" && !slices.Contains(r.clients, c) {
			r.clients = append(r.clients, c)
		}
	}
}

func (r *runner) run(t *testing.T, d *datadriven.TestData) string {
	r.t = t
	if at := arg(d, "at", ""); at != "" {
		r.now = offset(t, at)
	}
	if c := arg(d, "call", ""); c != "" {
		r.call = c
	}
	party := func(prefix string) events.Party {
		p := events.Party{Client: arg(d, prefix, ""), Number: arg(d, prefix+"-number", ""), Name: arg(d, prefix+"-name", "")}
		r.seen(p.Client)
		return p
	}
	var ev events.Event
	stream := "call/" + r.call
	switch d.Cmd {
	case "dialed":
		e := events.CallDialed{
			Caller: party("caller"), Callee: party("callee"), CallerID: arg(d, "caller-id", ""),
			Group: arg(d, "group", ""), Transfer: arg(d, "transfer", ""),
		}
		switch {
		case e.Caller.Client == "" && e.Callee.Client == "":
			e.Direction = events.Transit
		case e.Caller.Client == "":
			e.Direction = events.Inbound
		case e.Callee.Client == "" && e.Group == "":
			e.Direction = events.Outbound
		}
		if s := arg(d, "direction", ""); s != "" {
			var ok bool
			if e.Direction, ok = events.ParseDirection(s); !ok {
				t.Fatalf("bad direction %q", s)
			}
		}
		if s := arg(d, "voicemail-limit", ""); s != "" {
			e.VoicemailLimit = int64(offset(t, s))
		}
		ev = e
	case "ringing":
		devs := argList(d, "devices")
		for _, dev := range devs {
			if m, _, ok := strings.Cut(dev, "/"); ok {
				r.seen(m)
			}
		}
		ev = events.CallRinging{Devices: devs}
	case "answered":
		ev = events.CallAnswered{Device: arg(d, "device", "")}
	case "held":
		ev = events.CallHeld{By: side(t, arg(d, "by", ""))}
	case "resumed":
		ev = events.CallResumed{By: side(t, arg(d, "by", ""))}
	case "muted":
		ev = events.CallMuted{Side: side(t, arg(d, "side", ""))}
	case "parked":
		ev = events.CallParked{Side: side(t, arg(d, "side", "")), By: side(t, arg(d, "by", "")), Slot: arg(d, "slot", "701")}
	case "unparked":
		ev = events.CallUnparked{Party: party("client"), Device: arg(d, "device", "")}
	case "to-voicemail":
		ev = events.CallToVoicemail{Reason: reason(t, arg(d, "reason", "rejected")), Deadline: base.Add(r.now + 2*time.Minute).UnixNano()}
	case "voicemail-left":
		ev = events.VoicemailLeft{Client: arg(d, "client", ""), From: party("from"), Duration: int64(offset(t, arg(d, "duration", "0s")))}
	case "ended":
		ev = events.CallEnded{Reason: reason(t, arg(d, "reason", "")), By: side(t, arg(d, "by", "")), Missed: arg(d, "missed", "") == "true"}
	case "history-deleted", "heard", "voicemail-deleted":
		client := arg(d, "client", "")
		stream = "client/" + client
		calls := argList(d, "calls")
		switch d.Cmd {
		case "history-deleted":
			ev = events.HistoryDeleted{Calls: calls}
		case "heard":
			ev = events.VoicemailHeard{Calls: calls}
		default:
			ev = events.VoicemailDeleted{Calls: calls}
		}
	case "calls":
		return r.calls(d)
	case "voicemail":
		box, err := r.h.Voicemail(context.Background(), arg(d, "client", ""))
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return formatBox(box)
	case "restart":
		if err := r.h.Close(); err != nil {
			t.Fatal(err)
		}
		r.h = openHistory(t, filepath.Join(r.dir, "history.db"), r.j, r.clock)
		if why := r.h.Rebuilt(); why != "" {
			t.Fatalf("reopened history was rebuilt: %s", why)
		}
		return fmt.Sprintf("reopened: %d live calls\n", r.h.Stats().LiveCalls)
	case "rebuild":
		return r.rebuild()
	default:
		t.Fatalf("unknown command %q", d.Cmd)
	}
	return r.append(stream, ev)
}

// append journals ev and prints what the pure projection makes of it.
func (r *runner) append(stream string, ev events.Event) string {
	at := base.Add(r.now).UnixNano()
	v := r.versions[stream]
	seq, err := r.j.Append(context.Background(), stream, v, [][]byte{events.EncodeBody(nil, at, ev)}, events.Ends(ev))
	if err != nil {
		r.t.Fatal(err)
	}
	r.versions[stream] = v + 1
	env := events.Envelope{Seq: seq, Stream: stream, Version: v + 1, Type: ev.Type(), Time: at, Schema: events.SchemaVersion, Event: ev}
	var b strings.Builder
	for _, ch := range r.pure.Apply(env) {
		switch ch.Op {
		case history.PutEntry:
			fmt.Fprintf(&b, "put %s\n", formatEntry(&ch.Entry))
		case history.PutMessage:
			fmt.Fprintf(&b, "message %s\n", formatMessage(&ch.Message))
		default:
			fmt.Fprintf(&b, "%s %s %s\n", ch.Op, ch.Client, ch.Call)
		}
	}
	if b.Len() == 0 {
		return "(no change)\n"
	}
	return b.String()
}

func rel(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return "+" + t.Sub(base).String()
}

func formatParty(p events.Party) string {
	switch {
	case p.Client != "" && p.Number != "":
		return p.Client + "<" + p.Number + ">"
	case p.Client != "":
		return p.Client
	case p.Number != "":
		return p.Number
	}
	return "?"
}

func formatEntry(e *history.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s %s %s other=%s", e.Client, e.Call, e.Kind, e.State, e.Side, formatParty(e.Other))
	if e.Direction != events.Internal {
		fmt.Fprintf(&b, " %s", e.Direction)
	}
	fmt.Fprintf(&b, " setup=%s ring=%s answer=%s", rel(e.SetupAt), rel(e.RingingAt), rel(e.AnswerAt))
	if !e.VoicemailAt.IsZero() {
		fmt.Fprintf(&b, " vm=%s", rel(e.VoicemailAt))
	}
	fmt.Fprintf(&b, " end=%s rang=%s talked=%s", rel(e.EndAt), e.RingDuration, e.TalkDuration)
	if e.Reason != events.NoReason {
		fmt.Fprintf(&b, " reason=%s", e.Reason)
	}
	if e.EndedBy != events.NoSide {
		fmt.Fprintf(&b, " by=%s", e.EndedBy)
	}
	if e.Voicemail {
		b.WriteString(" voicemail")
	}
	for _, kv := range [][2]string{{"answered-by", e.AnsweredBy}, {"group", e.Group}, {"transfer", e.Transfer}, {"caller-id", e.CallerID}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	return b.String()
}

func formatMessage(m *history.Message) string {
	s := fmt.Sprintf("%s %s: from=%s duration=%s at=%s", m.Client, m.Call, formatParty(m.From), m.Duration, rel(m.At))
	if m.New {
		s += " new"
	}
	return s
}

func formatBox(box history.Box) string {
	var b strings.Builder
	fmt.Fprintf(&b, "new=%d total=%d\n", box.Counts.New, box.Counts.Total)
	for i := range box.Messages {
		fmt.Fprintf(&b, "%s\n", formatMessage(&box.Messages[i]))
	}
	return b.String()
}

func (r *runner) query(d *datadriven.TestData) history.Query {
	q := history.Query{Client: arg(d, "client", ""), Number: arg(d, "number", "")}
	if s := arg(d, "from", ""); s != "" {
		q.From = base.Add(offset(r.t, s))
	}
	if s := arg(d, "to", ""); s != "" {
		q.To = base.Add(offset(r.t, s))
	}
	for _, s := range argList(d, "reasons") {
		q.Reasons = append(q.Reasons, reason(r.t, s))
	}
	for _, s := range argList(d, "kinds") {
		q.Kinds = append(q.Kinds, history.Kind(s))
	}
	if s := arg(d, "limit", ""); s != "" {
		fmt.Sscan(s, &q.Limit)
	}
	switch s := arg(d, "before", ""); s {
	case "":
	case "last":
		q.Before = r.last
	default:
		q.Before = s
	}
	return q
}

func (r *runner) calls(d *datadriven.TestData) string {
	if s := arg(d, "now", ""); s != "" {
		r.now = offset(r.t, s)
	}
	entries, err := r.h.Calls(context.Background(), r.query(d))
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	if len(entries) == 0 {
		return "(none)\n"
	}
	var b strings.Builder
	for i := range entries {
		fmt.Fprintf(&b, "%s\n", formatEntry(&entries[i]))
	}
	r.last = entries[len(entries)-1].Cursor()
	return b.String()
}

// dump lists everything a history holds of the clients seen.
func dump(t testing.TB, h *history.History, clients []string) string {
	t.Helper()
	var b strings.Builder
	for _, c := range clients {
		entries, err := h.Calls(context.Background(), history.Query{Client: c, Limit: history.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for i := range entries {
			fmt.Fprintf(&b, "%s\n", formatEntry(&entries[i]))
		}
		box, err := h.Voicemail(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s box: %s", c, formatBox(box))
	}
	return b.String()
}

func (r *runner) rebuild() string {
	path := filepath.Join(r.dir, "rebuilt.db")
	if err := history.Rebuild(context.Background(), path, r.j, history.Options{Now: r.clock}); err != nil {
		r.t.Fatal(err)
	}
	h2 := openHistory(r.t, path, r.j, r.clock)
	defer h2.Close()
	got, want := dump(r.t, h2, r.clients), dump(r.t, r.h, r.clients)
	if got != want {
		return "rebuilt history differs:\n--- rebuilt\n" + got + "--- followed\n" + want
	}
	return fmt.Sprintf("same: %d lines for %d clients\n", strings.Count(want, "\n"), len(r.clients))
}
