package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/fsm"
	"github.com/callengine/callengine/ids"
)

// benchEngine opens an engine on a real journal with agents a0…a(n-1).
func benchEngine(b *testing.B, agents int) *engine.Engine {
	b.Helper()
	e, err := engine.Open(context.Background(), engine.Config{
		DataDir: b.TempDir(), Clock: clock.NewVirtual(start), IDs: &ids.Sequence{Prefix: "b"}, RingTimeout: 30 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	for i := range agents {
		id := fmt.Sprintf("a%d", i)
		if _, err := e.RegisterClient(context.Background(), engine.ClientSpec{
			ID: id, Extensions: []string{fmt.Sprint(100 + i)}, Devices: []engine.Device{{ID: "d"}},
		}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkBlindTransfer measures one whole blind transfer: a0 calls a1, a1
// answers and transfers a0 to a2, a2 answers, a0 hangs up — 10 call events
// on three streams, two transfer events, every one fsynced.
func BenchmarkBlindTransfer(b *testing.B) {
	e := benchEngine(b, 3)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		x, err := e.Dial(ctx, engine.DialRequest{From: "a0", Device: "d", To: "101"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Answer(ctx, x.ID, "d"); err != nil {
			b.Fatal(err)
		}
		tr, err := e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "102"})
		if err != nil || tr.Status != fsm.Completed {
			b.Fatal(tr.Status, err)
		}
		if _, err := e.Answer(ctx, tr.NewCall, "d"); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Hangup(ctx, tr.NewCall, engine.Caller); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttendedTransfer measures a consultation completed: hold, dial
// the target, answer, complete into a call born connected, hang up.
func BenchmarkAttendedTransfer(b *testing.B) {
	e := benchEngine(b, 3)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		x, err := e.Dial(ctx, engine.DialRequest{From: "a0", Device: "d", To: "101"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Answer(ctx, x.ID, "d"); err != nil {
			b.Fatal(err)
		}
		tr, err := e.AttendedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "102"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Answer(ctx, tr.Consult, "d"); err != nil {
			b.Fatal(err)
		}
		for {
			tr, err = e.CompleteTransfer(ctx, tr.ID)
			if err == nil {
				break
			}
			time.Sleep(50 * time.Microsecond) // the transfer has not heard of the answer yet
		}
		if _, err := e.Hangup(ctx, tr.NewCall, engine.Caller); err != nil {
			b.Fatal(err)
		}
	}
}
