package engine_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/ids"
	"github.com/callengine/callengine/journal"
)

// Calls restored in chunks on several cores still have their ring timers
// armed when Open returns, registered in the journal's order: due at the
// same instant, they time out in that order.
func TestRestoreArmsRingTimersInOrder(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewVirtual(start)
	cfg := engine.Config{DataDir: dir, Clock: clk, IDs: &ids.Sequence{Prefix: "r"}, RingTimeout: 30 * time.Second,
		Dispatcher: actor.NewSynchronizedDispatcher(300)}
	e := must[*engine.Engine](t)(engine.Open(ctx, cfg))
	const pairs, calls = 10, 2600 // more calls than a restore chunk holds
	for i := range pairs {
		for _, side := range []string{"a", "b"} {
			must[engine.Client](t)(e.RegisterClient(ctx, engine.ClientSpec{ID: fmt.Sprintf("%s%d", side, i),
				Extensions: []string{fmt.Sprint(map[string]int{"a": 100, "b": 200}[side] + i)}, Devices: []engine.Device{{ID: "d"}}}))
		}
	}
	for i := range calls {
		c := must[engine.Call](t)(e.Dial(ctx, engine.DialRequest{From: fmt.Sprintf("a%d", i%pairs), To: fmt.Sprint(200 + i%pairs)}))
		if c.State != engine.Ringing {
			t.Fatalf("call %s is %s", c.ID, c.State)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = must[*engine.Engine](t)(engine.Open(ctx, cfg))
	defer e.Close()
	if got := e.Restored().Calls; got != calls {
		t.Fatalf("restored %d calls, want %d", got, calls)
	}
	var live []string
	if err := e.Journal().LiveStreams(func(s string) error {
		if k, _ := events.ParseStream(s); k == events.CallStreamKind {
			live = append(live, s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	from := e.Journal().LastSeq() + 1
	clk.Advance(30 * time.Second) // every call times out, none before
	var ended []string
	if err := e.Journal().Scan(from, func(r journal.Record) error {
		if !slices.Contains(ended, r.Stream) {
			ended = append(ended, r.Stream)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ended, live) {
		t.Fatalf("%d calls timed out, want the %d restored ones in the journal's order", len(ended), len(live))
	}
	if e.LiveCalls() != 0 {
		t.Fatalf("%d calls still live", e.LiveCalls())
	}
}
