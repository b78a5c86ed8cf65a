package sip

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Real phones: sipp (Debian package sip-tester) on loopback, every run
// bounded by -m 1 and -timeout. The tests fail, never skip, without sipp.

// A phone registers with digest: the binding is a device of kind sip with
// its contact and expiry in the journal; Expires 0 removes it.
func TestSIPpRegisterBindsAndUnbinds(t *testing.T) {
	h := newHarness(t, "", nil)
	uasPort := freePort(t)
	h.register("alice", uasPort, 300)
	devs := h.sipDevices("alice")
	if len(devs) != 1 || !strings.Contains(devs[0].Contact, "127.0.0.1:"+strconv.Itoa(uasPort)) || !strings.Contains(devs[0].Contact, ";expires-at=") {
		t.Fatalf("alice's SIP devices after REGISTER: %+v", devs)
	}
	h.waitEvent("DeviceAdded", func(ev *engine.Event) bool { return ev.Type == events.TypeDeviceAdded })
	h.register("alice", uasPort, 0)
	if devs := h.sipDevices("alice"); len(devs) != 0 {
		t.Fatalf("alice's SIP devices after REGISTER with Expires 0: %+v", devs)
	}
	h.waitEvent("DeviceRemoved", func(ev *engine.Event) bool { return ev.Type == events.TypeDeviceRemoved })
}

// A registered phone calls another registered phone through the engine;
// the caller hangs up with BYE.
func TestSIPpCallCallerHangsUp(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_answer.xml", bobPort, "", "-d", "200")
	uac := h.uac("uac.xml", "alice", "1002", "-d", "300")
	uac.wait(t, "uac")
	uas.wait(t, "uas")
	bob := h.sipDevices("bob")[0].ID
	h.waitEvent("CallAnswered", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallAnswered && ev.Call.AnsweredDevice == bob
	})
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Caller || c.Caller.Client != "alice" || c.Callee.Client != "bob" {
		t.Fatalf("ended call: reason %s by %s, %s → %s", c.Reason, c.EndedBy, c.Caller.Client, c.Callee.Client)
	}
}

