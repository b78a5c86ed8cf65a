// Command outbound-loopback places calls to numbers outside the engine. The
// loopback adapter plays the far end of each number from a script — answer,
// busy, never answer — on the engine's virtual clock, so a minute of calls
// runs in a moment and the same way every time.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
)

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-outbound")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(t0)
	lb := loopback.New(clk) // the far end acts on the same clock as the engine
	lb.Script("+33144556677", loopback.Behavior{Outcome: loopback.Answer, RingAfter: time.Second, AnswerAfter: 3 * time.Second, HangupAfter: 20 * time.Second})
	lb.Script("+442079460000", loopback.Behavior{Outcome: loopback.Busy, RingAfter: time.Second, RingFor: 2 * time.Second})
	lb.Script("+4930901820", loopback.Behavior{Outcome: loopback.NoAnswer, RingAfter: time.Second}) // rings until the engine gives up

	e, err := engine.Open(ctx, engine.Config{
		DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "call-"},
		Adapter:     lb,
		RingTimeout: 30 * time.Second,
		Numbers:     []string{"+14155550100"}, // the organisation's main number, usable as caller id
	})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	if _, err := e.RegisterClient(ctx, engine.ClientSpec{ID: "alice", Numbers: []string{"+14155550101"},
		Devices: []engine.Device{{ID: "alice-desk"}}}); err != nil {
		log.Fatal(err)
	}
	sub, err := e.Subscribe(ctx, engine.Filter{Clients: []string{"alice"}})
	if err != nil {
		log.Fatal(err)
	}
	show := func(ev engine.Event) {
		if ev.Call == nil {
			return
		}
		line := fmt.Sprintf("  +%-3v %s %-12s %-10s → %s", ev.At().Sub(t0), ev.Call.ID, ev.Type, ev.Prev, ev.State)
		switch x := ev.Event.(type) {
		case events.CallDialed:
			line += fmt.Sprintf("  to %s, caller id %s", x.Callee.Number, x.CallerID)
		case events.CallEnded:
			line += "  " + x.Reason.String()
		}
		fmt.Println(line)
	}
	// A command, and a far-end report made by the loopback adapter, returns
	// once its events are published: print what has arrived.
	drain := func() {
		for {
			select {
			case ev := <-sub.Events():
				show(ev)
			default:
				return
			}
		}
	}

	fmt.Println("alice dials three numbers, presenting the organisation's number")
	var calls []engine.Call
	for _, to := range []string{"+33 1 44 55 66 77", "tel:+44-20-7946-0000", "+49 30 901820"} {
		c, err := e.Dial(ctx, engine.DialRequest{From: "alice", To: to, CallerID: "+14155550100"})
		if err != nil {
			log.Fatal(err)
		}
		calls = append(calls, c)
	}
	noAnswer := calls[2]
	drain()
	for _, step := range []time.Duration{time.Second, 2 * time.Second, time.Second, 20 * time.Second} {
		fmt.Printf("clock +%v\n", step)
		clk.Advance(step)
		drain()
	}

	// The ring timeout is the engine's own timer: it fires on the call actor's
	// goroutine, so wait for its event.
	fmt.Println("clock +7s: 30 s after it started ringing, the engine gives up on the third call")
	clk.Advance(7 * time.Second)
	for ended := false; !ended; {
		select {
		case ev := <-sub.Events():
			show(ev)
			ended = ev.CallID() == noAnswer.ID && ev.Type == events.TypeCallEnded
		case <-time.After(2 * time.Second):
			log.Fatal("the ring timeout did not fire")
		}
	}
	_, err = e.Dial(ctx, engine.DialRequest{From: "alice", To: "+33 1 44 55 66 77", CallerID: "+15550000000"})
	fmt.Println("a caller id the organisation does not own is refused:", err)
	fmt.Println("live calls:", e.LiveCalls())
}
