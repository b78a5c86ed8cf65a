package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

const demoUsage = `usage: callengine demo [--data DIR] [flags]

Runs a short contact-centre morning against an engine on a real journal in
DIR and prints each event as it becomes durable. The first run leaves two
calls up and closes the engine; run it again to see them restored from the
journal and ended. See docs/getting-started.md.

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
	flush := func() {
		for {
			select {
			case ev := <-sub.Events():
				fmt.Fprintln(stdout, describe(ev))
			default:
				return
			}
		}
	}
	r := e.Restored()
	fmt.Fprintf(stdout, "journal %s: restored %d clients and %d live calls (%d events) in %v\n",
		e.Journal().Path(), r.Clients, r.Calls, r.Events, r.Duration.Round(time.Microsecond))

	if r.Calls > 0 {
		err = secondRun(ctx, e, stdout, flush)
	} else {
		err = firstRun(ctx, e, stdout, flush)
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
		fmt.Fprintf(out, "  %s  %s → %s  %s  %s\n", a.ID, a.From, a.To, a.State, a.Direction)
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
	fmt.Fprintf(out, "  session %s of bob: %d connection, follows %v\n", s.ID, s.Connections, s.Lines)
	if _, err := e.SetPresence(ctx, "carol", events.PresenceAway, "coffee"); err != nil {
		return err
	}
	step("the directory: everyone, with presence (alice and bob are busy on calls)")
	page, err := e.Directory(ctx, engine.DirectoryQuery{})
	if err != nil {
		return err
	}
	for _, d := range page.Entries {
		fmt.Fprintf(out, "  %-6s %-8s %v %v %s\n", d.ID, d.Presence, d.Numbers, d.Extensions, d.Activity)
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
	fmt.Fprintf(out, "  call %s in voicemail: %v\n", short(vm.ID), vm.InVoicemail)
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
		fmt.Fprintf(out, "  %s  %s (%s) → %s (%s)  %s since %s\n", c.ID, c.Caller.Client, c.Caller.Number,
			c.Callee.Client, c.Callee.Number, c.State, c.SetupAt.Format(time.RFC3339))
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

func describe(ev engine.Event) string {
	at := ev.At().Format("15:04:05.000")
	if c := ev.Call; c != nil {
		s := fmt.Sprintf("%s #%-4d %-14s call %s  %s → %s", at, ev.Seq, ev.Type, short(c.ID), ev.Prev, ev.State)
		switch e := ev.Event.(type) {
		case events.CallDialed:
			s += fmt.Sprintf("  (%s %s → %s)", e.Direction, e.Caller.Number, e.Callee.Number)
		case events.CallRinging:
			s += fmt.Sprintf("  devices %v", e.Devices)
		case events.CallAnswered:
			if e.Device != "" {
				s += "  on " + e.Device
			}
		case events.CallHeld:
			s += "  by " + e.By.String()
		case events.CallResumed:
			s += "  by " + e.By.String()
		case events.CallEnded:
			s += "  reason " + e.Reason.String()
		}
		return s
	}
	if c := ev.Client; c != nil {
		return fmt.Sprintf("%s #%-4d %-14s client %s", at, ev.Seq, ev.Type, c.ID)
	}
	return ev.String()
}

func short(id string) string {
	if len(id) > 10 {
		return "…" + id[len(id)-8:]
	}
	return id
}
