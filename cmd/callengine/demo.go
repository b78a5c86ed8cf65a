package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/replay"
)

const demoUsage = `usage: callengine demo [--data DIR] [flags]

Runs a short contact-centre morning against an engine on a real journal in
DIR and prints each event as it becomes durable, one line each:

  TIME #SEQ EVENT call ID PREV → STATE key=value…

The call ids are whole: give one to 'callengine replay DIR --call ID' (after
the demo has stopped). The first run leaves two calls up and closes the
engine; run it again to see them restored from the journal and ended.
--json writes each event instead as one JSON line on stdout (the envelope
of docs/events.md, with "prev" and "state" for a call event); the story
around them then goes to stderr. See docs/getting-started.md.

Exit status: 0 done, 1 the engine failed, 2 bad usage.

flags:
`

// demo runs a short contact-centre morning on a real journal. The first run
// leaves two calls up (one connected, one ringing) and closes the engine; the
// next run restores them, shows them, and ends them.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoUsage, stderr)
	data := fs.String("data", "callengine-data", "data directory holding the journal")
	level := fs.String("log-level", "none", "log level on stderr: "+strings.Join(engine.LogLevels, ", "))
	logJSON := fs.Bool("log-json", false, "write logs as JSON lines")
	actions := fs.Bool("action-log", false, "log every journaled event with the state change it made (needs --log-level debug)")
	asJSON := fs.Bool("json", false, "write each event as a JSON line on stdout, the story on stderr")
	pos, code, ok := parseFlags(fs, args, stdout, false)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "callengine demo: unexpected argument %q\nrun 'callengine demo -h' for the flags\n", pos[0])
		return 2
	}
	logger, err := engine.NewLogger(stderr, *level, *logJSON)
	if err != nil {
		fmt.Fprintln(stderr, "callengine demo:", err)
		return 2
	}
	lb := loopback.New(clock.Real{})
	lb.Script("+33144556677", loopback.Behavior{Outcome: loopback.Answer, RingAfter: 50 * time.Millisecond, AnswerAfter: 100 * time.Millisecond})
	e, err := engine.Open(ctx, engine.Config{DataDir: *data, Adapter: lb, RingTimeout: 10 * time.Minute,
		Logger: logger, ActionLog: *actions})
	if err != nil {
		fmt.Fprintln(stderr, "callengine demo:", err)
		return 1
	}
	defer e.Close()
	sub, err := e.Subscribe(ctx, engine.Filter{})
	if err != nil {
		fmt.Fprintln(stderr, "callengine demo:", err)
		return 1
	}
	defer sub.Close()
	// flush prints the events that are durable so far; every command returns
	// after its events are durable, so they are all in the channel already.
	story := stdout
	if *asJSON {
		story = stderr
	}
	flush := func() {
		for {
			select {
			case ev := <-sub.Events():
				if *asJSON {
					writeEventJSON(stdout, ev)
				} else {
					fmt.Fprintln(stdout, describe(ev))
				}
			default:
				return
			}
		}
	}
	r := e.Restored()
	fmt.Fprintf(story, "journal %s: restored %d clients and %d live calls (%d events) in %v\n",
		e.Journal().Path(), r.Clients, r.Calls, r.Events, r.Duration.Round(time.Microsecond))

	if r.Calls > 0 {
		err = secondRun(ctx, e, story, flush)
	} else {
		err = firstRun(ctx, e, story, flush)
	}
	flush()
	if err != nil {
		fmt.Fprintln(stderr, "callengine demo:", err)
		return 1
	}
	return 0
}

func firstRun(ctx context.Context, e *engine.Engine, out io.Writer, flush func()) error {
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Name: "Alice", Numbers: []string{"+14155550101"}, Extensions: []string{"101"},
			Devices: []engine.Device{{ID: "alice-desk", Kind: "sip"}}},
		{ID: "bob", Name: "Bob", Extensions: []string{"102"},
			Devices: []engine.Device{{ID: "bob-desk", Kind: "sip"}, {ID: "bob-web", Kind: "webrtc"}}},
		{ID: "carol", Name: "Carol", Extensions: []string{"103"},
			Devices: []engine.Device{{ID: "carol-web", Kind: "webrtc"}}},
	} {
		if c, err := e.Client(ctx, spec.ID); err == nil && c.State == engine.ClientState("registered") {
			continue // registered by an earlier run
		}
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			return err
		}
	}
	step := func(what string) {
		flush()
		fmt.Fprintf(out, "\n-- %s\n", what)
	}

	step("alice dials 102: both of bob's devices ring; bob answers on the web")
	c, err := e.Dial(ctx, engine.DialRequest{From: "alice", Device: "alice-desk", To: "102"})
	if err != nil {
		return err
	}
	if _, err = e.Answer(ctx, c.ID, "bob-web"); err != nil {
		return err
	}
	step("alice holds, then resumes")
	if _, err = e.Hold(ctx, c.ID, engine.Caller); err != nil {
		return err
	}
	if _, err = e.Resume(ctx, c.ID, engine.Caller); err != nil {
		return err
	}
	step("a command the state does not allow is refused and journals nothing")
	if _, err := e.Resume(ctx, c.ID, engine.Caller); err != nil {
		fmt.Fprintln(out, "refused:", err)
	}
	step("carol calls bob while he is on the call (call waiting); it keeps ringing")
	if _, err = e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}); err != nil {
		return err
	}
	step("alice calls a number outside the engine; the loopback far end rings and answers")
	out2, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "+33 1 44 55 66 77"})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := e.Call(ctx, out2.ID)
		if err != nil {
			return err
		}
		if got.State == engine.Connected || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err = e.Hangup(ctx, out2.ID, engine.Caller); err != nil {
		return err
	}
	if err := clientsStory(ctx, e, out, step); err != nil {
		return err
	}
	active, err := e.ActiveCalls(ctx, "bob")
	if err != nil {
		return err
	}
	step("bob's active calls")
	for _, a := range active {
		fmt.Fprintf(out, "  call %s  %s → %s  state=%s direction=%s\n", a.ID, a.From, a.To, a.State, a.Direction)
	}
	flush()
	fmt.Fprintf(out, "\nclosing with %d live calls; run the demo again to see them restored\n", e.LiveCalls())
	return nil
}

