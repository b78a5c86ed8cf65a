package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// relayedCall: alice calls bob (1002) through the relay; both hear each
// other. It returns alice's and bob's dialogs and alice's relay port.
func relayedCall(t *testing.T, ctx context.Context, alice, bob *goPhone) (*phoneDialog, *phoneDialog, int) {
	t.Helper()
	da, answer := alice.call(ctx, "1002")
	db := bob.waitInvite(ctx)
	bob.rtp.Start()
	port, _ := sdpAudio(t, answer)
	if port == bob.rtp.Addr().Port {
		t.Fatalf("alice was answered with bob's own port %d: not relayed", port)
	}
	eventuallyTrue(t, "bob hears alice", func() bool { return bob.rtp.ReceivedFrom("ALICE") > 10 })
	eventuallyTrue(t, "alice hears bob", func() bool { return alice.rtp.ReceivedFrom("BOB") > 10 })
	return da, db, port
}

func relayPhones(t *testing.T, ctx context.Context, h *relayHarness, users ...string) []*goPhone {
	t.Helper()
	var out []*goPhone
	for _, u := range users {
		p := newGoPhone(t, ctx, h.ad.Addr("udp"), u, strings.ToUpper(u))
		p.register(ctx)
		out = append(out, p)
	}
	return out
}

// noReinvite checks that the phone got no re-INVITE.
func noReinvite(t *testing.T, p *goPhone) {
	t.Helper()
	select {
	case sdp := <-p.reinvited:
		t.Errorf("%s got a re-INVITE:\n%s", p.user, sdp)
	default:
	}
}

