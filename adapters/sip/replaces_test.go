package sip

import (
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

func TestParseReplaces(t *testing.T) {
	good := map[string]replacesID{
		"<sip:carol@x?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>":                    {callID: "abc@host", toTag: "t1", fromTag: "f1"},
		"<sip:carol@x?Require=replaces&Replaces=a%3Bfrom-tag%3Df%3Bto-tag%3Dt%3Bearly-only>": {callID: "a", toTag: "t", fromTag: "f", earlyOnly: true},
		"sip:carol@x?replaces=a;to-tag=t;from-tag=f":                                         {callID: "a", toTag: "t", fromTag: "f"},
	}
	for in, want := range good {
		got, err := referToReplaces(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"<sip:carol@x>", "<sip:carol@x?Replaces=abc>", "<sip:carol@x?Replaces=abc%3Bto-tag%3D>",
		"<sip:carol@x?Replaces=%3Bto-tag%3Dt%3Bfrom-tag%3Df>", "<sip:carol@x?Replaces=a%ZZ>", "<sip:carol@x?Replaces=a",
	} {
		if _, err := referToReplaces(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func FuzzReplaces(f *testing.F) {
	f.Add("<sip:carol@x?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>")
	f.Add("sip:c@x?replaces=a;to-tag=;from-tag=f")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := referToReplaces(s)
		if err == nil && (r.callID == "" || r.toTag == "" || r.fromTag == "") {
			t.Fatalf("%q: %+v", s, r)
		}
	})
}

// A new INVITE with Replaces (RFC 3891) is 501, and places no call.
func TestInviteWithReplacesIs501(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	req := p.request(sip.INVITE, "1002", "alice")
	req.AppendHeader(sip.NewHeader("Replaces", "abc@host;to-tag=t;from-tag=f"))
	if res := p.do(req, "alice", "alice-secret"); res.StatusCode != 501 {
		t.Fatalf("INVITE with Replaces: %d, want 501", res.StatusCode)
	}
	if n := h.eng.LiveCalls(); n != 0 {
		t.Fatalf("%d live calls", n)
	}
}
