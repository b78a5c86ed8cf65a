package sip

import (
	"strconv"
	"strings"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Real softphones: baresip (Debian package baresip-core), driven over
// ctrl_tcp, registered at the adapter on loopback, audio from a WAV file.
// Media between two SIP phones is passed through: the RTP goes phone to
// phone. The tests fail, never skip, without baresip.

// waitDevice waits for the DeviceAdded of client's SIP binding.
func (h *harness) waitDevice(client string) engine.Event {
	h.t.Helper()
	return h.waitEvent("DeviceAdded "+client, func(ev *engine.Event) bool {
		e, ok := ev.Event.(events.DeviceAdded)
		return ok && ev.Client != nil && ev.Client.ID == client && e.Device.Kind == DeviceKind
	})
}

// registered starts a baresip for each client and waits until each has
// registered: its binding a device in the engine. (Not by the phone's
// REGISTER_OK: it may come before the test is connected to ctrl_tcp.)
func (h *harness) registered(wav string, opt baresipOptions, clients ...string) []*baresipPhone {
	h.t.Helper()
	var phones []*baresipPhone
	for _, c := range clients {
		phones = append(phones, h.startBaresip(c, wav, opt))
	}
	for _, p := range phones {
		h.waitDevice(p.name)
		if d := h.sipDevices(p.name); len(d) != 1 {
			p.t.Fatalf("%s has %d SIP devices, want 1: %+v", p.name, len(d), d)
		}
	}
	return phones
}

// Two baresips register with digest: each binding is a device of kind sip
// whose contact is the phone's SIP port.
func TestBaresipRegister(t *testing.T) {
	h := newHarness(t, "", nil)
	wav := toneWAV(t)
	phones := h.registered(wav, baresipOptions{}, "alice", "bob")
	for _, p := range phones {
		d := h.sipDevices(p.name)[0]
		if !strings.Contains(d.Contact, "@127.0.0.1:"+strconv.Itoa(p.sipPort)+">") || !strings.Contains(d.Contact, ";expires-at=") {
			t.Fatalf("%s's binding %q is not its phone's SIP port %d", p.name, d.Contact, p.sipPort)
		}
	}
}

// alice's baresip dials bob's extension; bob's baresip rings (CALL_INCOMING)
// and answers with the accept command; both are established and both get
// RTP from the other (CALL_RTPESTAB: the tone goes phone to phone); the
// engine's call is connected, answered by bob's binding; alice hangs up:
// the call ended hangup by the caller, bob's phone closed by the BYE.
func TestBaresipCallAnswerHangup(t *testing.T) {
	h := newHarness(t, "", nil)
	wav := toneWAV(t)
	alice := h.registered(wav, baresipOptions{}, "alice")[0]
	bob := h.registered(wav, baresipOptions{AnswerMode: "manual"}, "bob")[0]
	bobDev := h.sipDevices("bob")[0].ID

	alice.do("dial", "1002")
	bob.waitEvent("CALL_INCOMING", "")
	alice.waitEvent("CALL_RINGING", "")
	h.waitEvent("CallRinging", func(ev *engine.Event) bool { return ev.Type == events.TypeCallRinging })
	bob.do("accept", "")
	for _, p := range []*baresipPhone{alice, bob} {
		p.waitEvent("CALL_ESTABLISHED", "")
		p.waitEvent("CALL_RTPESTAB", "")
	}
	ans := h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	if ans.Call.State != engine.Connected || ans.Call.AnsweredDevice != bobDev || ans.Call.Caller.Client != "alice" || ans.Call.Callee.Client != "bob" {
		t.Fatalf("answered call: state %s answered on %s (bob's binding %s), %s → %s", ans.Call.State, ans.Call.AnsweredDevice, bobDev, ans.Call.Caller.Client, ans.Call.Callee.Client)
	}

	alice.do("hangup", "")
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
	bob.waitEvent("CALL_CLOSED", "")
}

// connected has alice's phone dial bob's extension, bob's phone answering
// by itself (answermode=auto), and waits until both are established with
// RTP from the other and the engine's call is answered; it returns it.
func (h *harness) connected(alice, bob *baresipPhone, ext string) *engine.Call {
	h.t.Helper()
	alice.do("dial", ext)
	for _, p := range []*baresipPhone{alice, bob} {
		p.waitEvent("CALL_ESTABLISHED", "")
		p.waitEvent("CALL_RTPESTAB", "")
	}
	return h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered }).Call
}

