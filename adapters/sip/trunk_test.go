package sip

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// SIP trunks with sipp playing the trunk (on 127.0.0.2), the
// organisation's phones (127.0.0.1) and a stranger (127.0.0.3), every run
// bounded by -m 1 and -timeout.

const (
	trunkIP    = "127.0.0.2"
	strangerIP = "127.0.0.3"
	outside    = "+442070000000" // a number outside the engine
	daveNumber = "+15550200"     // dave's number, reached from outside
)

var dave = engine.ClientSpec{ID: "dave", Name: "Dave", Numbers: []string{daveNumber}, Extensions: []string{"1004"}, Password: "dave-secret"}

// newTrunkHarness is a harness whose engine's far end is one trunk at
// trunkIP:trunkPort (credentials user/pass, "" for none), with dave
// provisioned.
func newTrunkHarness(t *testing.T, trunkPort int, user, pass string) *harness {
	t.Helper()
	return newTrunksHarness(t, Trunk{Name: "test", Address: net.JoinHostPort(trunkIP, strconv.Itoa(trunkPort)), Username: user, Password: pass})
}

// newTrunksHarness is newTrunkHarness with several trunks, in order.
func newTrunksHarness(t *testing.T, trunks ...Trunk) *harness {
	t.Helper()
	ctx := context.Background()
	ts, err := NewTrunks(trunks)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Open(ctx, engine.Config{DataDir: t.TempDir(), Domain: DefaultRealm, RingTimeout: 20 * time.Second, NoHistory: true, Adapter: ts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	for _, spec := range append(append([]engine.ClientSpec(nil), testClients...), dave) {
		if _, err := eng.RegisterClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	h := &harness{t: t, eng: eng}
	if h.sub, err = eng.Subscribe(ctx, engine.Filter{}); err != nil {
		t.Fatal(err)
	}
	ad, err := New(eng, Settings{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", RingTimeout: 20 * time.Second, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ad.SetTrunks(ts)
	if err := ad.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ad.Close() })
	h.ad = ad
	return h
}

// freePortOn returns a UDP port free on ip now.
func freePortOn(t *testing.T, ip string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// daveCalls registers dave's phone and has it call number with scenario.
func (h *harness) daveCalls(scenario, number string, keys ...string) *sipp {
	h.t.Helper()
	registerPhone(h.t, h.ad.Addr("udp"), "dave", freePort(h.t), 300)
	args := []string{"-s", number, "-au", "dave", "-ap", dave.Password, "-key", "caller", "dave"}
	return runSipp(h.t, scenario, freePort(h.t), h.ad.Addr("udp"), append(args, keys...)...)
}

// outboundDialed checks the call went out to number, outbound.
func (h *harness) outboundDialed(number string) {
	h.t.Helper()
	h.waitEvent("CallDialed outbound", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallDialed && ev.Call.Direction == events.Outbound && ev.Call.Callee.Number == number
	})
}

// A phone calls a number outside: the INVITE goes to the trunk, which
// rings and answers; the phone hangs up with BYE, the trunk gets a BYE.
func TestTrunkOutboundAnsweredCallerHangsUp(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "uas_answer.xml", trunkPort, "", "-d", "200")
	phone := h.daveCalls("uac.xml", outside, "-d", "300")
	phone.wait(t, "phone")
	trunk.wait(t, "trunk")
	h.outboundDialed(outside)
	h.waitEvent("CallRinging", func(ev *engine.Event) bool { return ev.Type == events.TypeCallRinging })
	h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Caller || c.Caller.Client != "dave" || c.Callee.Number != outside {
		t.Fatalf("ended call: reason %s by %s, %s → %s", c.Reason, c.EndedBy, c.Caller.Client, c.Callee.Number)
	}
}

// The trunk hangs up: the engine hears a far-end hangup, the phone gets
// a BYE.
func TestTrunkOutboundTrunkHangsUp(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "uas_answer_bye.xml", trunkPort, "", "-d", "200")
	phone := h.daveCalls("uac_wait_bye.xml", outside)
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Callee || c.ConnectAt.IsZero() {
		t.Fatalf("ended call: reason %s by %s connected %v", c.Reason, c.EndedBy, c.ConnectAt)
	}
}

// The trunk challenges the INVITE with 407: the engine answers with the
// trunk's credentials (sipp checks
// the Proxy-Authorization's username, nonce and response) and the call is answered.
func TestTrunkOutboundDigest407(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "acme", "trunk-secret")
	trunk := runSippOn(t, trunkIP, "trunk_auth_answer.xml", trunkPort, "", "-key", "user", "acme", "-key", "pass", "trunk-secret")
	phone := h.daveCalls("uac.xml", outside, "-d", "300")
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// The trunk challenges the INVITE with 401: the engine answers with the
// trunk's credentials (sipp verifies the digest response) and the call is
// answered.
func TestTrunkOutboundDigest401(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "acme", "trunk-secret")
	trunk := runSippOn(t, trunkIP, "trunk_auth401_answer.xml", trunkPort, "", "-key", "user", "acme", "-key", "pass", "trunk-secret")
	phone := h.daveCalls("uac.xml", outside, "-d", "300")
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// The trunk answers 486: the call ends busy and the phone hears 486.
func TestTrunkOutboundBusy(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "uas_busy.xml", trunkPort, "")
	phone := h.daveCalls("uac_busy.xml", outside)
	phone.wait(t, "phone")
	trunk.wait(t, "trunk")
	if c := h.callEnded(); c.Reason != events.Busy {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// The phone gives up while the trunk rings: the trunk gets a CANCEL.
func TestTrunkOutboundCancelWhileRinging(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "uas_ring_cancel.xml", trunkPort, "")
	phone := h.daveCalls("uac_cancel.xml", outside)
	phone.wait(t, "phone")
	trunk.wait(t, "trunk")
	if c := h.callEnded(); c.Reason != events.Canceled || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// The trunk brings a call to dave's number: dave's registered phone
// rings and answers; the trunk hangs up.
func TestTrunkInboundRingsPhone(t *testing.T) {
	h := newTrunkHarness(t, freePortOn(t, trunkIP), "", "")
	phonePort := freePort(t)
	registerPhone(t, h.ad.Addr("udp"), "dave", phonePort, 300)
	phone := runSipp(t, "uas_answer.xml", phonePort, "", "-d", "200")
	trunk := runSippOn(t, trunkIP, "trunk_uac.xml", freePortOn(t, trunkIP), h.ad.Addr("udp"), "-s", daveNumber, "-d", "300")
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	ev := h.waitEvent("CallDialed inbound", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallDialed && ev.Call.Direction == events.Inbound
	})
	if ev.Call.Caller.Number != "+15559990000" || ev.Call.Caller.Name != "Outside" || ev.Call.Callee.Client != "dave" {
		t.Fatalf("inbound call: %+v → %+v", ev.Call.Caller, ev.Call.Callee)
	}
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Caller || c.ConnectAt.IsZero() {
		t.Fatalf("ended call: reason %s by %s connected %v", c.Reason, c.EndedBy, c.ConnectAt)
	}
}

// An INVITE to dave's number from an address that is not the trunk's
// (nor a registered phone's) gets 403 without a challenge; nothing is
// journaled.
func TestTrunkInboundFromStrangerForbidden(t *testing.T) {
	h := newTrunkHarness(t, freePortOn(t, trunkIP), "", "")
	j := h.eng.Journal()
	before := j.LastSeq()
	s := runSippOn(t, strangerIP, "trunk_uac_forbidden.xml", freePortOn(t, strangerIP), h.ad.Addr("udp"), "-s", daveNumber)
	s.wait(t, "stranger")
	time.Sleep(100 * time.Millisecond)
	if after := j.LastSeq(); after != before {
		t.Fatalf("journal's last seq went from %d to %d", before, after)
	}
	for _, ev := range h.drain() {
		if ev.Type == events.TypeCallDialed {
			t.Fatalf("a call was dialed: %+v", ev.Call)
		}
	}
}

// drain returns the events that came so far.
func (h *harness) drain() []engine.Event {
	for {
		select {
		case ev := <-h.sub.Events():
			h.evs = append(h.evs, ev)
		default:
			return h.evs
		}
	}
}

// Trunk settings are checked.
func TestTrunkSettings(t *testing.T) {
	bad := []Trunk{
		{Address: "nohost"},
		{Address: "1.2.3.4:5060", Transport: "sctp"},
		{Address: "1.2.3.4:5060", InboundAddresses: []string{"not-an-ip"}},
		{Address: "1.2.3.4:5060", InboundAddresses: []string{"10.0.0.0/33"}},
		{Address: "1.2.3.4:5060", Prefixes: []string{""}},
	}
	for _, tr := range bad {
		if _, err := NewTrunks([]Trunk{tr}); err == nil {
			t.Errorf("%+v: no error", tr)
		}
	}
	ts, err := NewTrunks([]Trunk{
		{Name: "uk", Address: "10.1.1.1:5060", Prefixes: []string{"+44"}, InboundAddresses: []string{"192.0.2.0/24"}},
		{Name: "rest", Address: "carrier.example:5061", Transport: "tcp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if trs := ts.routes("+442070000000"); len(trs) != 2 || trs[0].Name != "uk" || trs[1].Name != "rest" {
		t.Errorf("+44… routed to %v (uk, then rest for failover)", trs)
	}
	if trs := ts.routes("+15550100"); len(trs) != 1 || trs[0].Name != "rest" || trs[0].transport() != "TCP" {
		t.Errorf("+1… routed to %v", trs)
	}
	for src, want := range map[string]string{"192.0.2.9:5060": "uk", "10.1.1.1:5060": "", "[::ffff:192.0.2.1]:5060": "uk", "junk": ""} {
		got := ""
		if tr := ts.inboundTrunk(src); tr != nil {
			got = tr.Name
		}
		if got != want {
			t.Errorf("inbound from %s: %q, want %q", src, got, want)
		}
	}
	if reasonForStatus(486) != events.Busy || reasonForStatus(603) != events.Rejected || reasonForStatus(480) != events.NoAnswer ||
		reasonForStatus(408) != events.NoAnswer || reasonForStatus(404) != events.Failed || reasonForStatus(503) != events.Failed {
		t.Error("reasonForStatus maps wrongly")
	}
}

// The trunk holds the call, resumes it and refreshes the session (RFC
// 4028) with re-INVITEs: the engine hears the far end hold and resume, the
// phone gets each offer passed on (its media goes to the trunk directly),
// and every re-INVITE is answered 200 with the direction RFC 3264 asks for
// (sipp checks a=recvonly, then a=sendrecv twice).
func TestTrunkReInviteHoldResumeRefresh(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "trunk_uas_reinvite.xml", trunkPort, "", "-d", "200")
	phone := h.daveCalls("uac_reinvited.xml", outside)
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	held := h.waitEvent("CallHeld by the callee", func(ev *engine.Event) bool { return ev.Type == events.TypeCallHeld })
	resumed := h.waitEvent("CallResumed by the callee", func(ev *engine.Event) bool { return ev.Type == events.TypeCallResumed })
	if by := held.Event.(events.CallHeld).By; by != engine.Callee {
		t.Errorf("held by the %s", by)
	}
	if by := resumed.Event.(events.CallResumed).By; by != engine.Callee {
		t.Errorf("resumed by the %s", by)
	}
	c := h.callEnded()
	if c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
	n := 0
	for _, ev := range h.evs {
		if ev.Type == events.TypeCallHeld || ev.Type == events.TypeCallResumed {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d hold and resume events, want 2 (the refresh is neither):%s", n, h.seen())
	}
}

// The trunk refreshes the session with an UPDATE without a body (200,
// nothing else), then holds, resumes and refreshes with UPDATEs that carry
// SDP (trunk_uas_update.xml checks each 200's answer): passed on to the
// phone as re-INVITEs (uac_reinvited.xml), the engine's call held and
// resumed by the callee once each.
func TestTrunkUpdateRefreshHoldResume(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "trunk_uas_update.xml", trunkPort, "", "-d", "200")
	phone := h.daveCalls("uac_reinvited.xml", outside)
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	h.waitEvent("CallHeld by the callee", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallHeld && ev.Event.(events.CallHeld).By == engine.Callee
	})
	h.waitEvent("CallResumed by the callee", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallResumed && ev.Event.(events.CallResumed).By == engine.Callee
	})
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
	n := 0
	for _, ev := range h.evs {
		if ev.Type == events.TypeCallHeld || ev.Type == events.TypeCallResumed {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d hold and resume events, want 2 (the refreshes are neither):%s", n, h.seen())
	}
	if got := h.ad.Stats().Responses["UPDATE"]["2xx"]; got != 4 {
		t.Errorf("UPDATEs answered 2xx: %d, want 4", got)
	}
}

// The trunk sends 183 with SDP before its 200 (early media), media passed
// through: the phone gets a 183 with the trunk's SDP before its 200
// (uac_early.xml fails on a 180 or a 183 without SDP in its place).
func TestTrunkEarlyMediaPassedThrough(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "trunk_uas_early.xml", trunkPort, "", "-d", "300")
	phone := h.daveCalls("uac_early.xml", outside, "-d", "200")
	phone.wait(t, "phone")
	trunk.wait(t, "trunk")
	h.waitEvent("CallRinging", func(ev *engine.Event) bool { return ev.Type == events.TypeCallRinging })
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// A call in from the trunk, held and resumed by the trunk with re-INVITEs
// (trunk_uac_hold.xml: a=sendonly answered a=recvonly, then a=sendrecv),
// passed on to the phone that answered (uas_hold.xml checks each offer):
// the engine's call is held and resumed by the caller, the trunk's side.
func TestTrunkInboundReInviteHoldResume(t *testing.T) {
	h := newTrunkHarness(t, freePortOn(t, trunkIP), "", "")
	phonePort := freePort(t)
	registerPhone(t, h.ad.Addr("udp"), "dave", phonePort, 300)
	phone := runSipp(t, "uas_hold.xml", phonePort, "")
	trunk := runSippOn(t, trunkIP, "trunk_uac_hold.xml", freePortOn(t, trunkIP), h.ad.Addr("udp"), "-s", daveNumber)
	trunk.wait(t, "trunk")
	phone.wait(t, "phone")
	held := h.waitEvent("CallHeld", func(ev *engine.Event) bool { return ev.Type == events.TypeCallHeld })
	if e := held.Event.(events.CallHeld); e.By != engine.Caller || held.Call.Direction != events.Inbound {
		t.Fatalf("CallHeld by %s on a %s call", e.By, held.Call.Direction)
	}
	res := h.waitEvent("CallResumed", func(ev *engine.Event) bool { return ev.Type == events.TypeCallResumed })
	if e := res.Event.(events.CallResumed); e.By != engine.Caller {
		t.Fatalf("CallResumed by %s", e.By)
	}
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// Two trunks carry the number: the first answers 503, the call goes to
// the second (a new dialog, the same offer), which answers; the phone
// sees one call.
func TestTrunkFailover(t *testing.T) {
	downPort, upPort := freePortOn(t, trunkIP), freePortOn(t, trunkIP)
	h := newTrunksHarness(t,
		Trunk{Name: "down", Address: net.JoinHostPort(trunkIP, strconv.Itoa(downPort))},
		Trunk{Name: "up", Address: net.JoinHostPort(trunkIP, strconv.Itoa(upPort))})
	down := runSippOn(t, trunkIP, "trunk_uas_unavailable.xml", downPort, "")
	up := runSippOn(t, trunkIP, "uas_answer.xml", upPort, "", "-d", "200")
	phone := h.daveCalls("uac.xml", outside, "-d", "300")
	down.wait(t, "the trunk that is down")
	up.wait(t, "the trunk that answers")
	phone.wait(t, "phone")
	h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller || c.Callee.Number != outside {
		t.Fatalf("ended call: reason %s by %s to %s", c.Reason, c.EndedBy, c.Callee.Number)
	}
	if n := h.ad.Stats().TrunkFailovers; n != 1 {
		t.Errorf("failovers: %d, want 1", n)
	}
}

// A trunk that sends nothing at all (nobody listens on its port) is given
// up after trunkSilence, and the next trunk takes the call.
func TestTrunkFailoverWhenSilent(t *testing.T) {
	silentPort, upPort := freePortOn(t, trunkIP), freePortOn(t, trunkIP)
	h := newTrunksHarness(t,
		Trunk{Name: "silent", Address: net.JoinHostPort(trunkIP, strconv.Itoa(silentPort))},
		Trunk{Name: "up", Address: net.JoinHostPort(trunkIP, strconv.Itoa(upPort))})
	up := runSippOn(t, trunkIP, "uas_answer.xml", upPort, "", "-d", "200")
	phone := h.daveCalls("uac.xml", outside, "-d", "300")
	up.wait(t, "the trunk that answers")
	phone.wait(t, "phone")
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
	if n := h.ad.Stats().TrunkFailovers; n != 1 {
		t.Errorf("failovers: %d, want 1", n)
	}
}

// A refusal of the callee (486 busy) is the call's end, not the trunk's
// failure: the second trunk is not tried.
func TestTrunkNoFailoverOnBusy(t *testing.T) {
	busyPort, otherPort := freePortOn(t, trunkIP), freePortOn(t, trunkIP)
	h := newTrunksHarness(t,
		Trunk{Name: "busy", Address: net.JoinHostPort(trunkIP, strconv.Itoa(busyPort))},
		Trunk{Name: "other", Address: net.JoinHostPort(trunkIP, strconv.Itoa(otherPort))})
	busy := runSippOn(t, trunkIP, "uas_busy.xml", busyPort, "")
	phone := h.daveCalls("uac_busy.xml", outside)
	busy.wait(t, "the busy trunk")
	phone.wait(t, "phone")
	if c := h.callEnded(); c.Reason != events.Busy {
		t.Fatalf("ended call: reason %s, want busy", c.Reason)
	}
	if n := h.ad.Stats().TrunkFailovers; n != 0 {
		t.Errorf("failovers: %d, want 0", n)
	}
}

// The adapter registers to a trunk that wants it (sipp as the carrier's
// registrar, trunk_registrar.xml): digest answered and checked, refreshed
// before the 2 s granted lapse, removed with Expires: 0 when the adapter
// closes. A call the carrier sends to the registered Contact (sip:pbx@…,
// the number in the To only) rings the number's client.
func TestTrunkRegistration(t *testing.T) {
	regPort := freePortOn(t, trunkIP)
	registrar := runSippOn(t, trunkIP, "trunk_registrar.xml", regPort, "")
	registrar.listening(t, trunkIP, regPort)
	h := newTrunksHarness(t, Trunk{Name: "carrier", Address: net.JoinHostPort(trunkIP, strconv.Itoa(regPort)),
		Username: "pbx", Password: "pbx-secret", Register: true, RegisterExpires: 2 * time.Second})
	deadline := time.Now().Add(15 * time.Second)
	for !h.ad.Stats().TrunksRegistered["carrier"] {
		if time.Now().After(deadline) {
			t.Fatalf("not registered to the carrier after 15 s; the registrar:\n%s\n%s", tail(registrar.out.Bytes()), readFile(registrar.errFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
	registeredAt := time.Now()

	phonePort := freePort(t)
	registerPhone(t, h.ad.Addr("udp"), "dave", phonePort, 300)
	phone := runSipp(t, "uas_answer.xml", phonePort, "", "-d", "200")
	inbound := runSippOn(t, trunkIP, "trunk_uac_registered.xml", freePortOn(t, trunkIP), h.ad.Addr("udp"), "-s", daveNumber, "-d", "300")
	inbound.wait(t, "the carrier's call")
	phone.wait(t, "phone")
	ev := h.waitEvent("CallDialed inbound", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallDialed && ev.Call.Direction == events.Inbound
	})
	if ev.Call.Callee.Number != daveNumber || ev.Call.Callee.Client != "dave" {
		t.Fatalf("the carrier's call went to %+v", ev.Call.Callee)
	}
	// Let the refresh (at 1.5 s) happen, then close: the registration is
	// removed.
	time.Sleep(time.Until(registeredAt.Add(2500 * time.Millisecond)))
	if !h.ad.Stats().TrunksRegistered["carrier"] {
		t.Fatal("the refresh failed")
	}
	h.ad.Close()
	registrar.wait(t, "the registrar: register, refresh, removal")
	if h.ad.Stats().TrunksRegistered["carrier"] {
		t.Error("still registered after Close")
	}
}

// Qualify: a trunk whose OPTIONS probe goes unanswered (nobody on its
// port) is down; once a carrier answers probes (sipp, trunk_options.xml,
// which checks the From of each) it is up again.
func TestTrunkQualify(t *testing.T) {
	port := freePortOn(t, trunkIP)
	h := newTrunksHarness(t, Trunk{Name: "carrier", Address: net.JoinHostPort(trunkIP, strconv.Itoa(port)),
		Username: "pbx", Qualify: 500 * time.Millisecond})
	eventuallyTrue(t, "down while nobody answers", func() bool { return !h.ad.Stats().TrunksUp["carrier"] })
	// Three probes answered (-m 3): the first may be one whose wait ran
	// out while sipp started.
	carrier := runSippOn(t, trunkIP, "trunk_options.xml", port, "", "-m", "3")
	eventuallyTrue(t, "up once a probe was answered", func() bool { return h.ad.Stats().TrunksUp["carrier"] })
	carrier.wait(t, "the carrier answering probes")
}

// A call out goes first to the trunks that are up: with the first trunk
// down (its probes unanswered), the second carries the call at once — no
// 4 s of silence on the first, no failover.
func TestTrunkDownTriedLast(t *testing.T) {
	deadPort, upPort := freePortOn(t, trunkIP), freePortOn(t, trunkIP)
	h := newTrunksHarness(t,
		Trunk{Name: "dead", Address: net.JoinHostPort(trunkIP, strconv.Itoa(deadPort)), Qualify: 500 * time.Millisecond},
		Trunk{Name: "up", Address: net.JoinHostPort(trunkIP, strconv.Itoa(upPort))})
	eventuallyTrue(t, "the first trunk down", func() bool { return !h.ad.Stats().TrunksUp["dead"] })
	if trs := h.ad.trunks.routes(outside); len(trs) != 2 || trs[0].Name != "up" {
		t.Fatalf("routes with the first trunk down: %v", trs)
	}
	up := runSippOn(t, trunkIP, "uas_answer.xml", upPort, "", "-d", "200")
	phone := h.daveCalls("uac.xml", outside, "-d", "300")
	up.wait(t, "the trunk that is up")
	phone.wait(t, "phone")
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
	if n := h.ad.Stats().TrunkFailovers; n != 0 {
		t.Errorf("failovers: %d, want 0 (the trunk that is down was not tried first)", n)
	}
}

// A carrier that sends its early media reliably (RFC 3262): our INVITE
// lists 100rel, the reliable 183 is PRACKed in its early dialog with the
// right RAck, the call is answered and the phone hangs up
// (trunk_uas_100rel.xml checks each of these).
func TestTrunkReliableEarlyMediaPracked(t *testing.T) {
	trunkPort := freePortOn(t, trunkIP)
	h := newTrunkHarness(t, trunkPort, "", "")
	trunk := runSippOn(t, trunkIP, "trunk_uas_100rel.xml", trunkPort, "", "-d", "300")
	phone := h.daveCalls("uac_early.xml", outside, "-d", "200")
	phone.wait(t, "phone")
	trunk.wait(t, "trunk sending a reliable 183")
	if c := h.callEnded(); c.Reason != events.Hangup || c.EndedBy != engine.Caller {
		t.Fatalf("ended call: reason %s by %s", c.Reason, c.EndedBy)
	}
}
