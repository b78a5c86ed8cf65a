package sip

import (
	"context"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// A real softphone through the relay: three baresips (a tone WAV as their
// microphone) with an adapter that relays phone calls. bob transfers alice
// to carol (REFER): alice's phone gets no re-INVITE (no new remote SDP
// after the transfer), keeps its relay port, and the relay carries audio
// both ways between alice and carol; carol's RFC 4733 digit reaches alice.
func TestBaresipBlindTransferThroughRelay(t *testing.T) {
	rh := newRelayHarness(t, t.TempDir(), "")
	h := &harness{t: t, eng: rh.eng, ad: rh.ad}
	var err error
	if h.sub, err = rh.eng.Subscribe(context.Background(), engine.Filter{}); err != nil {
		t.Fatal(err)
	}
	ps := h.registered(toneWAV(t), baresipOptions{}, "alice", "bob", "carol")
	alice, bob, carol := ps[0], ps[1], ps[2]
	first := h.connected(alice, bob, "1002")
	port, err := rh.relay.RTPPort(first.ID + "/caller")
	if err != nil {
		t.Fatalf("alice's call is not relayed: %v", err)
	}
	m := alice.mark()
	bob.do("transfer", h.uri("1003"))
	carol.waitEvent("CALL_ESTABLISHED", "")
	carol.waitEvent("CALL_RTPESTAB", "")
	bob.waitEvent("CALL_CLOSED", "")
	next := h.waitEvent("new CallAnswered", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallAnswered && ev.Call.ID != first.ID
	})
	if next.Call.Caller.Client != "alice" || next.Call.Callee.Client != "carol" {
		t.Fatalf("new call %s → %s", next.Call.Caller.Client, next.Call.Callee.Client)
	}
	if p, err := rh.relay.RTPPort(next.Call.ID + "/caller"); err != nil || p != port {
		t.Fatalf("alice's leg in the new call: port %d, %v; was %d", p, err, port)
	}
	before := map[string]uint64{}
	for _, s := range []string{"/caller", "/callee"} {
		st, _ := rh.relay.LegStats(next.Call.ID + s)
		before[s] = st.PacketsOut
	}
	eventuallyTrue(t, "the relay sends to both phones", func() bool {
		a, _ := rh.relay.LegStats(next.Call.ID + "/caller")
		c, _ := rh.relay.LegStats(next.Call.ID + "/callee")
		return a.PacketsOut > before["/caller"]+25 && c.PacketsOut > before["/callee"]+25
	})
	m2 := alice.mark()
	carol.do("sndcode", "9")
	alice.waitEventAfter(m2, "CALL_DTMF_START", "9")
	for _, ev := range alice.evs[m:] {
		if ev.Type == "CALL_REMOTE_SDP" {
			t.Errorf("alice's phone got a new SDP after the transfer (%q):%s", ev.Param, alice.seen())
		}
	}
	carol.do("hangup", "")
	alice.waitEvent("CALL_CLOSED", "")
}
