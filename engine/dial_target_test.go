package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// TestDialAClientByID: a DialRequest whose To is a client id rings that
// client, as a transfer to a client id does; the call presents the
// client's first number or extension and records the id as dialled.
func TestDialAClientByID(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", []string{"+14155550102"}, "b1", "b2")
	h.register("carol", "103", nil, "c1")

	c, err := h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != engine.Ringing || c.Callee.Client != "bob" || c.Callee.Number != "+14155550102" ||
		c.Destination != "bob" || c.Direction != events.Internal || len(c.RingingDevices) != 2 {
		t.Fatalf("dial bob: %+v", c)
	}
	if c, err = h.e.Answer(ctx, c.ID, "b2"); err != nil || c.State != engine.Connected {
		t.Fatalf("answer: %v %+v", err, c)
	}
	// carol has no number: her extension is the callee's number
	z, err := h.e.Dial(ctx, engine.DialRequest{From: "bob", To: "carol"})
	if err != nil || z.Callee.Client != "carol" || z.Callee.Number != "103" {
		t.Fatalf("dial carol: %v %+v", err, z)
	}
	// dialling oneself by id is refused as by extension
	if _, err := h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "alice"}); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("alice dials alice: %v", err)
	}
}

// TestDialAGroupByID: a group id dials the group, as its extension does.
func TestDialAGroupByID(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	if _, err := h.e.DefineGroup(ctx, engine.GroupSpec{ID: "sales", Name: "Sales", Extensions: []string{"200", "201"}, Members: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	c, err := h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	if c.State != engine.Ringing || c.Callee.Number != "200" || c.Destination != "sales" || len(c.RingingDevices) != 1 {
		t.Fatalf("dial sales: %+v", c)
	}
	if _, err := h.e.Hangup(ctx, c.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	// its second extension is dialled as before: the call keeps it
	if c, err = h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "201"}); err != nil || c.Callee.Number != "201" || c.Destination != "201" {
		t.Fatalf("dial 201: %v %+v", err, c)
	}
}

// TestDialOrTransferToAnUnregisteredClient: a client id of a client that is
// no longer registered is not_found, and the message names the client
// (before, a transfer said the target was not a number); a name that is no
// client, group or number says all three were looked for. Nothing is
// journaled.
func TestDialOrTransferToAnUnregisteredClient(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c := h.connected() // alice → bob, carol registered
	if _, err := h.e.UnregisterClient(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	seq := h.e.Journal().LastSeq()

	_, err := h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "carol"})
	if errcode.CodeOf(err) != errcode.NotFound || !strings.Contains(err.Error(), "client carol is not registered") {
		t.Fatalf("dial an unregistered client: %v", err)
	}
	_, err = h.e.BlindTransfer(ctx, engine.TransferRequest{Call: c.ID, Side: engine.Caller, To: "carol"})
	if errcode.CodeOf(err) != errcode.TransferFailed || !errors.Is(err, errcode.ErrNotFound) ||
		!strings.Contains(err.Error(), "client carol is not registered") || strings.Contains(err.Error(), "number") {
		t.Fatalf("blind transfer to an unregistered client: %v", err)
	}
	_, err = h.e.AttendedTransfer(ctx, engine.TransferRequest{Call: c.ID, Side: engine.Caller, To: "carol"})
	if errcode.CodeOf(err) != errcode.TransferFailed || !strings.Contains(err.Error(), "client carol is not registered") {
		t.Fatalf("attended transfer to an unregistered client: %v", err)
	}
	_, err = h.e.ClickToCall(ctx, engine.ClickToCallRequest{First: "carol", Second: "102"})
	if !strings.Contains(fmtErr(err), "client carol is not registered") {
		t.Fatalf("click-to-call from an unregistered client: %v", err)
	}

	for _, to := range []string{"dave", "sales desk"} {
		_, err = h.e.Dial(ctx, engine.DialRequest{From: "alice", To: to})
		if errcode.CodeOf(err) != errcode.InvalidParams || !strings.Contains(err.Error(), "is no client or group") {
			t.Fatalf("dial %q: %v", to, err)
		}
		_, err = h.e.BlindTransfer(ctx, engine.TransferRequest{Call: c.ID, Side: engine.Caller, To: to})
		if errcode.CodeOf(err) != errcode.TransferFailed || !strings.Contains(err.Error(), "is no client or group") {
			t.Fatalf("transfer to %q: %v", to, err)
		}
	}
	// a malformed number keeps its own message
	if _, err = h.e.Dial(ctx, engine.DialRequest{From: "alice", To: "+1x"}); !strings.Contains(fmtErr(err), "is not an E.164 number") {
		t.Fatalf("dial +1x: %v", err)
	}
	if got := h.e.Journal().LastSeq(); got != seq {
		t.Fatalf("refused commands journaled %d events", got-seq)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestTransferReasonIsTyped: Transfer.Reason is a TransferReason whose
// constants are the journal's spellings; its JSON is the plain string.
func TestTransferReasonIsTyped(t *testing.T) {
	b, err := json.Marshal(engine.Transfer{Reason: engine.TransferInviteTimeout})
	if err != nil || !strings.Contains(string(b), `"Reason":"invite-timeout"`) {
		t.Fatalf("JSON %s (%v)", b, err)
	}
	for r, want := range map[engine.TransferReason]string{
		engine.TransferBusy: "busy", engine.TransferNoAnswer: "no-answer", engine.TransferRejected: "rejected",
		engine.TransferCallFailed: "failed", engine.TransferTargetHungUp: "the target hung up",
		engine.TransferFirstPartyHungUp: "the first party hung up", engine.TransferOriginalCallEnded: "the original call ended",
		engine.TransferCallEndedFirst: "the call ended before the transfer",
	} {
		if r.String() != want {
			t.Errorf("%q spelt %q", want, r)
		}
	}
	if r, ok := engine.TransferBusy.CallReason(); !ok || r != events.Busy {
		t.Errorf("busy as a call reason: %v %v", r, ok)
	}
	if _, ok := engine.TransferInviteTimeout.CallReason(); ok {
		t.Error("invite-timeout is no call reason")
	}
	if s, ok := engine.TransferReason("the original call is ringing").OriginalCallStatus(); !ok || s != engine.Ringing {
		t.Errorf("original call status: %q %v", s, ok)
	}
	if c := engine.TransferReason("invalid_state: cannot resume: call c1 is parked in slot 1").ErrorCode(); c != errcode.InvalidState {
		t.Errorf("error code %q", c)
	}
	if c := engine.TransferReason("the target hung up: no").ErrorCode(); c != "" {
		t.Errorf("error code %q", c)
	}
	if engine.TransferCompleted != "completed" || engine.TransferFailed != "failed" || engine.TransferNotAnswered != "not-answered" {
		t.Error("the transfer statuses are not re-exported as the journal spells them")
	}
	if _, ok := engine.TransferTargetHungUp.OriginalCallStatus(); ok {
		t.Error("the target hung up names no status")
	}
}
