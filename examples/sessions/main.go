// Command sessions shows a client's sessions (FEATURES CL4–CL6) and access
// tokens (CL3) through the Go API of package engine: the seed's connection
// counter and its 5-minute grace timer, which survives a restart and fires
// on a virtual clock; subscriptions to other lines and the callpark line,
// delivered by SessionEvents; auto-answer of a click-to-call's first leg;
// and an agent's token, under which a command on someone else's call is
// refused.
package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-sessions")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// A virtual clock and sequential ids make every run print the same;
	// leave Clock and IDs unset in production. The token secret is a fixed
	// example: take 32 random bytes from a secret store instead.
	clk := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	cfg := engine.Config{
		DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "id-"},
		TokenSecret: []byte("an example secret of 32 bytes ok"),
	}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { e.Close() }()

	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Name: "Alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}, {ID: "alice-web"}}},
		{ID: "bob", Name: "Bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
		{ID: "carol", Name: "Carol", Extensions: []string{"103"}, Devices: []engine.Device{{ID: "carol-desk"}}},
		{ID: "dave", Name: "Dave", Extensions: []string{"104"}, Devices: []engine.Device{{ID: "dave-desk"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			return err
		}
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format("15:04:05")
	}
	show := func(what string, s engine.Session, err error) engine.Session {
		if err != nil {
			log.Fatal(err)
		}
		p("  %-28s %s: %s, connections %d, grace until %s", what, s.ID, s.State, s.Connections, at(s.GraceDeadline))
		return s
	}

	p("1. the connection counter: create sets 1, a restore adds 1, a closed connection takes 1")
	s, err := e.CreateSession(ctx, "alice", engine.SessionOptions{})
	s = show("alice opens a tab", s, err)
	id := s.ID
	s, err = e.RestoreSession(ctx, id)
	show("a second tab restores it", s, err)
	s, err = e.CloseConnection(ctx, id)
	show("one tab closes", s, err)
	s, err = e.CloseConnection(ctx, id)
	show("the last tab closes", s, err)
	_, err = e.CloseConnection(ctx, id)
	p("  %-28s %v", "a close with none open", err)
	clk.Advance(3 * time.Minute)
	s, err = e.RestoreSession(ctx, id)
	show("3 min later a reload", s, err)

	p("2. subscriptions: the own line is implicit; other lines of the organisation, and callpark")
	for _, line := range []string{"102", engine.CallparkLine, "101", "999"} {
		if _, err := e.SubscribeLine(ctx, id, line); err != nil {
			p("  subscribe %-9s refused: %v", line, err)
			continue
		}
		p("  subscribe %-9s ok", line)
	}
	lines, err := e.Subscriptions(ctx, id)
	if err != nil {
		return err
	}
	p("  alice's session follows %v", lines)

	// SessionEvents delivers what the session follows. A command returns
	// once its events are published: they are in the channel already.
	sub, err := e.SessionEvents(ctx, id)
	if err != nil {
		return err
	}
	// Seq is the event's place in the journal; a PresenceChanged notice is
	// derived, never journaled: its Seq is 0.
	printEvent := func(ev engine.Event) {
		line := fmt.Sprintf("    #%-2d %-15s %-24s", ev.Seq, ev.Stream, ev.Type)
		switch {
		case ev.Call != nil:
			line += party(ev.Call.Caller) + " → " + party(ev.Call.Callee)
		case ev.Type == events.TypePresenceChanged:
			line += ev.Client.Presence.String()
		case ev.Transfer != nil:
			line += string(ev.Transfer.Status)
		case ev.Session != nil:
			line += fmt.Sprintf("%s, connections %d, auto-answer %v", ev.Session.State, ev.Session.Connections, ev.Session.AutoAnswer)
		}
		p("%s", strings.TrimRight(line, " "))
	}
	drain := func() {
		for {
			select {
			case ev := <-sub.Events():
				printEvent(ev)
			default:
				return
			}
		}
	}
	// settle waits for the event that ends a transfer. The transfer's
	// actor runs beside the calls' actors, so events of different streams
	// may reach the channel in either order: print the journaled ones in
	// journal order, then the presence notices, in the order they came.
	// The events that came before it are in the channel by then, though
	// maybe behind it: take them too.
	settle := func(last events.Type) {
		var journaled []engine.Event
		var presence []string
		timeout := time.After(5 * time.Second)
		for seen := false; ; {
			var ev engine.Event
			var ok bool
			if seen {
				select {
				case ev, ok = <-sub.Events():
				default:
				}
			} else {
				select {
				case ev, ok = <-sub.Events():
				case <-timeout:
					log.Fatalf("no %s", last)
				}
			}
			if !ok && !seen {
				log.Fatalf("subscription ended: %v", sub.Err())
			}
			if !ok {
				break
			}
			if ev.Seq == 0 {
				presence = append(presence, ev.Client.ID+" "+ev.Client.Presence.String())
			} else {
				journaled = append(journaled, ev)
			}
			seen = seen || ev.Type == last
		}
		slices.SortFunc(journaled, func(a, b engine.Event) int { return cmp.Compare(a.Seq, b.Seq) })
		for _, ev := range journaled {
			printEvent(ev)
		}
		p("    presence notices meanwhile: %s", strings.Join(presence, ", "))
	}
	ok := func(c engine.Call, err error) engine.Call {
		if err != nil {
			log.Fatal(err)
		}
		return c
	}

	p("3. SessionEvents: calls and presence of the lines alice follows")
	p("  carol calls dave (not followed), then bob (followed)")
	toDave := ok(e.Dial(ctx, engine.DialRequest{From: "carol", To: "104"}))
	toBob := ok(e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	drain()
	p("  bob answers, carol hangs up")
	ok(e.Answer(ctx, toBob.ID, "bob-desk"))
	ok(e.Hangup(ctx, toBob.ID, engine.Caller))
	ok(e.Hangup(ctx, toDave.ID, engine.Caller))
	drain()

	p("4. auto-answer (on by default): a click-to-call's first leg rings alice's own phone and is answered")
	tr, err := e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", FirstDevice: "alice-web", Second: "102"})
	if err != nil {
		return err
	}
	settle(events.TypeTransferCompleted)
	first := ok(e.Call(ctx, tr.Consult))
	bridge := ok(e.Call(ctx, tr.NewCall))
	p("  %s answered on %s by itself; %s rings bob on %v", first.ID, first.AnsweredDevice, bridge.ID, bridge.RingingDevices)
	ok(e.Hangup(ctx, bridge.ID, engine.Caller))
	drain()
	if s, err = e.SetAutoAnswer(ctx, id, false); err != nil {
		return err
	}
	drain()
	tr, err = e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", FirstDevice: "alice-web", Second: "102"})
	if err != nil {
		return err
	}
	first = ok(e.Call(ctx, tr.Consult))
	p("  auto-answer off: %s stays %s on %v; alice declines it", first.ID, first.State, first.RingingDevices)
	ok(e.Reject(ctx, first.ID, false))
	settle(events.TypeTransferNotAnswered)

	p("5. an agent's token: bob acts as himself only")
	tk, err := e.IssueTokens(ctx, "bob", engine.RoleAgent)
	if err != nil {
		return err
	}
	p("  bob's access token: %d characters, expires %s, refresh at %s", len(tk.Access), at(tk.AccessExpires), at(tk.RefreshAt))
	bctx, who, err := e.Authenticate(ctx, tk.Access)
	if err != nil {
		return err
	}
	p("  authenticated: %s (%s)", who.Client, who.Role)
	ring := ok(e.Dial(ctx, engine.DialRequest{From: "carol", To: "101"}))
	drain()
	seq := e.Journal().LastSeq()
	refused := func(what string, err error) {
		p("  %-34s %s (%d): %v", what, errcode.CodeOf(err), errcode.CodeOf(err).Status(), err)
	}
	_, err = e.Answer(bctx, ring.ID, "alice-desk")
	refused("bob answers carol's call to alice", err)
	_, err = e.RestoreSession(bctx, id)
	refused("bob restores alice's session", err)
	_, err = e.RegisterClient(bctx, engine.ClientSpec{ID: "mallory", Extensions: []string{"666"}})
	refused("bob registers a client", err)
	_, _, err = e.Authenticate(ctx, forge(tk.Access))
	refused("a token with one character changed", err)
	p("  nothing journaled: last seq %d → %d", seq, e.Journal().LastSeq())
	own, err := e.CreateSession(bctx, "bob", engine.SessionOptions{NoAutoAnswer: true})
	show("bob opens his own session", own, err)
	ok(e.Hangup(ctx, ring.ID, engine.Caller))
	drain()
	clk.Advance(50 * time.Minute)
	tk2, err := e.RefreshTokens(ctx, tk.Refresh)
	if err != nil {
		return err
	}
	p("  50 min later bob refreshes: the new access token expires %s", at(tk2.AccessExpires))
	_, _, err = e.Authenticate(ctx, tk.Access)
	if err == nil {
		p("  the old access token still works until it expires at %s: tokens are stateless", at(tk.AccessExpires))
	}

	p("6. the last connection closes; the engine restarts; the grace timer fires on time")
	s, err = e.CloseConnection(ctx, id)
	show("alice's last tab closes", s, err)
	drain()
	if err := e.Close(); err != nil {
		return err
	}
	if e, err = engine.Open(ctx, cfg); err != nil {
		return err
	}
	s, err = e.Session(ctx, id)
	show("after the restart", s, err)
	if sub, err = e.SessionEvents(ctx, id); err != nil {
		return err
	}
	clk.Advance(5*time.Minute - time.Second)
	s, err = e.Session(ctx, id)
	show("one second before", s, err)
	clk.Advance(time.Second)
	for ev := range sub.Events() { // the subscription ends with the session
		printEvent(ev)
	}
	p("  SessionEvents ended: %v", sub.Err())
	_, err = e.RestoreSession(ctx, id)
	p("  a reload now: %v", err)
	left, err := e.Sessions(ctx, "bob")
	if err != nil {
		return err
	}
	p("  bob's session lives on: %d session, %s", len(left), left[0].State)
	return nil
}

// party names a client by its id, a party outside by its number.
func party(p events.Party) string {
	if p.Client != "" {
		return p.Client
	}
	return p.Number
}

// forge changes the last character of a token.
func forge(token string) string {
	c := "A"
	if strings.HasSuffix(token, c) {
		c = "B"
	}
	return token[:len(token)-1] + c
}
