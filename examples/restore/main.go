// Command restore shows that an engine's live calls outlive it: it leaves one
// call connected and held and another ringing, closes the engine, opens a new
// one on the same journal, and carries on with the calls it brought back —
// including the ring timeout, which was re-armed for the time that was left.
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
	dir, err := os.MkdirTemp("", "callengine-restore")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The virtual clock and the id sequence are shared by both engines: the
	// clock keeps its time and the sequence does not hand out call-1 twice.
	// With the defaults (wall clock, random ids) there is nothing to share.
	clk := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	cfg := engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "call-"}, RingTimeout: 30 * time.Second}

	// First engine: three clients, two calls to bob.
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}, {ID: "bob-web"}}},
		{ID: "carol", Extensions: []string{"103"}, Devices: []engine.Device{{ID: "carol-web"}}},
	} {
		must(e.RegisterClient(ctx, spec))
	}
	first := must(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	must(e.Answer(ctx, first.ID, "bob-desk"))
	must(e.Hold(ctx, first.ID, engine.Callee))
	clk.Advance(10 * time.Second)
	second := must(e.Dial(ctx, engine.DialRequest{From: "carol", To: "102"}))
	clk.Advance(5 * time.Second)
	fmt.Printf("first engine: %s held, %s ringing, %d live calls; closing it\n", first.ID, second.ID, e.LiveCalls())
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}

	// Second engine on the same journal.
	e, err = engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	r := e.Restored()
	fmt.Printf("second engine: restored %d clients, %d live calls, %d events folded\n", r.Clients, r.Calls, r.Events)
	calls := must(e.Calls(ctx, "bob"))
	for _, c := range calls {
		fmt.Printf("  %s %s → %s: %s", c.ID, c.Caller.Client, c.Callee.Client, c.State)
		if c.State == engine.Held {
			fmt.Printf(" (held by bob: %v)", c.HeldByCallee)
		}
		if c.State == engine.Ringing {
			fmt.Printf(" on %v, ring timeout in %v", c.RingingDevices, c.RingDeadline.Sub(clk.Now()))
		}
		fmt.Println()
	}

	sub := must(e.Subscribe(ctx, engine.Filter{Types: []events.Type{events.TypeCallEnded}}))
	fmt.Println("bob resumes the first call and hangs up")
	must(e.Resume(ctx, first.ID, engine.Callee))
	must(e.Hangup(ctx, first.ID, engine.Callee))
	fmt.Println("25 s later the restored ring timer fires: carol's call was never answered")
	clk.Advance(25 * time.Second)
	for range 2 {
		select {
		case ev := <-sub.Events():
			c := ev.Call
			fmt.Printf("  %s ended at %s: %s (bob sees %s)\n", c.ID, c.ReleaseAt.Format("15:04:05"), c.Reason, c.ReasonFor(engine.Callee))
		case <-time.After(2 * time.Second):
			log.Fatal("no CallEnded event")
		}
	}
	fmt.Printf("live calls: %d\n", e.LiveCalls())
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
