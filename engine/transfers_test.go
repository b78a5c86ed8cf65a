package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// waitTransfer polls until the transfer reaches status (transfer steps run on
// the actors' goroutines).
func (h *harness) waitTransfer(id string, status fsm.TransferStatus) engine.Transfer {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tr, err := h.e.Transfer(context.Background(), id)
		if err == nil && tr.Status == status {
			return tr
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("transfer %s: status %q (err %v), want %q", id, tr.Status, err, status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) waitCall(id string, st engine.CallState) engine.Call {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := h.e.Call(context.Background(), id)
		if err == nil && c.State == st {
			return c
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("call %s: state %q (err %v), want %q", id, c.State, err, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// connected sets up alice (101) calling bob (102), answered.
func (h *harness) connected() engine.Call {
	h.t.Helper()
	ctx := context.Background()
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	h.register("carol", "103", nil, "c1")
	c := must[engine.Call](h.t)(h.e.Dial(ctx, engine.DialRequest{From: "alice", Device: "a1", To: "102"}))
	return must[engine.Call](h.t)(h.e.Answer(ctx, c.ID, "b1"))
}

func TestBlindTransferToAgent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	tr, err := h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != fsm.Completed || tr.Kind != engine.BlindTransfer || tr.Target.Client != "carol" {
		t.Fatalf("transfer %+v", tr)
	}
	old := h.waitCall(x.ID, engine.Ended)
	if old.Reason != events.Transferred || old.EndedBy != engine.Callee {
		t.Fatalf("original call ended %s by %s, want transferred by callee", old.Reason, old.EndedBy)
	}
	y := h.waitCall(tr.NewCall, engine.Ringing)
	if y.Caller.Client != "alice" || y.CallerDevice != "a1" || y.Callee.Client != "carol" || y.Transfer != tr.ID {
		t.Fatalf("new call %+v", y)
	}
	y = must[engine.Call](t)(h.e.Answer(ctx, y.ID, "c1"))
	if y.State != engine.Connected {
		t.Fatalf("new call %s", y.State)
	}
}

func TestBlindTransferFailsCleanly(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	before := h.e.Journal().LastSeq()
	for _, to := range []string{"zed", "999", "call me", "+1234"} {
		_, err := h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: to})
		wantCode(t, err, errcode.TransferFailed)
	}
	_, err := h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "102"})
	wantCode(t, err, errcode.TransferFailed) // to the transferring party itself
	_, err = h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: 9, To: "103"})
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.BlindTransfer(ctx, engine.TransferRequest{Call: "nope", Side: engine.Caller, To: "103"})
	wantCode(t, err, errcode.NotFound)
	if got := h.e.Journal().LastSeq(); got != before {
		t.Fatalf("refused transfers journaled %d events", got-before)
	}
	if c := must[engine.Call](t)(h.e.Call(ctx, x.ID)); c.State != engine.Connected {
		t.Fatalf("call is %s after refused transfers", c.State)
	}
}

func TestAttendedTransferCompletes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	tr, err := h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != fsm.Consulting {
		t.Fatalf("status %s", tr.Status)
	}
	if c := h.waitCall(x.ID, engine.Held); !c.HeldByCallee {
		t.Fatal("the original call is not held by the transferring party")
	}
	z := h.waitCall(tr.Consult, engine.Ringing)
	if z.Caller.Client != "bob" || z.Callee.Client != "carol" {
		t.Fatalf("consultation %+v", z)
	}
	_, err = h.e.CompleteTransfer(ctx, tr.ID)
	wantCode(t, err, errcode.InvalidState) // not answered yet
	must[engine.Call](t)(h.e.Answer(ctx, z.ID, "c1"))
	h.waitTransfer(tr.ID, fsm.Answered)
	tr, err = h.e.CompleteTransfer(ctx, tr.ID)
	if err != nil || tr.Status != fsm.Completed {
		t.Fatalf("complete: %+v %v", tr, err)
	}
	y := h.waitCall(tr.NewCall, engine.Connected)
	if y.Caller.Client != "alice" || y.Callee.Client != "carol" || y.AnsweredDevice != "c1" {
		t.Fatalf("new call %+v", y)
	}
	for _, id := range []string{x.ID, z.ID} {
		if c := h.waitCall(id, engine.Ended); c.Reason != events.Transferred {
			t.Fatalf("call %s ended %s", id, c.Reason)
		}
	}
}

func TestAttendedTransferNotAnsweredResumes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	tr := must[engine.Transfer](t)(h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"}))
	must[engine.Call](t)(h.e.Reject(ctx, tr.Consult, true))
	tr = h.waitTransfer(tr.ID, fsm.NotAnswered)
	if tr.Reason != engine.TransferBusy {
		t.Fatalf("reason %q", tr.Reason)
	}
	h.waitCall(x.ID, engine.Connected)
}