// Hold and resume from baresip's menu on either side: the re-INVITEs
// (a=sendonly, then a=sendrecv) are the engine's CallHeld and CallResumed
// by that side, relayed to the other phone; the callee's phone hangs up.
func TestBaresipHoldResume(t *testing.T) {
	h := newHarness(t, "", nil)
	wav := toneWAV(t)
	ps := h.registered(wav, baresipOptions{}, "alice", "bob")
	alice, bob := ps[0], ps[1]
	call := h.connected(alice, bob, "1002")
	for _, step := range []struct {
		phone *baresipPhone
		side  engine.Side
	}{{alice, engine.Caller}, {bob, engine.Callee}} {
		other := alice
		if step.phone == alice {
			other = bob
		}
		// reInvite does cmd on the phone and waits until its re-INVITE is
		// answered and the other phone got the relayed one.
		reInvite := func(cmd string) {
			m, o := step.phone.mark(), other.mark()
			step.phone.do(cmd, "")
			step.phone.waitEventAfter(m, "CALL_REMOTE_SDP", "answer")
			other.waitEventAfter(o, "CALL_REMOTE_SDP", "offer")
		}
		reInvite("hold")
		held := h.waitEvent("CallHeld by "+step.side.String(), func(ev *engine.Event) bool {
			e, ok := ev.Event.(events.CallHeld)
			return ok && e.By == step.side
		})
		if held.Call.ID != call.ID || !held.Call.HeldBy(step.side) {
			t.Fatalf("CallHeld by %s: call %s, held by it %v", step.side, held.Call.ID, held.Call.HeldBy(step.side))
		}
		reInvite("resume")
		res := h.waitEvent("CallResumed by "+step.side.String(), func(ev *engine.Event) bool {
			e, ok := ev.Event.(events.CallResumed)
			return ok && e.By == step.side
		})
		if res.Call.HeldBy(step.side) || res.Call.State != engine.Connected {
			t.Fatalf("CallResumed by %s: state %s, still held by it %v", step.side, res.Call.State, res.Call.HeldBy(step.side))
		}
	}
	bob.do("hangup", "")
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Callee {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
	alice.waitEvent("CALL_CLOSED", "")
}

// DTMF from baresip is RFC 4733 in the RTP, which goes phone to phone
// (SDP pass-through): the engine never sees it, the other baresip does —
// its CALL_DTMF_START events carry the digits.
func TestBaresipDTMFPhoneToPhone(t *testing.T) {
	h := newHarness(t, "", nil)
	wav := toneWAV(t)
	ps := h.registered(wav, baresipOptions{}, "alice", "bob")
	alice, bob := ps[0], ps[1]
	h.connected(alice, bob, "1002")
	for _, d := range []string{"1", "5", "#"} {
		alice.do("sndcode", d)
		bob.waitEvent("CALL_DTMF_START", d)
	}
	alice.do("hangup", "")
	h.callEnded()
	for _, ev := range h.evs {
		if ev.Type == events.TypeCallDigits {
			t.Fatalf("the engine saw digits between two phones passed through: %+v", ev.Event)
		}
	}
}

// Blind transfer from baresip: alice's phone calls bob's, bob's transfers
// her to carol's (REFER to sip:1003@…); carol's phone (auto-answer) rings
// and answers, alice's phone is re-INVITEd toward carol's and RTP flows
// both ways (carol's RTPESTAB; a digit of carol's reaches alice); the engine's first call ended transferred, the
// transfer completed, the new call alice → carol connected; carol hangs up.
func TestBaresipBlindTransfer(t *testing.T) {
	h := newHarness(t, "", nil)
	wav := toneWAV(t)
	ps := h.registered(wav, baresipOptions{}, "alice", "bob", "carol")
	alice, bob, carol := ps[0], ps[1], ps[2]
	first := h.connected(alice, bob, "1002")
	m := alice.mark()
	bob.do("transfer", h.uri("1003"))
	carol.waitEvent("CALL_ESTABLISHED", "")
	carol.waitEvent("CALL_RTPESTAB", "")
	alice.waitEventAfter(m, "CALL_REMOTE_SDP", "offer") // the re-INVITE toward carol
	bob.waitEvent("CALL_CLOSED", "")

	ended := h.waitEvent("first CallEnded", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallEnded && ev.Call.ID == first.ID
	})
	if ended.Call.Reason != events.Transferred {
		t.Fatalf("the first call ended %s by %s", ended.Call.Reason, ended.Call.EndedBy)
	}
	done := h.waitEvent("TransferCompleted", func(ev *engine.Event) bool { return ev.Type == events.TypeTransferCompleted })
	if done.Transfer.Kind != engine.BlindTransfer || done.Transfer.Call != first.ID {
		t.Fatalf("transfer %+v", done.Transfer)
	}
	next := h.waitEvent("new CallAnswered", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallAnswered && ev.Call.ID != first.ID
	})
	if next.Call.Caller.Client != "alice" || next.Call.Callee.Client != "carol" || next.Call.Transfer != done.Transfer.ID || next.Call.State != engine.Connected {
		t.Fatalf("new call %s → %s, %s (transfer %q)", next.Call.Caller.Client, next.Call.Callee.Client, next.Call.State, next.Call.Transfer)
	}

	// RTP flows carol → alice too (alice's phone was re-INVITEd with carol's
	// SDP): a digit from carol's phone (RFC 4733) reaches alice's.
	m = alice.mark()
	carol.do("sndcode", "9")
	alice.waitEventAfter(m, "CALL_DTMF_START", "9")

	carol.do("hangup", "")
	c := h.waitEvent("new CallEnded", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallEnded && ev.Call.ID == next.Call.ID
	})
	if c.Call.Reason != events.Hangup || c.Call.EndedBy != engine.Callee {
		t.Fatalf("new call ended %s by %s", c.Call.Reason, c.Call.EndedBy)
	}
	alice.waitEvent("CALL_CLOSED", "")
}
