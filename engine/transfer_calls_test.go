package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// transferToCall runs TransferToCall of x (alice → bob, bob transfers) to
// consultation z and checks the outcome: alice and carol connected on
// carol's device c1, both of bob's calls ended transferred by bob's side.
func (h *harness) transferToCall(x, z engine.Call) {
	h.t.Helper()
	ctx := context.Background()
	tr, err := h.e.TransferToCall(ctx, engine.TransferToCallRequest{Call: x.ID, Side: engine.Caller, Consult: z.ID})
	if err != nil {
		h.t.Fatal(err)
	}
	if tr.Status != fsm.Completed || tr.Kind != engine.AttendedTransfer || tr.Consult != z.ID || tr.Target.Client != "carol" ||
		tr.Transferor.Client != "bob" || tr.Transferee.Client != "alice" {
		h.t.Fatalf("transfer %+v", tr)
	}
	y := h.waitCall(tr.NewCall, engine.Connected)
	if y.Caller.Client != "alice" || y.CallerDevice != "a1" || y.Callee.Client != "carol" || y.AnsweredDevice != "c1" || y.Transfer != tr.ID {
		h.t.Fatalf("new call %+v", y)
	}
	bobZ := z.Caller.Client == "bob"
	for _, c := range []engine.Call{h.waitCall(x.ID, engine.Ended), h.waitCall(z.ID, engine.Ended)} {
		want := engine.Callee
		if c.ID == z.ID && bobZ {
			want = engine.Caller
		}
		if c.Reason != events.Transferred || c.EndedBy != want {
			h.t.Fatalf("call %s ended %s by %s, want transferred by %s", c.ID, c.Reason, c.EndedBy, want)
		}
	}
	var kinds []string
	deadline := time.After(5 * time.Second)
	for len(kinds) < 3 {
		select {
		case ev := <-h.sub.Events():
			if ev.Transfer != nil {
				kinds = append(kinds, ev.Type.String())
			}
		case <-deadline:
			h.t.Fatalf("transfer events %v", kinds)
		}
	}
	want := []string{"TransferInitiated", "TransferAnswered", "TransferCompleted"}
	if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
		h.t.Fatalf("transfer events %v, want %v", kinds, want)
	}
}

// The consultation bob placed himself (a phone's second line), then
// joined: REFER with Replaces.
func TestTransferToCallConsultationPlacedByTransferor(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	must[engine.Call](t)(h.e.Hold(ctx, x.ID, engine.Callee))
	z := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "bob", Device: "b1", To: "103"}))
	z = must[engine.Call](t)(h.e.Answer(ctx, z.ID, "c1"))
	h.drain()
	h.transferToCall(x, z)
}

// Carol called bob while he held alice: the target is the
// consultation's caller.
func TestTransferToCallConsultationFromTarget(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	must[engine.Call](t)(h.e.Hold(ctx, x.ID, engine.Callee))
	z := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "carol", Device: "c1", To: "102"}))
	z = must[engine.Call](t)(h.e.Answer(ctx, z.ID, "b1"))
	h.drain()
	h.transferToCall(x, z)
}

func TestTransferToCallRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	h.register("dave", "104", nil, "d1")
	ringing := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "bob", Device: "b1", To: "103"}))
	before := h.e.Journal().LastSeq()
	for _, c := range []struct {
		req  engine.TransferToCallRequest
		code errcode.Code
	}{
		{engine.TransferToCallRequest{Call: x.ID, Side: engine.Caller}, errcode.MissingParameter},
		{engine.TransferToCallRequest{Call: x.ID, Side: engine.Caller, Consult: x.ID}, errcode.InvalidParams},
		{engine.TransferToCallRequest{Call: x.ID, Side: 9, Consult: ringing.ID}, errcode.InvalidParams},
		{engine.TransferToCallRequest{Call: x.ID, Side: engine.Caller, Consult: "nope"}, errcode.NotFound},
		{engine.TransferToCallRequest{Call: x.ID, Side: engine.Caller, Consult: ringing.ID}, errcode.InvalidState},
	} {
		_, err := h.e.TransferToCall(ctx, c.req)
		wantCode(t, err, c.code)
	}
	h.unchanged(before)
	// A consultation where the transferring client is not a party.
	must[engine.Call](t)(h.e.Hangup(ctx, ringing.ID, engine.Caller))
	dc := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "dave", Device: "d1", To: "103"}))
	must[engine.Call](t)(h.e.Answer(ctx, dc.ID, "c1"))
	before = h.e.Journal().LastSeq()
	_, err := h.e.TransferToCall(ctx, engine.TransferToCallRequest{Call: x.ID, Side: engine.Caller, Consult: dc.ID})
	wantCode(t, err, errcode.InvalidParams)
	h.unchanged(before)
	if c := must[engine.Call](t)(h.e.Call(ctx, x.ID)); c.State != engine.Connected {
		t.Fatalf("call is %s after refused transfers", c.State)
	}
}