// A blind transfer of a relayed call (bob REFERs alice to carol): carol is
// offered a relay leg, alice keeps hers and gets no re-INVITE, and the RTP
// alice receives goes on with one SSRC and running sequence numbers while
// its source changes from bob to carol.
func TestRelayBlindTransferReanchors(t *testing.T) {
	h := newRelayHarness(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ps := relayPhones(t, ctx, h, "alice", "bob", "carol")
	alice, bob, carol := ps[0], ps[1], ps[2]
	_, db, alicePort := relayedCall(t, ctx, alice, bob)

	if res := bob.refer(ctx, db, "1003", nil); res.StatusCode != 202 {
		t.Fatalf("REFER: %d", res.StatusCode)
	}
	dc := carol.waitInvite(ctx)
	_ = dc
	carol.rtp.Start()
	bob.waitBye(ctx)
	eventuallyTrue(t, "alice hears carol", func() bool { return alice.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears alice", func() bool { return carol.rtp.ReceivedFrom("ALICE") > 10 })
	if rtpFlowing(alice.rtp, "BOB") {
		t.Error("alice still hears bob")
	}
	noReinvite(t, alice)
	if rc := alice.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("the stream alice receives across the transfer: %+v", rc)
	}
	calls, err := h.eng.Calls(ctx, "alice")
	if err != nil || len(calls) != 1 || calls[0].Callee.Client != "carol" || calls[0].State != engine.Connected {
		t.Fatalf("alice's calls after the transfer: %+v %v", calls, err)
	}
	id := calls[0].ID
	if p, err := h.relay.RTPPort(id + "/caller"); err != nil || p != alicePort {
		t.Errorf("alice's leg in the new call: port %d, %v; she sends to %d", p, err, alicePort)
	}
	if h.relay.Stats().Legs != 2 {
		t.Errorf("relay legs after the transfer: %d (bob's should be closed)", h.relay.Stats().Legs)
	}

	// The relay enforces the new call's hold.
	if _, err := h.eng.Hold(ctx, id, engine.Callee); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlowing(alice.rtp, "CAROL") || rtpFlowing(carol.rtp, "ALICE") {
		t.Error("audio flows on hold after the transfer")
	}
	if _, err := h.eng.Hangup(ctx, id, engine.Callee); err != nil {
		t.Fatal(err)
	}
	alice.waitBye(ctx)
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

// An attended transfer of relayed calls (bob REFERs alice with Replaces of
// his call with carol): alice's and carol's legs move to the new call,
// neither phone gets a re-INVITE, they hear each other, and each receives
// one continuous stream.
func TestRelayAttendedTransferReanchors(t *testing.T) {
	h := newRelayHarness(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ps := relayPhones(t, ctx, h, "alice", "bob", "carol")
	alice, bob, carol := ps[0], ps[1], ps[2]
	_, dba, _ := relayedCall(t, ctx, alice, bob)

	// bob consults carol from a second RTP endpoint.
	bob.mu.Lock()
	first := bob.rtp
	bob.rtp = bob.newRTPLocked("BOB2")
	bob.mu.Unlock()
	dbc, _ := bob.call(ctx, "1003")
	carol.waitInvite(ctx)
	carol.rtp.Start()
	eventuallyTrue(t, "carol hears bob", func() bool { return carol.rtp.ReceivedFrom("BOB2") > 10 })
	_ = first

	if res := bob.refer(ctx, dba, "1003", dbc); res.StatusCode != 202 {
		t.Fatalf("REFER with Replaces: %d", res.StatusCode)
	}
	bob.waitBye(ctx)
	bob.waitBye(ctx)
	eventuallyTrue(t, "alice hears carol", func() bool { return alice.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears alice", func() bool { return carol.rtp.ReceivedFrom("ALICE") > 10 })
	noReinvite(t, alice)
	noReinvite(t, carol)
	for _, p := range []*goPhone{alice, carol} {
		if rc := p.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
			t.Errorf("the stream %s receives across the transfer: %+v", p.user, rc)
		}
	}
	if h.relay.Stats().Legs != 2 {
		t.Errorf("relay legs after the transfer: %d (bob's two should be closed)", h.relay.Stats().Legs)
	}
}

// A relayed phone's re-INVITE that moves its RTP to another port and
// offers only PCMA: it is answered PCMA on the same relay port, the other
// phone is re-offered PCMA on its leg, and audio flows again both ways.
func TestRelayReinviteNewAddressAndCodec(t *testing.T) {
	h := newRelayHarness(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ps := relayPhones(t, ctx, h, "alice", "bob")
	alice, bob := ps[0], ps[1]
	da, _, alicePort := relayedCall(t, ctx, alice, bob)
	_ = alicePort

	alice.rtp.Stop()
	moved := alice.newRTP("ALICE2")
	req := alice.inDialog(da, "INVITE")
	req.AppendHeader(contentSDP())
	offer := strings.Replace(moved.Offer(), "RTP/AVP 0 8 101", "RTP/AVP 8 101", 1)
	req.SetBody([]byte(strings.Replace(offer, "o=phone 1 1", "o=phone 1 2", 1)))
	res := alice.send(ctx, req)
	if res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %d", res.StatusCode)
	}
	if err := alice.cli.WriteRequest(alice.inDialog(da, "ACK")); err != nil {
		t.Fatal(err)
	}
	port, pts := sdpAudio(t, string(res.Body()))
	if port != alicePort || strings.TrimSpace(pts) != "8 101" {
		t.Fatalf("the answer to the new offer (port %d, was %d):\n%s", port, alicePort, res.Body())
	}
	if err := moved.SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	moved.Start()
	var reoffer string
	select {
	case reoffer = <-bob.reinvited:
	case <-ctx.Done():
		t.Fatal("bob was not re-offered the new codec")
	}
	if _, pts := sdpAudio(t, reoffer); strings.TrimSpace(pts) != "8 0 101" { // PCMA first, PCMU re-encoded after it
		t.Fatalf("bob's re-offer:\n%s", reoffer)
	}
	eventuallyTrue(t, "bob hears alice's new port", func() bool { return bob.rtp.ReceivedFrom("ALICE2") > 10 })
	eventuallyTrue(t, "alice's new port hears bob", func() bool { return moved.ReceivedFrom("BOB") > 10 })
	calls, _ := h.eng.Calls(ctx, "alice")
	for _, s := range []string{"/caller", "/callee"} {
		if st, err := h.relay.LegStats(calls[0].ID + s); err != nil || !strings.EqualFold(st.Codec, "audio/PCMA/8000") {
			t.Errorf("leg %s: %+v %v", s, st, err)
		}
	}
}

// A relayed phone moves its RTP with an UPDATE (RFC 3311) instead of a
// re-INVITE, offering PCMA on a new port: the 200 carries the relay's
// answer on the same relay port (no ACK follows), and audio flows from the
// new port both ways; an UPDATE without a body is a refresh: 200, no SDP.
func TestRelayUpdateNewAddress(t *testing.T) {
	h := newRelayHarness(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ps := relayPhones(t, ctx, h, "alice", "bob")
	alice, bob := ps[0], ps[1]
	da, _, alicePort := relayedCall(t, ctx, alice, bob)

	refresh := alice.inDialog(da, "UPDATE")
	if res := alice.send(ctx, refresh); res.StatusCode != 200 || len(res.Body()) != 0 {
		t.Fatalf("a refresh UPDATE: %d %q", res.StatusCode, res.Body())
	}
	alice.rtp.Stop()
	moved := alice.newRTP("ALICE2")
	req := alice.inDialog(da, "UPDATE")
	req.AppendHeader(contentSDP())
	offer := strings.Replace(moved.Offer(), "RTP/AVP 0 8 101", "RTP/AVP 8 101", 1)
	req.SetBody([]byte(strings.Replace(offer, "o=phone 1 1", "o=phone 1 2", 1)))
	res := alice.send(ctx, req)
	if res.StatusCode != 200 {
		t.Fatalf("UPDATE: %d", res.StatusCode)
	}
	if port, pts := sdpAudio(t, string(res.Body())); port != alicePort || strings.TrimSpace(pts) != "8 101" {
		t.Fatalf("the answer to the UPDATE (port %d, was %d):\n%s", port, alicePort, res.Body())
	}
	if err := moved.SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	moved.Start()
	eventuallyTrue(t, "bob hears alice's new port", func() bool { return bob.rtp.ReceivedFrom("ALICE2") > 10 })
	eventuallyTrue(t, "alice's new port hears bob", func() bool { return moved.Received().Audio > 10 })
	if h.ad.Stats().Responses["UPDATE"]["2xx"] != 2 {
		t.Errorf("UPDATEs answered: %v", h.ad.Stats().Responses["UPDATE"])
	}
}

// Park and unpark of a relayed call: bob parks alice (the engine's Park by
// the callee's side): bob's phone gets a BYE and his relay leg closes;
// alice keeps her leg (same port), hears no one, and gets no request.
// carol's browser unparks her (as the WebSocket adapter does it: a leg
// offered matching alice's codec, connected to hers): alice hears carol on
// the same stream as before.
func TestRelayParkAndUnpark(t *testing.T) {
	h := newRelayHarness(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ps := relayPhones(t, ctx, h, "alice", "bob")
	alice, bob := ps[0], ps[1]
	_, _, alicePort := relayedCall(t, ctx, alice, bob)
	calls, err := h.eng.Calls(ctx, "alice")
	if err != nil || len(calls) != 1 {
		t.Fatalf("alice's calls: %+v %v", calls, err)
	}
	id := calls[0].ID

	parked, err := h.eng.Park(ctx, id, engine.Callee, "")
	if err != nil {
		t.Fatal(err)
	}
	bob.waitBye(ctx)
	eventuallyTrue(t, "bob's relay leg closed", func() bool { return !h.relay.HasLeg(id + "/callee") })
	if rtpFlowing(alice.rtp, "BOB") {
		t.Error("alice still hears bob while parked")
	}
	if p, err := h.relay.RTPPort(id + "/caller"); err != nil || p != alicePort {
		t.Fatalf("alice's parked leg: port %d, %v; she sends to %d", p, err, alicePort)
	}

	if _, err := h.eng.AddDevice(ctx, "carol", engine.Device{ID: "carol-web", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.UnparkSlot(ctx, parked.ParkSlot, "carol", "carol-web"); err != nil {
		t.Fatal(err)
	}
	browser, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: media.Settings{LoopbackOnly: true}, Marker: "CAROL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { browser.Close() })
	if err := browser.Accept(ctx, h.relay, id+"/callee", media.OfferOptions{MatchLeg: id + "/caller"}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	browser.Start()
	if err := h.relay.Connect(id+"/caller", id+"/callee"); err != nil { // the WebSocket adapter's applyMedia
		t.Fatal(err)
	}
	eventuallyTrue(t, "alice hears carol", func() bool { return alice.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears alice", func() bool { return browser.ReceivedFrom("ALICE") > 10 })
	noReinvite(t, alice)
	if rc := alice.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("the stream alice receives across park and unpark: %+v", rc)
	}
	if _, err := h.eng.Hangup(ctx, id, engine.Caller); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "alice's relay leg closed", func() bool { return !h.relay.HasLeg(id + "/caller") })
}

// INVITE with Replaces on a relayed call: alice moves her call with bob
// from one phone to another of hers. The new phone is answered with the
// relay leg alice's first phone had (the same port), bob gets no
// re-INVITE and hears the new phone on the same stream, the first phone
// gets a BYE.
func TestRelayInviteWithReplaces(t *testing.T) {
	h := newRelayHarness(t, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ps := relayPhones(t, ctx, h, "alice", "bob")
	alice, bob := ps[0], ps[1]
	da, _, alicePort := relayedCall(t, ctx, alice, bob)
	desk := newGoPhone(t, ctx, h.ad.Addr("udp"), "alice", "DESK")
	desk.register(ctx)

	req := desk.outOfDialog("INVITE", "1002")
	req.AppendHeader(sipHeader("Replaces", da.callID+";to-tag="+da.remoteTag+";from-tag="+da.localTag))
	req.AppendHeader(contentSDP())
	req.SetBody([]byte(desk.rtp.Offer()))
	res := desk.do(ctx, req)
	if res.StatusCode != 200 {
		t.Fatalf("INVITE with Replaces: %d", res.StatusCode)
	}
	d := &phoneDialog{callID: req.CallID().Value(), local: req.From().Address, remote: req.To().Address,
		target: res.Contact().Address, cseq: res.CSeq().SeqNo}
	d.localTag, _ = req.From().Params.Get("tag")
	d.remoteTag, _ = res.To().Params.Get("tag")
	if err := desk.cli.WriteRequest(desk.inDialog(d, "ACK")); err != nil {
		t.Fatal(err)
	}
	if p, _ := sdpAudio(t, string(res.Body())); p != alicePort {
		t.Fatalf("the new phone is answered with port %d, alice's leg is on %d:\n%s", p, alicePort, res.Body())
	}
	if err := desk.rtp.SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	desk.rtp.Start()
	alice.waitBye(ctx)
	alice.rtp.Stop()
	eventuallyTrue(t, "bob hears the desk phone", func() bool { return bob.rtp.ReceivedFrom("DESK") > 10 })
	eventuallyTrue(t, "the desk phone hears bob", func() bool { return desk.rtp.ReceivedFrom("BOB") > 10 })
	noReinvite(t, bob)
	if rc := bob.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("the stream bob receives across the replacement: %+v", rc)
	}
}
