// Command basic-call embeds callengine: two clients, a call that rings all of
// the callee's devices (the first to answer wins), hold and resume, hangup,
// and every event as a subscriber sees it.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/ids"
)

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-basic")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A virtual clock moves only when told to, so the durations below are exact
	// and the program does not sleep. Leave Clock and IDs unset in production.
	clk := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	e, err := engine.Open(ctx, engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "call-"}})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	sub, err := e.Subscribe(ctx, engine.Filter{}) // every event
	if err != nil {
		log.Fatal(err)
	}
	// A command returns once its events are durable and published, so they are
	// already in the channel: print what is there.
	printEvents := func() {
		for {
			select {
			case ev := <-sub.Events():
				fmt.Printf("  %s #%d %-12s %-16s %s\n", ev.At().Format("15:04:05"), ev.Seq, ev.Stream, ev.Type, ev.State)
			default:
				return
			}
		}
	}
	check := func(c engine.Call, err error) engine.Call {
		if err != nil {
			log.Fatal(err)
		}
		printEvents()
		return c
	}

	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Name: "Alice", Numbers: []string{"+14155550101"}, Extensions: []string{"101"},
			Devices: []engine.Device{{ID: "alice-desk", Kind: "sip"}}},
		{ID: "bob", Name: "Bob", Extensions: []string{"102"},
			Devices: []engine.Device{{ID: "bob-desk", Kind: "sip"}, {ID: "bob-web", Kind: "webrtc"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			log.Fatal(err)
		}
	}
	printEvents()

	fmt.Println("alice dials extension 102: every device of bob rings")
	call := check(e.Dial(ctx, engine.DialRequest{From: "alice", To: "102"}))
	fmt.Println("  ringing on", call.RingingDevices, "caller id", call.CallerID)

	clk.Advance(4 * time.Second)
	fmt.Println("bob answers on bob-web; bob-desk is too late")
	check(e.Answer(ctx, call.ID, "bob-web"))
	if _, err := e.Answer(ctx, call.ID, "bob-desk"); err != nil {
		fmt.Println("  refused:", err)
	}

	clk.Advance(30 * time.Second)
	fmt.Println("alice holds, then resumes")
	call = check(e.Hold(ctx, call.ID, engine.Caller))
	local, remote := call.HoldFlags(engine.Callee)
	fmt.Printf("  bob sees the call held: local=%v remote=%v\n", local, remote)
	clk.Advance(10 * time.Second)
	check(e.Resume(ctx, call.ID, engine.Caller))

	clk.Advance(20 * time.Second)
	fmt.Println("bob hangs up")
	call = check(e.Hangup(ctx, call.ID, engine.Callee))
	fmt.Printf("  reason %s by %s, rang %v, talked %v\n", call.Reason, call.EndedBy, call.RingingDuration, call.Duration)
}
