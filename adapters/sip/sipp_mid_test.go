package sip

import (
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
