// Command voicemail shows reject to voicemail (FEATURES C7) through the Go
// API of package engine: a client's box, a declined call whose caller
// leaves a message, a call that rings out and is cut by the box's limit, a
// message still being left when the engine restarts, a client that takes
// no calls, the calls that do not go to voicemail, and the box with its
// message-waiting counts.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
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
	dir, err := os.MkdirTemp("", "callengine-voicemail")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// A virtual clock and sequential ids make every run print the same;
	// leave Clock and IDs unset in production.
	clk := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	lb := loopback.New(clk) // a customer calls in from outside through it
	cfg := engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "call-"},
		Adapter: lb, RingTimeout: 30 * time.Second}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { e.Close() }()

	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Extensions: []string{"102"}, Numbers: []string{"+14155550102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
		{ID: "carol", Extensions: []string{"103"}, Devices: []engine.Device{{ID: "carol-desk"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			return err
		}
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	ok := func(c engine.Call, err error) engine.Call {
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	at := func(t time.Time) string { return t.Format("15:04:05") }
	who := func(p events.Party) string {
		if p.Client != "" {
			return p.Client
		}
		return p.Number
	}

	// The voicemail events of bob's calls, as a subscriber sees them.
	watch := func() *engine.Subscription {
		sub, err := e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"},
			Types: []events.Type{events.TypeCallToVoicemail, events.TypeVoicemailLeft, events.TypeCallEnded}})
		if err != nil {
			log.Fatal(err)
		}
		return sub
	}
	sub := watch()
	printEvent := func(ev engine.Event) {
		c := ev.Call
		switch x := ev.Event.(type) {
		case events.CallToVoicemail:
			p("    %s %s %s: %s, the box records until %s", at(ev.At()), c.ID, ev.Type, x.Reason, at(time.Unix(0, x.Deadline).UTC()))
		case events.VoicemailLeft:
			p("    %s %s %s: %v from %s in %s's box", at(ev.At()), c.ID, ev.Type, time.Duration(x.Duration), who(x.From), x.Client)
		case events.CallEnded:
			p("    %s %s %s: %s for the caller, %s for the callee", at(ev.At()), c.ID, ev.Type, c.ReasonFor(engine.Caller), c.ReasonFor(engine.Callee))
		}
	}
	// A command returns once its events are published: they are in the
	// channel already.
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
	// A timer fires on the call's actor, after Advance returns: wait.
	until := func(t events.Type) {
		for {
			select {
			case ev := <-sub.Events():
				printEvent(ev)
				if ev.Type == t {
					return
				}
			case <-time.After(5 * time.Second):
				log.Fatalf("no %s", t)
			}
		}
	}

	p("1. bob sets up a box taking messages up to 90 s")
	bob, err := e.SetVoicemail(ctx, "bob", true, 90*time.Second)
	if err != nil {
		return err
	}
	p("  voicemail %v, up to %v", bob.Voicemail, bob.VoicemailMax)

	p("2. alice calls bob, who declines: alice reaches his box")
	c := ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	clk.Advance(5 * time.Second)
	c = ok(e.Reject(ctx, c.ID, false))
	drain()
	bob, err = e.Client(ctx, "bob")
	if err != nil {
		return err
	}
	p("  %s is %s, in voicemail %v; bob is not on it (he shows %s)", c.ID, c.State, c.InVoicemail, bob.Presence)
	_, err = e.Answer(ctx, c.ID, "bob-desk")
	p("  bob answers now: %v", err)
	_, err = e.Hold(ctx, c.ID, engine.Caller)
	p("  alice holds: %v", err)
	clk.Advance(20 * time.Second)
	p("  alice speaks for 20 s and hangs up")
	c = ok(e.Hangup(ctx, c.ID, engine.Caller))
	drain()

	p("3. a customer calls bob's number and nobody answers: the box's limit ends the message")
	in := ok(lb.Call(ctx, "+33612345678", "Customer", "+14155550102"))
	clk.Advance(30 * time.Second) // the ring timeout
	until(events.TypeCallToVoicemail)
	// The actor arms the box's timer after it published the event: read
	// the call from it, so that the timer is on the clock before it moves.
	in = ok(e.Call(ctx, in.ID))
	clk.Advance(90 * time.Second) // the box's limit
	until(events.TypeCallEnded)

	p("4. carol is leaving a message when the engine restarts: the box's deadline is in the journal")
	c = ok(e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	c = ok(e.Hangup(ctx, c.ID, engine.Callee)) // bob hangs up while it rings: a decline too
	drain()
	clk.Advance(40 * time.Second)
	if err := e.Close(); err != nil {
		return err
	}
	if e, err = engine.Open(ctx, cfg); err != nil {
		return err
	}
	sub = watch()
	c = ok(e.Call(ctx, c.ID))
	p("  after the restart %s is %s, in voicemail %v", c.ID, c.State, c.InVoicemail)
	clk.Advance(50 * time.Second)
	until(events.TypeCallEnded)

	p("5. bob takes no inbound calls now: callers go straight to his box")
	if _, err := e.SetAcceptInbound(ctx, "bob", false); err != nil {
		return err
	}
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	drain()
	clk.Advance(8 * time.Second)
	ok(e.Hangup(ctx, c.ID, engine.Caller))
	drain()
	if _, err := e.SetAcceptInbound(ctx, "bob", true); err != nil {
		return err
	}

	p("6. not to voicemail: a busy signal, a caller who gives up, a call through a group")
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	ok(e.Reject(ctx, c.ID, true))
	drain()
	c = ok(e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	ok(e.Hangup(ctx, c.ID, engine.Caller))
	drain()
	if _, err := e.DefineGroup(ctx, engine.GroupSpec{ID: "sales", Extensions: []string{"200"}, Members: []string{"bob"}}); err != nil {
		return err
	}
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "200"}))
	p("  %s to group %s rings %v; bob declines it", c.ID, c.Group, c.RingingDevices)
	ok(e.Reject(ctx, c.ID, false))
	drain()

	p("7. bob's box: the message-waiting counts and the messages, newest first")
	box, err := e.Voicemail(ctx, "bob")
	if err != nil {
		return err
	}
	showBox := func(box engine.VoicemailBox) {
		p("  new %d, total %d", box.Counts.New, box.Counts.Total)
		for _, m := range box.Messages {
			state := "heard"
			if m.New {
				state = "new"
			}
			p("    %s %s from %-12s %6v  %s", at(m.At), m.Call, who(m.From), m.Duration, state)
		}
	}
	showBox(box)
	oldest := box.Messages[len(box.Messages)-1].Call
	if err := e.MarkVoicemailHeard(ctx, "bob", []string{oldest}); err != nil {
		return err
	}
	if err := e.DeleteVoicemail(ctx, "bob", []string{in.ID}); err != nil {
		return err
	}
	p("  bob listens to %s and deletes %s", oldest, in.ID)
	if box, err = e.Voicemail(ctx, "bob"); err != nil {
		return err
	}
	showBox(box)
	err = e.DeleteVoicemail(ctx, "bob", []string{in.ID})
	p("  deleted twice: %s: %v", errcode.CodeOf(err), strings.TrimPrefix(err.Error(), "not_found: "))
	return nil
}
