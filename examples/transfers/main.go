// Command transfers shows the transfers of callengine (FEATURES T1–T3, C14):
// a blind transfer to an agent, one refused with TRANSFER_FAILED, an attended
// transfer completed and one the target does not take, a supervised transfer
// whose invite timer runs out across a restart of the engine, a caller from
// outside sent on to a number outside (its far-end leg follows it), and a
// click-to-call. Every transfer event is printed with the name the client SDKs
// give it (Event.SDKName), or its type when they give it none.
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

// transferTypes are the events of a transfer's own stream.
var transferTypes = []events.Type{
	events.TypeTransferInitiated, events.TypeTransferAnswered, events.TypeTransferNotAnswered,
	events.TypeTransferCompleted, events.TypeTransferNotCompleted, events.TypeTransferCanceled,
	events.TypeTransferFailed,
}

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "callengine-transfers")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A virtual clock and sequential ids make every run print the same;
	// leave Clock and IDs unset in production. Calls and transfers take
	// their ids from the same source: id-1, id-2, …
	clk := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	lb := loopback.New(clk)
	lb.Script("+442071234567", loopback.Behavior{Outcome: loopback.Answer, RingAfter: time.Second, AnswerAfter: 2 * time.Second})
	cfg := engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "id-"}, Adapter: lb}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { e.Close() }()

	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}, {ID: "alice-web"}}},
		{ID: "bob", Extensions: []string{"102"}, Numbers: []string{"+14155550102"}, Devices: []engine.Device{{ID: "bob-desk"}}},
		{ID: "carol", Extensions: []string{"103"}, Devices: []engine.Device{{ID: "carol-desk"}}},
		{ID: "dave", Extensions: []string{"104"}, Devices: []engine.Device{{ID: "dave-desk"}}},
	} {
		if _, err := e.RegisterClient(ctx, spec); err != nil {
			log.Fatal(err)
		}
	}

	// Transfer events come from the transfer's actor, on its own stream.
	// wait prints them until one of type t arrives.
	var sub *engine.Subscription
	subscribe := func() {
		if sub, err = e.Subscribe(ctx, engine.Filter{Types: transferTypes}); err != nil {
			log.Fatal(err)
		}
	}
	subscribe()
	wait := func(t events.Type) engine.Event {
		for {
			select {
			case ev := <-sub.Events():
				name := ev.SDKName() // "" for a blind transfer's completion
				if name == "" {
					name = ev.Type.String()
				}
				line := fmt.Sprintf("    %-19s %s", name, ev.Stream)
				switch x := ev.Event.(type) {
				case events.TransferNotAnswered:
					line += " (" + x.Reason + ")"
				case events.TransferFailed:
					line += " (" + x.Reason + ")"
				}
				fmt.Println(line)
				if ev.Type == t {
					return ev
				}
			case <-time.After(5 * time.Second):
				log.Fatalf("no %s event", t)
			}
		}
	}
	ok := func(c engine.Call, err error) engine.Call {
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	okT := func(t engine.Transfer, err error) engine.Transfer {
		if err != nil {
			log.Fatal(err)
		}
		return t
	}
	call := func(id string) engine.Call { return ok(e.Call(ctx, id)) }
	connect := func(from, to string) engine.Call {
		c := ok(e.Dial(ctx, engine.DialRequest{From: from, To: to}))
		return ok(e.Answer(ctx, c.ID, c.RingingDevices[0]))
	}
	who := func(p engine.Party) string {
		if p.Client != "" {
			return p.Client
		}
		return p.Number
	}
	describe := func(c engine.Call) string {
		s := fmt.Sprintf("%s %s → %s: %s", c.ID, who(c.Caller), who(c.Callee), c.State)
		if c.State == engine.Ended {
			s += fmt.Sprintf(" (%s by the %s)", c.Reason, c.EndedBy)
		}
		return s
	}

	fmt.Println("1. blind: bob sends alice to carol")
	x := connect("alice", "102")
	tr := okT(e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"}))
	wait(events.TypeTransferCompleted)
	fmt.Println("  ", describe(call(x.ID)))
	y := ok(e.Answer(ctx, tr.NewCall, "carol-desk"))
	fmt.Println("  ", describe(y), "— placed by transfer", y.Transfer)

	fmt.Println("2. a target that cannot be reached: nothing changes")
	_, err = e.BlindTransfer(ctx, engine.TransferRequest{Call: y.ID, Side: engine.Caller, To: "999"})
	fmt.Println("   refused:", err)
	fmt.Println("  ", describe(call(y.ID)))

	fmt.Println("3. attended: carol consults dave, then completes")
	tr = okT(e.AttendedTransfer(ctx, engine.TransferRequest{Call: y.ID, Side: engine.Caller, To: "dave"}))
	wait(events.TypeTransferInitiated)
	fmt.Println("  ", describe(call(y.ID)), "— held by carol:", call(y.ID).HeldByCallee)
	fmt.Println("  ", describe(call(tr.Consult)), "— the consultation")
	ok(e.Answer(ctx, tr.Consult, "dave-desk"))
	wait(events.TypeTransferAnswered)
	tr = okT(e.CompleteTransfer(ctx, tr.ID))
	wait(events.TypeTransferCompleted)
	for _, id := range []string{y.ID, tr.Consult, tr.NewCall} {
		fmt.Println("  ", describe(call(id)))
	}
	z := call(tr.NewCall)

	fmt.Println("4. attended: dave consults bob, who is busy; the call resumes by itself")
	tr = okT(e.AttendedTransfer(ctx, engine.TransferRequest{Call: z.ID, Side: engine.Caller, To: "102"}))
	wait(events.TypeTransferInitiated)
	ok(e.Reject(ctx, tr.Consult, true))
	wait(events.TypeTransferNotAnswered)
	fmt.Println("  ", describe(call(z.ID)))

	fmt.Println("5. supervised, 10 s invite timer; the engine restarts after 4 s")
	tr = okT(e.SupervisedTransfer(ctx, engine.TransferRequest{Call: z.ID, Side: engine.Caller, To: "103", InviteTimer: 10 * time.Second}))
	wait(events.TypeTransferInitiated)
	clk.Advance(4 * time.Second)
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	if e, err = engine.Open(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	subscribe()
	got, err := e.Transfer(ctx, tr.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("   restored: %s %s, invite timer due at %s\n", got.ID, got.Status, got.Deadline.Format("15:04:05"))
	clk.Advance(6 * time.Second)
	wait(events.TypeTransferNotAnswered)
	fmt.Println("  ", describe(call(tr.Consult)))
	fmt.Println("  ", describe(call(z.ID)))
	ok(e.Hangup(ctx, z.ID, engine.Caller))

	fmt.Println("6. a caller from outside, sent on to a number outside")
	in := ok(lb.Call(ctx, "+33612345678", "Customer", "+14155550102"))
	in = ok(e.Answer(ctx, in.ID, "bob-desk"))
	tr = okT(e.BlindTransfer(ctx, engine.TransferRequest{Call: in.ID, Side: engine.Caller, To: "+44 20 7123 4567"}))
	wait(events.TypeTransferCompleted)
	clk.Advance(3 * time.Second) // the loopback far end rings, then answers
	out := call(tr.NewCall)
	fmt.Printf("   %s, direction %s, caller leg %s\n", describe(out), out.Direction, out.CallerLeg)
	// The adapter still names the customer's leg by the call it came in on.
	out = ok(e.FarEnded(ctx, in.ID, events.Hangup))
	fmt.Println("   the customer hangs up on leg", in.ID+":", describe(out))

	fmt.Println("7. click-to-call: alice's web phone, then the number outside")
	tr = okT(e.ClickToCall(ctx, engine.ClickToCallRequest{First: "alice", FirstDevice: "alice-web", Second: "+442071234567"}))
	wait(events.TypeTransferInitiated)
	first := call(tr.Consult)
	fmt.Printf("   %s rings %v (origin %s)\n", first.ID, first.RingingDevices, first.Origin)
	ok(e.Answer(ctx, first.ID, "alice-web"))
	wait(events.TypeTransferCompleted)
	clk.Advance(3 * time.Second)
	fmt.Println("  ", describe(call(first.ID)))
	fmt.Println("  ", describe(call(tr.NewCall)))
}
