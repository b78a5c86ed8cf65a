package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Park and retrieve from desk phones (Settings.ParkPrefix "*8"): bob, who
// took alice's call, transfers it to *81 — alice waits in slot 1, bob gets
// NOTIFY 200 and his BYE; carol calls *81 and takes the call: her INVITE is
// answered by the relay, alice and carol hear each other, alice's phone
// gets no request (the same relay leg and stream). A call to an empty slot
// is 404. carol's BYE ends the call, and alice gets hers.
func TestPhoneParksAndRetrieves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) { s.ParkPrefix = "*8" })
	ps := relayPhones(t, ctx, h, "alice", "bob", "carol")
	alice, bob, carol := ps[0], ps[1], ps[2]
	_, db, port := relayedCall(t, ctx, alice, bob)

	if res := bob.refer(ctx, db, "*81", nil); res.StatusCode != 202 {
		t.Fatalf("REFER to *81: %d", res.StatusCode)
	}
	bob.waitBye(ctx)
	var parked []engine.Call
	eventuallyTrue(t, "alice parked in slot 1", func() bool {
		var err error
		parked, err = h.eng.ParkedCalls(ctx)
		return err == nil && len(parked) == 1 && parked[0].ParkSlot == "1" && parked[0].ParkedSide == engine.Caller
	})
	id := parked[0].ID

	empty := carol.outOfDialog(sip.INVITE, "*89")
	empty.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	empty.SetBody([]byte(carol.rtp.Offer()))
	if res := carol.do(ctx, empty); res.StatusCode != 404 {
		t.Fatalf("a call to an empty slot: %d", res.StatusCode)
	}

	dc, _ := carol.call(ctx, "*81")
	eventuallyTrue(t, "carol hears alice", func() bool { return carol.rtp.ReceivedFrom("ALICE") > 10 })
	eventuallyTrue(t, "alice hears carol", func() bool { return alice.rtp.ReceivedFrom("CAROL") > 10 })
	noReinvite(t, alice)
	if p, err := h.relay.RTPPort(id + "/caller"); err != nil || p != port {
		t.Errorf("alice's relay leg: port %d, %v; was %d", p, err, port)
	}
	c, err := h.eng.Call(ctx, id)
	if err != nil || c.State != engine.Connected || c.Callee.Client != "carol" || c.ParkSlot != "" {
		t.Fatalf("the call after the retrieve: %+v, %v", c, err)
	}
	if res := carol.send(ctx, carol.inDialog(dc, sip.BYE)); res.StatusCode != 200 {
		t.Fatalf("carol's BYE: %d", res.StatusCode)
	}
	alice.waitBye(ctx)
	eventuallyTrue(t, "the call ended, hung up by carol's side", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Ended && c.Reason == events.Hangup && c.EndedBy == engine.Callee
	})
}

// parkPrefixEnv gives the relay restart child a park prefix.
const parkPrefixEnv = "CALLENGINE_SIP_PARK_PREFIX_CHILD"

// A call taken from a park slot survives SIGKILL: in the child, bob parks
// alice in slot 1 and carol takes her by calling *81; the child is killed
// once carol's dialog is journaled. After the restart alice's and carol's
// relay legs come back on their ports, they hear each other again, and
// carol's BYE — built on the dialog her INVITE made — ends the call and
// reaches alice.
func TestRetrievedCallSurvivesSIGKILL(t *testing.T) {
	t.Setenv(parkPrefixEnv, "*8")
	dir := t.TempDir()
	addr := "127.0.0.1:" + itoa(freePort(t))
	child := startRelayRestartChild(t, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var ps []*goPhone
	for _, u := range []string{"alice", "bob", "carol"} {
		p := newGoPhone(t, ctx, addr, u, strings.ToUpper(u))
		p.register(ctx)
		ps = append(ps, p)
	}
	alice, bob, carol := ps[0], ps[1], ps[2]
	_, db, _ := relayedCall(t, ctx, alice, bob)
	child.waitRecords(t, 2)
	if res := bob.refer(ctx, db, "*81", nil); res.StatusCode != 202 {
		t.Fatalf("REFER to *81: %d", res.StatusCode)
	}
	bob.waitBye(ctx)
	dc, _ := carol.call(ctx, "*81")
	eventuallyTrue(t, "carol hears alice", func() bool { return carol.rtp.ReceivedFrom("ALICE") > 10 })
	child.waitRecords(t, 3) // carol's dialog, on the callee side
	child.kill(t)

	h := newRelayHarnessWith(t, dir, addr, nil, func(s *Settings) { s.ParkPrefix = "*8" })
	calls, err := h.eng.LegCalls(ctx, adapterName)
	if err != nil || len(calls) != 1 || calls[0].Callee.Client != "carol" {
		t.Fatalf("calls with SIP dialogs after the restart: %+v, %v", calls, err)
	}
	heardA, heardC := carol.rtp.ReceivedFrom("ALICE"), alice.rtp.ReceivedFrom("CAROL")
	eventuallyTrue(t, "carol hears alice again", func() bool { return carol.rtp.ReceivedFrom("ALICE") > heardA+10 })
	eventuallyTrue(t, "alice hears carol again", func() bool { return alice.rtp.ReceivedFrom("CAROL") > heardC+10 })
	if res := carol.send(ctx, carol.inDialog(dc, sip.BYE)); res.StatusCode != 200 {
		t.Fatalf("carol's BYE after the restart: %d", res.StatusCode)
	}
	alice.waitBye(ctx)
	eventuallyTrue(t, "the call ended, hung up by carol's side", func() bool {
		c, err := h.eng.Call(ctx, calls[0].ID)
		return err == nil && c.State == engine.Ended && c.EndedBy == engine.Callee
	})
}