// clientsStory shows sessions, presence, the directory and voicemail.
func clientsStory(ctx context.Context, e *engine.Engine, out io.Writer, step func(string)) error {
	step("bob opens a session (page load); it survives a reload; carol sets herself away")
	s, err := e.CreateSession(ctx, "bob", engine.SessionOptions{})
	if err != nil {
		return err
	}
	if _, err := e.SubscribeLine(ctx, s.ID, "101"); err != nil {
		return err
	}
	if _, err := e.CloseConnection(ctx, s.ID); err != nil { // the page unloads: grace timer starts
		return err
	}
	if s, err = e.RestoreSession(ctx, s.ID); err != nil { // and reloads within 5 minutes
		return err
	}
	fmt.Fprintf(out, "  session %s client=bob connections=%d lines=%s\n", s.ID, s.Connections, strings.Join(s.Lines, ","))
	if _, err := e.SetPresence(ctx, "carol", events.PresenceAway, "coffee"); err != nil {
		return err
	}
	step("the directory: everyone, with presence (alice and bob are busy on calls)")
	page, err := e.Directory(ctx, engine.DirectoryQuery{})
	if err != nil {
		return err
	}
	for _, d := range page.Entries {
		line := fmt.Sprintf("  %-6s presence=%s", d.ID, d.Presence)
		if len(d.Numbers) > 0 {
			line += " numbers=" + strings.Join(d.Numbers, ",")
		}
		if len(d.Extensions) > 0 {
			line += " extensions=" + strings.Join(d.Extensions, ",")
		}
		if d.Activity != "" {
			line += fmt.Sprintf(" activity=%q", d.Activity)
		}
		fmt.Fprintln(out, line)
	}
	step("carol has a voicemail box; alice calls her, carol declines, alice leaves a message")
	if _, err := e.SetVoicemail(ctx, "carol", true, time.Minute); err != nil {
		return err
	}
	vm, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "103"})
	if err != nil {
		return err
	}
	if vm, err = e.Reject(ctx, vm.ID, false); err != nil {
		return err
	}
	fmt.Fprintf(out, "  call %s voicemail=%s\n", vm.ID, yesNo(vm.InVoicemail))
	_, err = e.Hangup(ctx, vm.ID, engine.Caller)
	return err
}

func secondRun(ctx context.Context, e *engine.Engine, out io.Writer, flush func()) error {
	fmt.Fprintln(out, "\n-- live calls brought back from the journal")
	var calls []engine.Call
	seen := map[string]bool{}
	clients, err := e.Clients(ctx)
	if err != nil {
		return err
	}
	for _, cl := range clients {
		cs, err := e.Calls(ctx, cl.ID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if !seen[c.ID] {
				seen[c.ID] = true
				calls = append(calls, c)
			}
		}
	}
	for _, c := range calls {
		fmt.Fprintf(out, "  call %s  %s → %s  state=%s since=%s\n", c.ID, demoParty(c.Caller), demoParty(c.Callee),
			c.State, c.SetupAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(out, "\n-- ending them")
	for _, c := range calls {
		if _, err := e.Hangup(ctx, c.ID, engine.Caller); err != nil {
			return err
		}
	}
	flush()
	fmt.Fprintln(out, "\nno live calls left; the next run starts the story again")
	return nil
}

// describe writes an event on one line: its time, seq and type, the stream
// it belongs to (a call with the state before and after it), then its fields
// as key=value, as 'callengine replay --call' prints them.
func describe(ev engine.Event) string {
	s := fmt.Sprintf("%s #%-4d %-17s", ev.At().Format("15:04:05.000"), ev.Seq, ev.Type)
	if c := ev.Call; c != nil {
		prev := string(ev.Prev)
		if prev == "" {
			prev = "-" // the call's first event
		}
		s += fmt.Sprintf(" call %s  %s → %s", c.ID, prev, ev.State)
	} else {
		kind, id := events.ParseStream(ev.Stream)
		s += fmt.Sprintf(" %s %s", kind, id)
	}
	if f := replay.EventFields(ev.Event); f != "" {
		s += "  " + f
	}
	return s
}

// writeEventJSON writes an event as one JSON line: its envelope as the
// journal's JSON form spells it, and for a call event the call's state
// before and after it.
func writeEventJSON(w io.Writer, ev engine.Event) {
	b, err := json.Marshal(ev.Envelope)
	if err != nil {
		fmt.Fprintf(w, "{\"seq\":%d,\"error\":%q}\n", ev.Seq, err.Error())
		return
	}
	if ev.Call != nil {
		extra, _ := json.Marshal(struct {
			Prev  engine.CallState `json:"prev"`
			State engine.CallState `json:"state"`
		}{ev.Prev, ev.State})
		b = append(append(b[:len(b)-1], ','), extra[1:]...)
	}
	fmt.Fprintf(w, "%s\n", b)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// demoParty is a party as its client and number, client/number.
func demoParty(p events.Party) string {
	switch {
	case p.Client != "" && p.Number != "":
		return p.Client + "/" + p.Number
	case p.Client != "":
		return p.Client
	}
	return p.Number
}
