package engine_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/callengine/callengine/engine"
)

// openExample opens an engine on a fresh journal with alice (101) and bob
// (102) registered. The returned function closes it and removes the journal.
func openExample(ctx context.Context) (*engine.Engine, func()) {
	dir, err := os.MkdirTemp("", "callengine-example")
	if err != nil {
		log.Fatal(err)
	}
	e, err := engine.Open(ctx, exampleConfig(dir))
	if err != nil {
		log.Fatal(err)
	}
	registerAliceAndBob(ctx, e)
	return e, func() { e.Close(); os.RemoveAll(dir) }
}

// connected places a call from a client to an extension and answers it on
// the callee's first device.
func connected(ctx context.Context, e *engine.Engine, from, to string) engine.Call {
	c, err := e.Dial(ctx, engine.DialRequest{From: from, To: to})
	if err != nil {
		log.Fatal(err)
	}
	c, err = e.Answer(ctx, c.ID, c.RingingDevices[0])
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// DTMF tones are events: the adapter plays them, the call counts them.
// Zero ToneOptions take 100 ms tones with 70 ms gaps.
func ExampleEngine_SendDigits() {
	ctx := context.Background()
	e, done := openExample(ctx)
	defer done()
	call := connected(ctx, e, "alice", "102")
	sub, err := e.Subscribe(ctx, engine.Filter{Calls: []string{call.ID}})
	if err != nil {
		log.Fatal(err)
	}

	call, err = e.SendDigits(ctx, call.ID, engine.Caller, "1234#", engine.ToneOptions{})
	if err != nil {
		log.Fatal(err)
	}
	call, err = e.SendDigits(ctx, call.ID, engine.Caller, ",9", engine.ToneOptions{Duration: 200 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	_, err = e.SendDigits(ctx, call.ID, engine.Caller, "12x", engine.ToneOptions{})
	fmt.Println("refused:", err)
	for range 2 {
		ev := <-sub.Events()
		fmt.Printf("%s %+v\n", ev.Type, ev.Event)
	}
	fmt.Println("tones sent:", call.Digits)
	// Output:
	// refused: invalid_params: 'x' is not a DTMF tone (0-9 * # A-D ,)
	// CallDigits {Side:caller Digits:1234# Duration:100000000 Gap:70000000}
	// CallDigits {Side:caller Digits:,9 Duration:200000000 Gap:70000000}
	// tones sent: 7
}

// Bob parks Alice's call: she waits in the first free slot until any other
// client takes the call. A call placed in a slot that is taken is refused.
func ExampleEngine_Park() {
	ctx := context.Background()
	e, done := openExample(ctx)
	defer done()
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "carol", Extensions: []string{"103"},
		Devices: []engine.Device{{ID: "carol-desk"}}}); err != nil {
		log.Fatal(err)
	}
	first := connected(ctx, e, "alice", "102")
	second := connected(ctx, e, "carol", "102")

	c, err := e.Park(ctx, first.ID, engine.Callee, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s parked in slot %s: the %s waits, %s\n", c.ID, c.ParkSlot, c.ParkedSide, c.State)
	_, err = e.Park(ctx, second.ID, engine.Callee, "1")
	fmt.Println("refused:", err)
	if _, err := e.Pause(ctx, second.ID, engine.Callee); err != nil { // bob's own slot: his extension
		log.Fatal(err)
	}
	parked, err := e.ParkedCalls(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range parked {
		fmt.Printf("slot %-3s %s waits for a client\n", p.ParkSlot, p.Caller.Client)
	}

	c, err = e.UnparkSlot(ctx, "1", "carol", "carol-desk")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s: %s with %s on %s\n", c.ID, c.State, c.Caller.Client, c.Callee.Client, c.AnsweredDevice)
	// Output:
	// call-1 parked in slot 1: the caller waits, held
	// refused: conflict: park slot 1 holds call call-1
	// slot 1   alice waits for a client
	// slot 102 carol waits for a client
	// call-1 connected: alice with carol on carol-desk
}

// Alice holds her calls with Bob and Carol and merges them: the three talk
// together. Hold is not available in a conference.
func ExampleEngine_Merge() {
	ctx := context.Background()
	e, done := openExample(ctx)
	defer done()
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "carol", Extensions: []string{"103"},
		Devices: []engine.Device{{ID: "carol-desk"}}}); err != nil {
		log.Fatal(err)
	}
	withBob := connected(ctx, e, "alice", "102")
	withCarol := connected(ctx, e, "alice", "103")
	req := engine.MergeRequest{Call: withBob.ID, Side: engine.Callee, Other: withCarol.ID, OtherSide: engine.Callee}
	_, err := e.Merge(ctx, req)
	fmt.Println("refused:", err)
	for _, id := range []string{withBob.ID, withCarol.ID} {
		if _, err := e.Hold(ctx, id, engine.Caller); err != nil {
			log.Fatal(err)
		}
	}

	conf, err := e.Merge(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("conference", conf.ID, "hosted by", conf.Host.Client, "of calls", conf.Calls)
	for _, p := range conf.Parties {
		fmt.Println("  party", p.Client, p.Number)
	}
	call, err := e.Call(ctx, withBob.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(call.ID, call.State, "with peer", call.Peer)
	_, err = e.Hold(ctx, withBob.ID, engine.Caller)
	fmt.Println("refused:", err)
	// Output:
	// refused: invalid_state: cannot merge: call call-1 is connected, not held
	// conference call-3 hosted by alice of calls [call-1 call-2]
	//   party alice 101
	//   party bob 102
	//   party carol 103
	// call-1 connected with peer call-2
	// refused: hold_not_available: cannot hold call call-1: the call is in a conference
}
