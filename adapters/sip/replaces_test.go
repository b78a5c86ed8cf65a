package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Attended transfer by REFER with Replaces (RFC 5589 §7): bob's phone
// calls alice (1001), then carol (1003), then REFERs its dialog with
// alice to carol with Replaces naming its dialog with carol. A malformed
// Replaces first gets 400 and journals nothing. Then 202, NOTIFY 100 and
// 200, BYE on both of bob's dialogs; alice's phone gets carol's SDP in a
// re-INVITE and carol's alice's answer; the engine's transfer completes
// (TransferToCall: both of bob's calls end transferred, a new call joins
// alice and carol, connected); carol hangs up and alice gets a BYE.
func TestSIPpReferReplacesAttendedTransfer(t *testing.T) {
	h := newHarness(t, "", nil)
	alicePort, carolPort := freePort(t), freePort(t)
	h.register("alice", alicePort, 300)
	h.register("carol", carolPort, 300)
	alice := runSipp(t, "uas_replaces_kept.xml", alicePort, "")
	carol := runSipp(t, "uas_replaces_target.xml", carolPort, "")
	bob := h.uac("uac_replaces.xml", "bob", "1001", "-key", "target", "1003")
	bob.wait(t, "bob")
	carol.wait(t, "carol")
	alice.wait(t, "alice")

	init := h.waitEvent("TransferInitiated", func(ev *engine.Event) bool { return ev.Type == events.TypeTransferInitiated })
	done := h.waitEvent("TransferCompleted", func(ev *engine.Event) bool { return ev.Type == events.TypeTransferCompleted })
	tr := done.Transfer
	if tr.Kind != engine.AttendedTransfer || tr.ID != init.Transfer.ID || tr.Transferor.Client != "bob" ||
		tr.Transferee.Client != "alice" || tr.Target.Client != "carol" {
		t.Fatalf("transfer %+v", tr)
	}
	for _, id := range []string{tr.Call, tr.Consult} {
		ended := h.waitEvent("CallEnded "+id, func(ev *engine.Event) bool { return ev.Type == events.TypeCallEnded && ev.Call.ID == id })
		by := ended.Call.Caller
		if ended.Call.EndedBy == engine.Callee {
			by = ended.Call.Callee
		}
		if ended.Call.Reason != events.Transferred || by.Client != "bob" {
			t.Fatalf("bob's call %s ended %s by %s", id, ended.Call.Reason, ended.Call.EndedBy)
		}
	}
	ans := h.waitEvent("new call answered", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallAnswered && ev.Call.ID == tr.NewCall
	})
	if c := ans.Call; c.Caller.Client != "alice" || c.Callee.Client != "carol" || c.Transfer != tr.ID {
		t.Fatalf("new call %+v", c)
	}
	next := h.waitEvent("new CallEnded", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallEnded && ev.Call.ID == tr.NewCall
	})
	if next.Call.Reason != events.Hangup || next.Call.EndedBy != engine.Callee {
		t.Fatalf("new call ended %s by %s", next.Call.Reason, next.Call.EndedBy)
	}
	// One transfer only: the malformed Replaces journaled none.
	n := 0
	for _, ev := range h.evs {
		if ev.Type == events.TypeTransferInitiated {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d transfers journaled, want 1", n)
	}
}

// A new INVITE with Replaces (RFC 3891) is challenged like any INVITE;
// authenticated, a malformed Replaces (or two) is 400 and one that names
// no dialog of ours 481; none places a call or journals anything.
func TestInviteWithReplacesRefusals(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	before := h.lastSeq()
	for _, c := range []struct {
		replaces []string
		password string
		want     int
	}{
		{[]string{"abc@host;to-tag=t;from-tag=f"}, "", 407},
		{[]string{"abc@host;to-tag=t"}, "alice-secret", 400},
		{[]string{"abc@host;to-tag=t;from-tag=f", "abd@host;to-tag=t;from-tag=f"}, "alice-secret", 400},
		{[]string{"abc@host;to-tag=t;from-tag=f"}, "alice-secret", 481},
		{[]string{"abc@host;to-tag=t;from-tag=f;early-only"}, "alice-secret", 481},
	} {
		req := p.request(sip.INVITE, "1002", "alice")
		for _, r := range c.replaces {
			req.AppendHeader(sip.NewHeader("Replaces", r))
		}
		if res := p.do(req, "alice", c.password); res.StatusCode != c.want {
			t.Fatalf("INVITE with Replaces %q: %d, want %d", c.replaces, res.StatusCode, c.want)
		}
	}
	if n := h.eng.LiveCalls(); n != 0 {
		t.Fatalf("%d live calls", n)
	}
	if after := h.lastSeq(); after != before {
		t.Fatalf("journal's last seq %d → %d: a refused INVITE journaled something", before, after)
	}
}

// INVITE with Replaces (RFC 3891) from alice's second phone: alice's
// sipp calls bob's (dialog 1), then, in the same sipp call (same Call-ID,
// another From tag), sends INVITEs with Replaces naming dialog 1:
// early-only is 486, authenticated as bob (not the replaced leg's client)
// 403, an unknown tag 481; the real one: bob's phone gets a re-INVITE with
// the new phone's offer (s=phone2, the o= line it knows at version 2),
// its answer comes back in the 200, dialog 1 gets a BYE. The engine's
// call goes on: no new call, the caller's record is the new dialog's;
// the new phone's BYE hangs it up by the caller and bob gets a BYE.
func TestSIPpInviteWithReplaces(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	bob := runSipp(t, "uas_replaced.xml", bobPort, "")
	alice := h.uac("uac_invite_replaces.xml", "alice", "1002")
	alice.wait(t, "alice")
	bob.wait(t, "bob")
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Caller || c.Caller.Client != "alice" || c.Callee.Client != "bob" {
		t.Fatalf("call ended %s by %s, %s → %s", c.Reason, c.EndedBy, c.Caller.Client, c.Callee.Client)
	}
	dialed, replaced := 0, false
	for _, ev := range h.evs {
		switch e := ev.Event.(type) {
		case events.CallDialed:
			dialed++
		case events.CallLegRecorded:
			replaced = replaced || e.Side == engine.Caller && strings.Contains(string(e.Data), "SIPpTag02")
		}
	}
	if dialed != 1 || !replaced {
		t.Fatalf("%d calls dialed (want 1); caller's record of the new dialog journaled: %v", dialed, replaced)
	}
}
