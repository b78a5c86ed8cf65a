package engine_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/ids"
)

// exampleConfig is a configuration whose output is the same on every run: a
// virtual clock and readable call ids. Production code leaves Clock and IDs
// unset.
func exampleConfig(dir string) engine.Config {
	return engine.Config{
		DataDir: dir,
		Clock:   clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)),
		IDs:     &ids.Sequence{Prefix: "call-"},
		Domain:  "example.com",
	}
}

// registerAliceAndBob registers two clients: alice (extension 101) and bob
// (extension 102, number +14155550102, two devices).
func registerAliceAndBob(ctx context.Context, e *engine.Engine) {
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Extensions: []string{"102"}, Numbers: []string{"+14155550102"},
			Devices: []engine.Device{{ID: "bob-desk"}, {ID: "bob-web"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			log.Fatal(err)
		}
	}
}

// A call left ringing when the engine closes is ringing again, with its ring
// timer, when the next engine opens the same journal.
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := exampleConfig(dir)

	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	registerAliceAndBob(ctx, e)
	call, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		log.Fatal(err)
	}
	e.Close()

	e, err = engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	r := e.Restored()
	fmt.Printf("restored %d clients, %d live calls, %d events\n", r.Clients, r.Calls, r.Events)
	call, err = e.Call(ctx, call.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(call.ID, call.State, "on", call.RingingDevices, "until", call.RingDeadline.Format(time.TimeOnly))
	// Output:
	// restored 2 clients, 1 live calls, 4 events
	// call-1 ringing on [bob-desk bob-web] until 09:01:00
}

// Dial parses and routes the destination before anything is journaled.
func ExampleEngine_Dial() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	e, err := engine.Open(ctx, exampleConfig(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	registerAliceAndBob(ctx, e)

	for _, to := range []string{"102", "+1 415-555-0102", "tel:+14155550102", "sip:102@example.com", "sip:bob@example.com", "10a", "999", "+33144556677"} {
		call, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: to})
		if err != nil {
			fmt.Printf("%-20s refused: %s (%d)\n", to, errcode.CodeOf(err), errcode.CodeOf(err).Status())
			continue
		}
		fmt.Printf("%-20s %s %s → %s, %s, caller id %s\n", to, call.ID, call.Caller.Client, call.Callee.Client, call.State, call.CallerID)
	}
	// Output:
	// 102                  call-1 alice → bob, ringing, caller id 101
	// +1 415-555-0102      call-2 alice → bob, ringing, caller id 101
	// tel:+14155550102     call-3 alice → bob, ringing, caller id 101
	// sip:102@example.com  call-4 alice → bob, ringing, caller id 101
	// sip:bob@example.com  call-5 alice → bob, ringing, caller id 101
	// 10a                  refused: invalid_params (400)
	// 999                  refused: not_found (404)
	// +33144556677         refused: unavailable (503)
}

// A subscription with a filter receives the durable events of the calls it
// selects, in order, each with the call's state before and after it.
func ExampleEngine_Subscribe() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	e, err := engine.Open(ctx, exampleConfig(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	registerAliceAndBob(ctx, e)

	sub, err := e.Subscribe(ctx, engine.Filter{Clients: []string{"bob"}})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	call, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := e.Answer(ctx, call.ID, "bob-web"); err != nil {
		log.Fatal(err)
	}
	if _, err := e.Hangup(ctx, call.ID, engine.Caller); err != nil {
		log.Fatal(err)
	}
	// Every command returned after its events were published.
	for range 4 {
		ev := <-sub.Events()
		fmt.Printf("#%d %s %s: %s → %s\n", ev.Seq, ev.Stream, ev.Type, ev.Prev, ev.State)
	}
	// Output:
	// #3 call/call-1 CallDialed:  → connecting
	// #4 call/call-1 CallRinging: connecting → ringing
	// #5 call/call-1 CallAnswered: ringing → connected
	// #6 call/call-1 CallEnded: connected → ended
}

// Either side may hold; the call stays held until every side that holds it
// has resumed.
func ExampleEngine_Hold() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	e, err := engine.Open(ctx, exampleConfig(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	registerAliceAndBob(ctx, e)
	call, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := e.Answer(ctx, call.ID, "bob-desk"); err != nil {
		log.Fatal(err)
	}

	show := func(what string, c engine.Call, err error) {
		if err != nil {
			fmt.Printf("%-14s refused: %v\n", what, err)
			return
		}
		local, remote := c.HoldFlags(engine.Caller)
		fmt.Printf("%-14s %-9s alice sees local=%v remote=%v\n", what, c.State, local, remote)
	}
	c, err := e.Hold(ctx, call.ID, engine.Caller)
	show("alice holds", c, err)
	c, err = e.Hold(ctx, call.ID, engine.Callee)
	show("bob holds", c, err)
	c, err = e.Hold(ctx, call.ID, engine.Callee)
	show("bob holds", c, err)
	c, err = e.Resume(ctx, call.ID, engine.Caller)
	show("alice resumes", c, err)
	c, err = e.Resume(ctx, call.ID, engine.Callee)
	show("bob resumes", c, err)
	// Output:
	// alice holds    held      alice sees local=true remote=false
	// bob holds      held      alice sees local=true remote=true
	// bob holds      refused: invalid_state: cannot hold: the callee already holds call call-1
	// alice resumes  held      alice sees local=false remote=true
	// bob resumes    connected alice sees local=false remote=false
}