func TestAttendedTransferCancel(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	tr := must[engine.Transfer](t)(h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"}))
	must[engine.Call](t)(h.e.Answer(ctx, tr.Consult, "c1"))
	h.waitTransfer(tr.ID, fsm.Answered)
	tr = must[engine.Transfer](t)(h.e.CancelTransfer(ctx, tr.ID))
	if tr.Status != fsm.Canceled {
		t.Fatalf("status %s", tr.Status)
	}
	h.waitCall(tr.Consult, engine.Ended)
	h.waitCall(x.ID, engine.Connected)
}

func TestSupervisedTransferTimerSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	tr := must[engine.Transfer](t)(h.e.SupervisedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103", InviteTimer: 10 * time.Second}))
	h.waitCall(tr.Consult, engine.Ringing)
	h.clock.Advance(4 * time.Second)
	h.reopen()
	if got := h.waitTransfer(tr.ID, fsm.Consulting); !got.Deadline.Equal(start.Add(10 * time.Second)) {
		t.Fatalf("deadline %v", got.Deadline)
	}
	h.clock.Advance(6 * time.Second)
	got := h.waitTransfer(tr.ID, fsm.NotAnswered)
	if got.Reason != engine.TransferInviteTimeout {
		t.Fatalf("reason %q", got.Reason)
	}
	h.waitCall(x.ID, engine.Connected)
}

func TestSupervisedTransferCompletesOnAnswer(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	tr := must[engine.Transfer](t)(h.e.SupervisedTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103", InviteTimer: 10 * time.Second}))
	must[engine.Call](t)(h.e.Answer(ctx, tr.Consult, "c1"))
	tr = h.waitTransfer(tr.ID, fsm.Completed)
	h.waitCall(tr.NewCall, engine.Connected)
	h.waitCall(x.ID, engine.Ended)
}

func TestBlindTransferOfExternalCallerToNumber(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("bob", "102", []string{"+14155550102"}, "b1")
	h.lb.Script("+442071234567", loopback.Behavior{Outcome: loopback.Manual})
	x := must[engine.Call](t)(h.lb.Call(ctx, "+33612345678", "Customer", "+14155550102"))
	must[engine.Call](t)(h.e.Answer(ctx, x.ID, "b1"))
	tr := must[engine.Transfer](t)(h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "+442071234567"}))
	y := h.waitCall(tr.NewCall, engine.Connecting)
	if y.Direction != events.Transit || y.CallerLeg != x.ID || y.Caller.Number != "+33612345678" {
		t.Fatalf("new call %+v", y)
	}
	must[engine.Call](t)(h.e.FarAnswered(ctx, y.ID))
	// The customer's leg was created with the first call: its hangup, named
	// by that call's id, ends the new call.
	y = must[engine.Call](t)(h.e.FarEnded(ctx, x.ID, events.Hangup))
	if y.ID != tr.NewCall || y.State != engine.Ended || y.EndedBy != engine.Caller {
		t.Fatalf("after the customer hung up: %+v", y)
	}
}

// HOLD_NOT_AVAILABLE reaches subscribers as a notice (Seq 0, not journaled),
// for a client's hold and for a far end's.
func TestHoldNotAvailableNotice(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("bob", "102", []string{"+14155550102"}, "b1")
	h.lb.Script("+33100000009", loopback.Behavior{Outcome: loopback.Manual})
	out := must[engine.Call](t)(h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "+33100000009"}))
	h.events()
	before := h.e.Journal().LastSeq()
	_, err := h.e.Hold(ctx, out.ID, engine.Caller)
	wantCode(t, err, errcode.HoldNotAvailable)
	_, err = h.e.FarHold(ctx, out.ID)
	wantCode(t, err, errcode.HoldNotAvailable)
	var notices []events.CallHoldNotAvailable
	for {
		select {
		case ev := <-h.sub.Events():
			if n, ok := ev.Event.(events.CallHoldNotAvailable); ok && ev.Seq == 0 {
				notices = append(notices, n)
				continue
			}
			t.Fatalf("unexpected event %s", ev.Type)
		default:
		}
		break
	}
	if len(notices) != 2 || notices[0].By != engine.Caller || notices[1].By != engine.Callee || notices[0].Reason != fsm.HoldReasonNotEstablished {
		t.Fatalf("notices %+v", notices)
	}
	if h.e.Journal().LastSeq() != before {
		t.Fatal("a refused hold was journaled")
	}
}

// TestTransferSDKNames: a blind transfer is named TRANSFER_BLIND_INIT and
// then nothing — its completion has no warm-transfer name — while an
// attended one goes WARM_INIT, WARM_ANSWERED, WARM_COMPLETED.
func TestTransferSDKNames(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	x := h.connected()
	sub, err := h.e.Subscribe(ctx, engine.Filter{Types: []events.Type{
		events.TypeTransferInitiated, events.TypeTransferAnswered, events.TypeTransferCompleted, events.TypeTransferFailed}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	names := func(n int) []string {
		t.Helper()
		var out []string
		for range n {
			select {
			case ev := <-sub.Events():
				out = append(out, ev.Type.String()+"="+ev.SDKName())
			case <-time.After(5 * time.Second):
				t.Fatalf("after %v: no more transfer events", out)
			}
		}
		return out
	}
	tr := must[engine.Transfer](t)(h.e.BlindTransfer(ctx, engine.TransferRequest{Call: x.ID, Side: engine.Caller, To: "103"}))
	if got, want := names(2), []string{"TransferInitiated=TRANSFER_BLIND_INIT", "TransferCompleted="}; !slices.Equal(got, want) {
		t.Fatalf("blind transfer: %q, want %q", got, want)
	}
	y := must[engine.Call](t)(h.e.Answer(ctx, h.waitCall(tr.NewCall, engine.Ringing).ID, "c1"))
	h.register("dave", "104", nil, "d1")
	tr = must[engine.Transfer](t)(h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: y.ID, Side: engine.Caller, To: "104"}))
	must[engine.Call](t)(h.e.Answer(ctx, h.waitCall(tr.Consult, engine.Ringing).ID, "d1"))
	h.waitTransfer(tr.ID, fsm.Answered)
	must[engine.Transfer](t)(h.e.CompleteTransfer(ctx, tr.ID))
	if got, want := names(3), []string{"TransferInitiated=WARM_INIT", "TransferAnswered=WARM_ANSWERED", "TransferCompleted=WARM_COMPLETED"}; !slices.Equal(got, want) {
		t.Fatalf("attended transfer: %q, want %q", got, want)
	}
}