// The callee's phone hangs up with BYE: the caller's phone gets a BYE.
func TestSIPpCallCalleeHangsUp(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_answer_bye.xml", bobPort, "", "-d", "200")
	uac := h.uac("uac_wait_bye.xml", "alice", "1002")
	uas.wait(t, "uas")
	uac.wait(t, "uac")
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Callee {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// The caller gives up with CANCEL while the callee's phone rings: the
// engine ends the call canceled, the callee's phone gets a CANCEL.
func TestSIPpCancel(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_ring_cancel.xml", bobPort, "")
	uac := h.uac("uac_cancel.xml", "alice", "1002")
	uac.wait(t, "uac")
	uas.wait(t, "uas")
	c := h.callEnded()
	if c.Reason != events.Canceled || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// The callee's only phone is busy (486): the engine ends the call busy and
// the caller's phone hears 486.
func TestSIPpBusy(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_busy.xml", bobPort, "")
	uac := h.uac("uac_busy.xml", "alice", "1002")
	uac.wait(t, "uac")
	uas.wait(t, "uas")
	c := h.callEnded()
	if c.Reason != events.Busy {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// Two phones of one client ring (CL2): the first to answer takes the call,
// the other is cancelled; the callee's answering phone hangs up.
func TestSIPpForkFirstAnswerWins(t *testing.T) {
	h := newHarness(t, "", nil)
	answerPort, ringPort := freePort(t), freePort(t)
	h.register("bob", answerPort, 300)
	h.register("bob", ringPort, 300)
	if n := len(h.sipDevices("bob")); n != 2 {
		t.Fatalf("bob has %d SIP bindings, want 2", n)
	}
	answering := runSipp(t, "uas_answer_bye.xml", answerPort, "", "-d", "300")
	ringing := runSipp(t, "uas_ring_cancel.xml", ringPort, "")
	uac := h.uac("uac_wait_bye.xml", "alice", "1002")
	answering.wait(t, "answering uas")
	ringing.wait(t, "ringing uas")
	uac.wait(t, "uac")
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Callee || c.AnsweredDevice != deviceID("sip:bob@127.0.0.1:"+strconv.Itoa(answerPort)) {
		t.Fatalf("ended call: reason %s by %s answered on %s", c.Reason, c.EndedBy, c.AnsweredDevice)
	}
}

// Load shedding: while Settings.MaxPendingCalls new calls wait for the
// engine, a new INVITE is refused 503 with Retry-After: 1 after its digest
// and nothing is journaled; once they are placed, calls go through again.
func TestSIPpOverloadSheds(t *testing.T) {
	h := newHarness(t, "", nil)
	h.ad.mu.Lock()
	h.ad.dialing = h.ad.set.MaxPendingCalls // as many as the limit wait for their commits
	h.ad.mu.Unlock()
	uac := h.uac("uac_overloaded.xml", "alice", "1002")
	uac.wait(t, "uac refused")
	if n := h.ad.Stats().Overloaded; n != 1 {
		t.Errorf("overload refusals: %d, want 1", n)
	}
	if calls, err := h.eng.Calls(context.Background(), "alice"); err != nil || len(calls) != 0 {
		t.Fatalf("a refused call was placed: %+v %v", calls, err)
	}
	h.ad.mu.Lock()
	h.ad.dialing = 0
	h.ad.mu.Unlock()
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_busy.xml", bobPort, "")
	busy := h.uac("uac_busy.xml", "alice", "1002")
	busy.wait(t, "uac placed")
	uas.wait(t, "uas")
	if c := h.callEnded(); c.Reason != events.Busy {
		t.Fatalf("the next call: reason %s", c.Reason)
	}
}

// Extensions (RFC 3261 §8.2.2.3): an INVITE that requires precondition
// is refused 420 with Unsupported: precondition before its digest, and nothing is
// journaled; OPTIONS that requires an unknown tag likewise; OPTIONS
// without Require lists Supported: replaces.
func TestSIPpRequireUnsupported(t *testing.T) {
	h := newHarness(t, "", nil)
	before := h.eng.Journal().LastSeq()
	uac := h.uac("uac_require.xml", "alice", "1002")
	uac.wait(t, "uac requiring extensions")
	if n := h.ad.Stats().Responses["INVITE"]["4xx"]; n != 1 {
		t.Errorf("INVITE 4xx answers: %d, want 1 (the 420, no 407 first)", n)
	}
	if seq := h.eng.Journal().LastSeq(); seq != before {
		t.Fatalf("the refused requests journaled %d events", seq-before)
	}
}

// Reliable provisional responses (RFC 3262): a phone whose INVITE requires
// 100rel gets its 180 with Require: 100rel and an RSeq, PRACKs it (RAck)
// after 800 ms and gets 200, then the 200 to its INVITE when the callee
// answers; the call is the engine's as any other.
func TestSIPpReliableProvisional(t *testing.T) {
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_answer.xml", bobPort, "", "-d", "2000")
	uac := h.uac("uac_100rel.xml", "alice", "1002")
	uac.wait(t, "uac requiring 100rel")
	uas.wait(t, "uas")
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Caller || c.Callee.Client != "bob" {
		t.Fatalf("ended call: reason %s by %s, callee %s", c.Reason, c.EndedBy, c.Callee.Client)
	}
}

// A reliable 183 with SDP (early media from a trunk) holds the 200 back
// until its PRACK: the phone PRACKs only after 1 s though the trunk
// answers after 300 ms, and a 200 before the PRACK's fails its scenario.
func TestSIPpReliableEarlyMediaHoldsThe200(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "trunk_uas_early.xml", trunkPort, "", "-d", "300")
	phone := h.daveCalls("uac_100rel_early.xml", outside)
	phone.wait(t, "phone requiring 100rel")
	trunk.wait(t, "trunk")
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// A reliable 180 that is never PRACKed fails the INVITE with 500 after
// 64·T1 (shortened here), and the engine's call ends on the caller's side.
func TestSIPpReliableProvisionalNeverPracked(t *testing.T) {
	was := prackTimeout
	prackTimeout = 1500 * time.Millisecond
	t.Cleanup(func() { prackTimeout = was })
	h := newHarness(t, "", nil)
	bobPort := freePort(t)
	h.register("bob", bobPort, 300)
	uas := runSipp(t, "uas_ring_cancel.xml", bobPort, "")
	uac := h.uac("uac_100rel_noprack.xml", "alice", "1002")
	uac.wait(t, "uac that never PRACKs")
	uas.wait(t, "uas")
	c := h.callEnded()
	if c.Callee.Client != "bob" || c.AnsweredDevice != "" || c.Reason != events.Canceled || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s, callee %s, answered on %q", c.Reason, c.EndedBy, c.Callee.Client, c.AnsweredDevice)
	}
}

// shortSessions lowers our Min-SE for a test that waits sessions out.
func shortSessions(t *testing.T) {
	was := minSessionExpires
	minSessionExpires = time.Second
	t.Cleanup(func() { minSessionExpires = was })
}

// Session timers (RFC 4028), each a phone (the caller) asking for a 2 s
// session (the tests lower our Min-SE) in a call to bob:
//   - runs_out: it refreshes itself, then never does: it gets
//     Session-Expires and Require: timer in the 200, then a BYE; the
//     engine's call ends on its side, bob gets his BYE too;
//   - refreshed: UPDATEs every 0.9 s keep the session 2.7 s (each 200 says
//     Session-Expires again); it hangs up itself;
//   - we_refresh: refresher=uas, we re-INVITE it each half interval.
func TestSIPpSessionTimers(t *testing.T) {
	for _, tc := range []struct {
		name, scenario string
		timeouts       uint64
	}{
		{"runs_out", "uac_timer_expire.xml", 1},
		{"refreshed", "uac_timer_refresh.xml", 0},
		{"we_refresh", "uac_timer_uas.xml", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shortSessions(t)
			h := newHarness(t, "", nil)
			bobPort := freePort(t)
			h.register("bob", bobPort, 300)
			uas := runSipp(t, "uas_answer.xml", bobPort, "", "-d", "100")
			uac := h.uac(tc.scenario, "alice", "1002", "-key", "se", "2")
			uac.wait(t, tc.scenario)
			uas.wait(t, "uas")
			if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
				t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
			}
			if n := h.ad.Stats().SessionTimeouts; n != tc.timeouts {
				t.Errorf("session timeouts: %d, want %d", n, tc.timeouts)
			}
		})
	}
}

// An interval below our Min-SE (90 s) is 422 with Min-SE, and nothing is
// journaled.
func TestSIPpSessionIntervalTooSmall(t *testing.T) {
	h := newHarness(t, "", nil)
	before := h.eng.Journal().LastSeq()
	uac := h.uac("uac_timer_small.xml", "alice", "1002")
	uac.wait(t, "uac asking 30 s")
	if seq := h.eng.Journal().LastSeq(); seq != before {
		t.Fatalf("the refused INVITE journaled %d events", seq-before)
	}
}
