// Command groups shows groups of clients (FEATURES T6): a ring-all group
// rings every available member's devices at once and the first to answer
// takes the call; a round-robin group rings one member at a time, the next
// after the last one picked, and journals each pick, so the rotation goes on
// after a restart. Busy and offline members are skipped. Calls from clients,
// calls from outside and transfers can all go to a group.
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
	dir, err := os.MkdirTemp("", "callengine-groups")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A virtual clock and sequential ids make every run print the same;
	// leave Clock and IDs unset in production.
	clk := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	lb := loopback.New(clk)
	cfg := engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "call-"}, Adapter: lb}
	e, err := engine.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { e.Close() }()

	for _, spec := range []engine.ClientSpec{
		{ID: "alice", Extensions: []string{"101"}, Devices: []engine.Device{{ID: "alice-desk"}}},
		{ID: "bob", Extensions: []string{"102"}, Devices: []engine.Device{{ID: "bob-desk"}, {ID: "bob-web"}}},
		{ID: "carol", Extensions: []string{"103"}, Devices: []engine.Device{{ID: "carol-desk"}}},
		{ID: "dave", Extensions: []string{"104"}, Devices: []engine.Device{{ID: "dave-desk"}}, RejectInbound: true},
		{ID: "erin", Extensions: []string{"105"}, Devices: []engine.Device{{ID: "erin-desk"}}},
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
	okG := func(g engine.Group, err error) engine.Group {
		if err != nil {
			log.Fatal(err)
		}
		return g
	}

	// Members are client ids; they need not be registered (frank is not:
	// he is skipped as offline).
	sales := okG(e.DefineGroup(ctx, engine.GroupSpec{
		ID: "sales", Name: "Sales", Extensions: []string{"200"},
		Members: []string{"bob", "carol", "dave", "frank"}, Strategy: engine.RingAll,
	}))
	support := okG(e.DefineGroup(ctx, engine.GroupSpec{
		ID: "support", Name: "Support", Numbers: []string{"+1 415 555 0200"},
		Members: []string{"bob", "carol", "erin"}, Strategy: engine.RoundRobin,
	}))
	fmt.Printf("groups: %s (%s, ext %v, members %v), %s (%s, %v, members %v)\n",
		sales.ID, sales.Strategy, sales.Extensions, sales.Members,
		support.ID, support.Strategy, support.Numbers, support.Members)

	fmt.Println("ring-all: carol is busy, dave takes no calls, frank is not registered")
	busy := ok(e.Dial(ctx, engine.DialRequest{From: "erin", To: "103"}))
	busy = ok(e.Answer(ctx, busy.ID, "carol-desk"))
	c := ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "200"}))
	fmt.Printf("  %s to %q rings %v (callee not known yet: %q)\n", c.ID, c.Group, c.RingingDevices, c.Callee.Client)
	_, err = e.Answer(ctx, c.ID, "bob-web")
	fmt.Println("  refused:", err)
	c = ok(e.Answer(ctx, c.ID, "bob/bob-web"))
	fmt.Printf("  %s %s: %s answered on %s\n", c.ID, c.State, c.Callee.Client, c.AnsweredDevice)
	_, err = e.Dial(ctx, engine.DialRequest{From: "erin", To: "200"})
	fmt.Println("  everyone busy or offline now:", err)
	ok(e.Hangup(ctx, c.ID, engine.Caller))
	ok(e.Hangup(ctx, busy.ID, engine.Caller))

	// Each round-robin pick is a GroupMemberPicked event on the group's
	// stream.
	sub, err := e.Subscribe(ctx, engine.Filter{Types: []events.Type{events.TypeGroupMemberPicked}})
	if err != nil {
		log.Fatal(err)
	}
	picked := func() {
		ev := <-sub.Events()
		p := ev.Event.(events.GroupMemberPicked)
		fmt.Printf("    %s %s: %s for %s\n", ev.Stream, ev.Type, p.Member, p.Call)
	}
	fmt.Println("round-robin: three calls to +14155550200")
	for range 3 {
		c := ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "+14155550200"}))
		fmt.Printf("  %s rings %s on %v\n", c.ID, c.Callee.Client, c.RingingDevices)
		picked()
		ok(e.Hangup(ctx, c.ID, engine.Caller))
	}

	fmt.Println("the engine restarts: the rotation is in the journal")
	if err := e.Close(); err != nil {
		log.Fatal(err)
	}
	if e, err = engine.Open(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	if sub, err = e.Subscribe(ctx, engine.Filter{Types: []events.Type{events.TypeGroupMemberPicked}}); err != nil {
		log.Fatal(err)
	}
	g := okG(e.Group(ctx, "support"))
	fmt.Printf("  %s: last picked %s\n", g.ID, g.Last)

	fmt.Println("a customer calls bob; while bob is on it, the next call to support skips him")
	in := ok(lb.Call(ctx, "+33612345678", "Customer", "102"))
	in = ok(e.Answer(ctx, in.ID, "bob-desk"))
	fmt.Printf("  %s %s → %s: %s\n", in.ID, in.Caller.Number, in.Callee.Client, in.State)
	c = ok(e.Dial(ctx, engine.DialRequest{From: "alice", To: "+14155550200"}))
	fmt.Printf("  %s rings %s\n", c.ID, c.Callee.Client)
	picked()
	ok(e.Hangup(ctx, c.ID, engine.Caller))

	fmt.Println("bob sends the customer on to sales (a blind transfer to a group)")
	tr, err := e.BlindTransfer(ctx, engine.TransferRequest{Call: in.ID, Side: engine.Caller, To: "sales"})
	if err != nil {
		log.Fatal(err)
	}
	y := ok(e.Call(ctx, tr.NewCall))
	fmt.Printf("  transfer %s %s: %s rings %v\n", tr.ID, tr.Status, y.ID, y.RingingDevices)
	y = ok(e.Answer(ctx, y.ID, "carol/carol-desk"))
	fmt.Printf("  %s %s → %s: %s\n", y.ID, y.Caller.Number, y.Callee.Client, y.State)
}
