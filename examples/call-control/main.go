// Command call-control shows the call controls of callengine beyond hold and
// mute: DTMF tones, recording for a client with the permission, park and
// unpark through the callpark line, pause, and a merge of two calls into a
// conference. Midway it closes the engine and opens it again: parked calls,
// recordings and conferences come back from the journal.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
)

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-call-control")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A virtual clock and sequential ids make every run print the same.
	// Leave Clock and IDs unset in production.
	cfg := engine.Config{
		DataDir: dir,
		Clock:   clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)),
		IDs:     &ids.Sequence{Prefix: "call-"},
	}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}

	// Alice may record; Bob and Carol may not.
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}},
			Permissions: []string{events.PermissionRecord}},
		{ID: "bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
		{ID: "carol", Extensions: []string{"103"}, Devices: []engine.Device{{ID: "carol-desk"}, {ID: "carol-web"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			log.Fatal(err)
		}
	}
	ok := func(c engine.Call, err error) engine.Call {
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	refused := func(_ engine.Call, err error) { fmt.Println("  refused:", err) }
	connect := func(from, to string) engine.Call {
		c := ok(e.Dial(ctx, engine.DialRequest{From: from, To: to}))
		return ok(e.Answer(ctx, c.ID, c.RingingDevices[0]))
	}

	fmt.Println("alice calls bob and types her PIN")
	withBob := connect("alice", "102")
	c := ok(e.SendDigits(ctx, withBob.ID, engine.Caller, "4711#", engine.ToneOptions{}))
	fmt.Printf("  %s: %d tones sent (100 ms each, 70 ms apart)\n", c.ID, c.Digits)
	refused(e.SendDigits(ctx, withBob.ID, engine.Caller, "hello", engine.ToneOptions{}))

	fmt.Println("recording: bob may not, alice may")
	refused(e.StartRecording(ctx, withBob.ID, engine.Callee, ""))
	c = ok(e.StartRecording(ctx, withBob.ID, engine.Caller, ""))
	fmt.Printf("  %s recording=%v ref=%s\n", c.ID, c.Recording, c.RecordingRef)

	// A subscriber of the callpark line sees every parked call.
	sub, err := e.Subscribe(ctx, engine.Filter{Lines: []string{engine.CallparkLine}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob parks alice; carol calls alice and alice pauses her")
	c = ok(e.Park(ctx, withBob.ID, engine.Callee, ""))
	fmt.Printf("  %s: the %s waits in slot %s\n", c.ID, c.ParkedSide, c.ParkSlot)
	withCarol := connect("carol", "101")
	c = ok(e.Pause(ctx, withCarol.ID, engine.Callee))
	fmt.Printf("  %s: the %s waits in slot %s (alice's extension)\n", c.ID, c.ParkedSide, c.ParkSlot)
	refused(e.Hold(ctx, withCarol.ID, engine.Caller))
	for range 2 {
		ev := <-sub.Events()
		fmt.Printf("  callpark line: %s %s slot %s\n", ev.CallID(), ev.Type, ev.Call.ParkSlot)
	}

	fmt.Println("the engine restarts")
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	if e, err = engine.Open(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	parked, err := e.ParkedCalls(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range parked {
		fmt.Printf("  slot %-3s %s (recording=%v)\n", p.ParkSlot, p.ID, p.Recording)
	}

	fmt.Println("carol takes slot 1 on her web device; bob takes slot 101")
	refused(e.UnparkSlot(ctx, "1", "alice", "")) // alice is the parked party
	c = ok(e.UnparkSlot(ctx, "1", "carol", "carol-web"))
	fmt.Printf("  %s %s: %s with %s\n", c.ID, c.State, c.Caller.Client, c.Callee.Client)
	c = ok(e.UnparkSlot(ctx, "101", "bob", "bob-desk"))
	fmt.Printf("  %s %s: %s with %s\n", c.ID, c.State, c.Caller.Client, c.Callee.Client)

	fmt.Println("carol holds both her calls and merges them")
	var held [2]engine.Call
	for i, id := range []string{withBob.ID, withCarol.ID} {
		c := ok(e.Call(ctx, id))
		held[i] = ok(e.Hold(ctx, id, c.SideOf("carol")))
	}
	conf, err := e.Merge(ctx, engine.MergeRequest{
		Call: held[0].ID, Side: held[0].SideOf("carol").Other(), // alice
		Other: held[1].ID, OtherSide: held[1].SideOf("carol").Other(), // bob
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("  conference %s hosted by %s: calls %v\n", conf.ID, conf.Host.Client, conf.Calls)
	for _, p := range conf.Parties {
		fmt.Println("    party", p.Client)
	}
	refused(e.Hold(ctx, withBob.ID, engine.Caller))
}
