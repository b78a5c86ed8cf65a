package sip

import (
	"context"
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
