// Command messages shows text messages (FEATURES C15): a client sends a text
// to a number, the engine journals it and hands it to the adapter (an
// engine.MessageSender), and the adapter reports the delivery result through
// engine.MessageReporter. A message still waiting for its result when the
// engine stops is handed to the adapter again by the next Open: delivery is
// at least once, and the engine keeps the first result it is told.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/ids"
)

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-messages")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A virtual clock and sequential ids make every run print the same;
	// leave Clock and IDs unset in production.
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(t0)
	// The loopback adapter carries messages too: each number's script says
	// when the far end accepts a message, or why it refuses it.
	lb := loopback.New(clk)
	lb.Script("+33612345678", loopback.Behavior{MessageAfter: 2 * time.Second})
	lb.Script("+33600000000", loopback.Behavior{MessageFailure: "unreachable"})
	lb.Script("+442071234567", loopback.Behavior{Outcome: loopback.Manual}) // never answers
	cfg := engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "msg-"}, Adapter: lb}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { e.Close() }()
	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Numbers: []string{"+14155550101"}, Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-phone"}}},
		{ID: "bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-phone"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			log.Fatal(err)
		}
	}

	// A message's events are on its own stream, "message/<id>".
	var sub *engine.Subscription
	subscribe := func() {
		if sub, err = e.Subscribe(ctx, engine.Filter{Clients: []string{"alice"}}); err != nil {
			log.Fatal(err)
		}
	}
	subscribe()
	drain := func() {
		for {
			select {
			case ev := <-sub.Events():
				if ev.Message == nil {
					continue
				}
				line := fmt.Sprintf("    +%-2v #%-2d %-13s %-16s", ev.At().Sub(t0), ev.Seq, ev.Stream, ev.Type)
				switch x := ev.Event.(type) {
				case events.MessageSent:
					line += fmt.Sprintf(" %s → %s %q", x.From.Number, x.To, x.Text)
				case events.MessageFailed:
					line += " " + x.Reason
				}
				fmt.Println(line)
			default:
				return
			}
		}
	}
	send := func(to, text string) engine.Message {
		m, err := e.SendMessage(ctx, engine.MessageRequest{From: "alice", To: to, Text: text})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("  %s to %s: %s\n", m.ID, m.To, m.Status)
		return m
	}
	status := func(id string) {
		m, err := e.Message(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		line := fmt.Sprintf("  %s %s", m.ID, m.Status)
		if m.Status == fsm.MessageFailed {
			line += " (" + m.Reason + ")"
		}
		fmt.Println(line)
	}

	fmt.Println("alice texts three numbers outside and bob's extension")
	late := send("+33 6 12 34 56 78", "on my way")
	failing := send("+33600000000", "hello")
	silent := send("tel:+44-20-7123-4567", "call me back")
	inside := send("102", "lunch?") // inside the engine: delivered at once
	clk.Advance(2 * time.Second)
	drain()
	for _, m := range []engine.Message{late, failing, silent, inside} {
		status(m.ID)
	}

	fmt.Println("one result per message")
	_, err = e.FarMessageResult(ctx, failing.ID, true, "")
	fmt.Println("  refused:", err)

	fmt.Println("refused before anything is journaled")
	for _, req := range []engine.MessageRequest{
		{From: "alice", To: "+33612345678"},
		{From: "alice", To: "+33612345678", Text: strings.Repeat("x", fsm.MaxMessageText+1)},
		{From: "alice", To: "not a number", Text: "hi"},
		{From: "mallory", To: "+33612345678", Text: "hi"},
	} {
		_, err := e.SendMessage(ctx, req)
		fmt.Println("  refused:", err)
	}

	fmt.Println("the engine restarts with", silent.ID, "still waiting; the far end answers this time")
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	lb.Script("+442071234567", loopback.Behavior{MessageAfter: time.Second})
	if e, err = engine.Open(ctx, cfg); err != nil { // hands silent to the adapter again
		log.Fatal(err)
	}
	subscribe()
	status(silent.ID)
	clk.Advance(time.Second)
	drain()
	status(silent.ID)
}
