package sip

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Mid-call SIP with real phones (sipp): hold and resume, glare, INFO DTMF,
// MESSAGE, REFER.

// The caller's phone holds with a=sendonly: the engine's call is held by
// the caller, the callee's phone gets a re-INVITE with a=sendonly and the
// caller a=recvonly with a new origin version; a=sendrecv resumes.
func TestSIPpHoldResumeFromPhone(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_hold.xml", bobPort, "")
	uac := h.uac("uac_hold.xml", "alice", "1002")
	uac.wait(t, "uac")
	uas.wait(t, "uas")
	held := h.waitEvent("CallHeld", func(ev *engine.Event) bool { return ev.Type == events.TypeCallHeld })
	if e := held.Event.(events.CallHeld); e.By != engine.Caller || !held.Call.HeldByCaller {
		t.Fatalf("CallHeld by %s, held by caller %v", e.By, held.Call.HeldByCaller)
	}
	res := h.waitEvent("CallResumed", func(ev *engine.Event) bool { return ev.Type == events.TypeCallResumed })
	if e := res.Event.(events.CallResumed); e.By != engine.Caller || res.Call.HeldByCaller {
		t.Fatalf("CallResumed by %s, held by caller %v", e.By, res.Call.HeldByCaller)
	}
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// Glare: the callee's phone sends its own re-INVITE while the engine's
// relayed one is pending: 491; it refuses the engine's with 491, which is
// sent again after 2.1–4 s and answered. The hold goes through.
func TestSIPpReInviteGlare(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_glare.xml", bobPort, "")
	uac := h.uac("uac_hold.xml", "alice", "1002")
	uac.wait(t, "uac")
	uas.wait(t, "uas")
	h.waitEvent("CallHeld", func(ev *engine.Event) bool { return ev.Type == events.TypeCallHeld })
	h.waitEvent("CallResumed", func(ev *engine.Event) bool { return ev.Type == events.TypeCallResumed })
	h.callEnded()
}

// waitLegRecords waits until the dialogs of both sides of a call are
// journaled (CallLegRecorded).
func (h *harness) waitLegRecords() {
	h.t.Helper()
	for _, side := range []engine.Side{engine.Caller, engine.Callee} {
		h.waitEvent("CallLegRecorded "+side.String(), func(ev *engine.Event) bool {
			e, ok := ev.Event.(events.CallLegRecorded)
			return ok && e.Side == side
		})
	}
}

// lastSeq is the journal's last seq, read from a hot backup.
func (h *harness) lastSeq() uint64 {
	h.t.Helper()
	info, err := h.eng.Backup(context.Background(), filepath.Join(h.t.TempDir(), "backup.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	return info.LastSeq
}

// DTMF by INFO both ways: the caller's phone sends Signal=5 (the engine's
// CallDigits by the caller; the callee's phone gets an INFO with Signal=5
// and Duration=160); the engine's digits of the callee (Go API) reach the
// caller's phone as an INFO with Signal=7. A malformed INFO and a REFER
// with a malformed Refer-To get 400 and journal nothing.
func TestSIPpInfoDTMF(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_dtmf.xml", bobPort, "")
	uac := h.uac("uac_dtmf.xml", "alice", "1002")
	ans := h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	h.waitLegRecords()    // both dialogs journaled after the answer
	before := h.lastSeq() // the phone sends its malformed requests a second after the answer
	dig := h.waitEvent("CallDigits", func(ev *engine.Event) bool { return ev.Type == events.TypeCallDigits })
	if e := dig.Event.(events.CallDigits); e.Side != engine.Caller || e.Digits != "5" || time.Duration(e.Duration) != 160*time.Millisecond {
		t.Fatalf("CallDigits %+v", e)
	}
	if dig.Seq != before+1 {
		t.Fatalf("the journal went from seq %d (after the answer, %d) to %d at the digits: the malformed INFO or REFER journaled something", before, ans.Seq, dig.Seq)
	}
	if _, err := h.eng.SendDigits(context.Background(), ans.Call.ID, engine.Callee, "7", engine.ToneOptions{}); err != nil {
		t.Fatal(err)
	}
	uac.wait(t, "uac")
	uas.wait(t, "uas")
	h.callEnded()
}

// Blind transfer by REFER: alice's phone calls bob's and transfers him to
// carol (1003): 202, NOTIFY 100 then 200, BYE to alice; bob's phone goes
// on with carol's (a re-INVITE with carol's SDP); carol hangs up.
func TestSIPpReferBlindTransfer(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort, carolPort := freePort(t), freePort(t)
	h.register("bob", bobPort, 300)
	h.register("carol", carolPort, 300)
	bob := runSipp(t, "uas_kept.xml", bobPort, "")
	carol := runSipp(t, "uas_answer_bye.xml", carolPort, "", "-d", "300")
	alice := h.uac("uac_refer.xml", "alice", "1002", "-key", "target", "1003")
	alice.wait(t, "alice")
	carol.wait(t, "carol")
	bob.wait(t, "bob")
	first := h.waitEvent("first CallEnded", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallEnded && ev.Call.Caller.Client == "alice"
	})
	if first.Call.Reason != events.Transferred {
		t.Fatalf("alice's call ended %s", first.Call.Reason)
	}
	done := h.waitEvent("TransferCompleted", func(ev *engine.Event) bool { return ev.Type == events.TypeTransferCompleted })
	if done.Transfer.Kind != engine.BlindTransfer || done.Transfer.Call != first.Call.ID {
		t.Fatalf("transfer %+v", done.Transfer)
	}
	next := h.waitEvent("new CallEnded", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallEnded && ev.Call.Caller.Client == "bob"
	})
	if next.Call.Callee.Client != "carol" || next.Call.Reason != events.Hangup || next.Call.EndedBy != engine.Callee || next.Call.Transfer != done.Transfer.ID {
		t.Fatalf("new call %s → %s ended %s by %s (transfer %q)", next.Call.Caller.Client, next.Call.Callee.Client, next.Call.Reason, next.Call.EndedBy, next.Call.Transfer)
	}
}

// MESSAGE both ways: alice's registered phone sends a text message to
// 1002 (challenged with 407, then 200: delivered); bob's registered phone
// gets it as a MESSAGE.
func TestSIPpMessage(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("alice", freePort(t), 300)
	h.register("bob", bobPort, 300)
	bob := runSipp(t, "uas_message.xml", bobPort, "")
	alice := h.uac("uac_message.xml", "alice", "1002")
	alice.wait(t, "alice")
	bob.wait(t, "bob")
	sent := h.waitEvent("MessageSent", func(ev *engine.Event) bool { return ev.Type == events.TypeMessageSent })
	if m := sent.Message; m.From.Client != "alice" || m.To != "1002" || strings.TrimSpace(m.Text) != "hello from sipp" {
		t.Fatalf("message %+v", m)
	}
	h.waitEvent("MessageDelivered", func(ev *engine.Event) bool { return ev.Type == events.TypeMessageDelivered })
}

// A hold the engine decides (the Go API, for the caller's side) is a
// re-INVITE with a=sendonly to the callee's phone; the resume one with
// a=sendrecv.
func TestSIPpEngineHoldReInvitesPhone(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_hold.xml", bobPort, "")
	uac := h.uac("uac.xml", "alice", "1002", "-d", "4000")
	ans := h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	ctx := context.Background()
	if _, err := h.eng.Hold(ctx, ans.Call.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := h.eng.Resume(ctx, ans.Call.ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	uac.wait(t, "uac")
	uas.wait(t, "uas")
	h.callEnded()
}
