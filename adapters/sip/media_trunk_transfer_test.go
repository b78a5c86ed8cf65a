package sip

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// noBye checks that the phone (a trunk) got no BYE.
func noBye(t *testing.T, p *goPhone) {
	t.Helper()
	select {
	case id := <-p.byes:
		t.Fatalf("%s got a BYE (Call-ID %s)", p.user, id)
	default:
	}
}

// trunkHoldResume: the trunk holds and resumes in its dialog d, which goes
// on in call id on side s: each re-INVITE gets 200 and is the engine's
// hold and resume by that side.
func trunkHoldResume(t *testing.T, ctx context.Context, h *relayHarness, trunk *goPhone, d *phoneDialog, id string, s engine.Side) {
	t.Helper()
	reinvite := func(version, dir string) *sip.Response {
		t.Helper()
		req := trunk.inDialog(d, "INVITE")
		req.AppendHeader(contentSDP())
		body := strings.Replace(trunk.rtp.Offer(), "o=phone 1 1", "o=phone 1 "+version, 1)
		req.SetBody([]byte(strings.Replace(body, "a=sendrecv", dir, 1)))
		res := trunk.send(ctx, req)
		if err := trunk.cli.WriteRequest(trunk.inDialog(d, "ACK")); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := reinvite("7", "a=sendonly"); res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("the trunk's hold after the transfer: %d\n%s", res.StatusCode, res.Body())
	}
	eventuallyTrue(t, "the new call held by the trunk's side", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Held && c.HeldBy(s)
	})
	if res := reinvite("8", "a=sendrecv"); res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendrecv") {
		t.Fatalf("the trunk's resume after the transfer: %d\n%s", res.StatusCode, res.Body())
	}
	eventuallyTrue(t, "the new call resumed", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Connected
	})
}

// A phone's call out through a trunk, blind-transferred by the phone
// (dave REFERs the customer to carol): the trunk's leg goes on in the new
// call on the relay — carol is offered a relay leg, the trunk gets no
// re-INVITE and receives one continuous stream while its source changes
// from dave to carol — and the trunk's BYE ends the new call and reaches
// carol.
func TestRelayTrunkCallOutTransferred(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	ps := relayPhones(t, ctx, h, "dave", "carol")
	dv, carol := ps[0], ps[1]
	dd, _ := dv.call(ctx, outside)
	td := trunk.waitInvite(ctx)
	trunk.rtp.Start()
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })
	before, err := h.eng.Calls(ctx, "dave")
	if err != nil || len(before) != 1 {
		t.Fatalf("dave's calls: %+v %v", before, err)
	}
	trunkPort, err := h.relay.RTPPort(before[0].ID + "/callee")
	if err != nil {
		t.Fatal(err)
	}

	if res := dv.refer(ctx, dd, "1003", nil); res.StatusCode != 202 {
		t.Fatalf("REFER: %d", res.StatusCode)
	}
	carol.waitInvite(ctx)
	carol.rtp.Start()
	dv.waitBye(ctx)
	eventuallyTrue(t, "the trunk hears carol", func() bool { return trunk.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears the trunk", func() bool { return carol.rtp.ReceivedFrom("TRUNK") > 10 })
	noReinvite(t, trunk)
	if rc := trunk.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("the stream the trunk receives across the transfer: %+v", rc)
	}
	calls, err := h.eng.Calls(ctx, "carol")
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected || calls[0].Caller.Number != outside {
		t.Fatalf("carol's calls after the transfer: %+v %v", calls, err)
	}
	id := calls[0].ID
	if p, err := h.relay.RTPPort(id + "/caller"); err != nil || p != trunkPort {
		t.Errorf("the trunk's leg in the new call: port %d, %v; the trunk sends to %d", p, err, trunkPort)
	}

	noBye(t, trunk)
	trunkHoldResume(t, ctx, h, trunk, td, id, engine.Caller)
	eventuallyTrue(t, "carol hears the trunk after its resume", func() bool { return rtpFlowing(carol.rtp, "TRUNK") })

	// The trunk hangs up: the new call ends, carol gets BYE.
	if res := trunk.send(ctx, trunk.inDialog(td, "BYE")); res.StatusCode != 200 {
		t.Fatalf("the trunk's BYE: %d", res.StatusCode)
	}
	carol.waitBye(ctx)
	eventuallyTrue(t, "the new call ended", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Ended
	})
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

// A call in from a trunk that dave answers and blind-transfers to carol:
// the trunk's leg goes on in the new call — carol hears the customer and
// the customer hears carol on the port it had — and carol's BYE reaches
// the trunk.
func TestRelayTrunkCallInTransferred(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	ps := relayPhones(t, ctx, h, "dave", "carol")
	dv, carol := ps[0], ps[1]
	td, answer := trunk.call(ctx, daveNumber)
	trunkPort, _ := sdpAudio(t, answer)
	dd := dv.waitInvite(ctx)
	dv.rtp.Start()
	eventuallyTrue(t, "dave hears the trunk", func() bool { return dv.rtp.ReceivedFrom("TRUNK") > 10 })
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })

	if res := dv.refer(ctx, dd, "1003", nil); res.StatusCode != 202 {
		t.Fatalf("REFER: %d", res.StatusCode)
	}
	cd := carol.waitInvite(ctx)
	carol.rtp.Start()
	dv.waitBye(ctx)
	eventuallyTrue(t, "the trunk hears carol", func() bool { return trunk.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears the trunk", func() bool { return carol.rtp.ReceivedFrom("TRUNK") > 10 })
	noReinvite(t, trunk)
	calls, err := h.eng.Calls(ctx, "carol")
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected {
		t.Fatalf("carol's calls after the transfer: %+v %v", calls, err)
	}
	id := calls[0].ID
	if p, err := h.relay.RTPPort(id + "/caller"); err != nil || p != trunkPort {
		t.Errorf("the trunk's leg in the new call: port %d, %v; the trunk sends to %d", p, err, trunkPort)
	}

	noBye(t, trunk)
	trunkHoldResume(t, ctx, h, trunk, td, id, engine.Caller)

	// Carol hangs up: the trunk gets BYE.
	if res := carol.send(ctx, carol.inDialog(cd, "BYE")); res.StatusCode != 200 {
		t.Fatalf("carol's BYE: %d", res.StatusCode)
	}
	trunk.waitBye(ctx)
	eventuallyTrue(t, "the new call ended", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Ended
	})
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

// A trunk's call in that dave transferred to carol, after SIGKILL: the
// trunk's dialog and relay leg were journaled on the new call, so they
// come back there — audio flows again both ways on the ports the trunk
// and carol send to, with one stream each — and the trunk's BYE ends the
// new call and reaches carol.
func TestRelayedTransferredTrunkCallInSurvivesSIGKILL(t *testing.T) {
	relayTransferredTrunkRestart(t, false)
}

// The same for a call dave placed out through the trunk: the trunk's
// dialog (ours as the UAC) goes on as the caller's side of the new call.
func TestRelayedTransferredTrunkCallOutSurvivesSIGKILL(t *testing.T) {
	relayTransferredTrunkRestart(t, true)
}

func relayTransferredTrunkRestart(t *testing.T, out bool) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	trunk := newGoPhoneOn(t, ctx, trunkIP, addr, "trunk", "TRUNK")
	child := startRelayRestartChild(t, dir, addr, trunkIP+":"+strconv.Itoa(trunk.port))
	dv := newGoPhone(t, ctx, addr, "dave", "DAVE")
	dv.register(ctx)
	carol := newGoPhone(t, ctx, addr, "carol", "CAROL")
	carol.register(ctx)
	var dd, td *phoneDialog
	if out {
		dd, _ = dv.call(ctx, outside)
		td = trunk.waitInvite(ctx)
		trunk.rtp.Start()
	} else {
		td, _ = trunk.call(ctx, daveNumber)
		dd = dv.waitInvite(ctx)
		dv.rtp.Start()
	}
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })
	if res := dv.refer(ctx, dd, "1003", nil); res.StatusCode != 202 {
		t.Fatalf("REFER: %d", res.StatusCode)
	}
	cd := carol.waitInvite(ctx)
	carol.rtp.Start()
	dv.waitBye(ctx)
	eventuallyTrue(t, "the trunk hears carol", func() bool { return trunk.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears the trunk", func() bool { return carol.rtp.ReceivedFrom("TRUNK") > 10 })
	child.waitLegs(t, 4) // the first call's two records, the new call's two
	child.kill(t)

	h := relayTrunkHarness(t, dir, addr, trunkIP+":"+strconv.Itoa(trunk.port))
	calls, err := h.eng.LegCalls(ctx, adapterName)
	if err != nil || len(calls) != 1 || calls[0].Callee.Client != "carol" || calls[0].State != engine.Connected {
		t.Fatalf("calls with SIP dialogs after the restart: %+v, %v", calls, err)
	}
	id := calls[0].ID
	for _, s := range []string{"/caller", "/callee"} {
		if _, err := h.relay.RTPPort(id + s); err != nil {
			t.Fatalf("relay leg %s%s after the restart: %v", id, s, err)
		}
	}
	heardT, heardC := carol.rtp.ReceivedFrom("TRUNK"), trunk.rtp.ReceivedFrom("CAROL")
	eventuallyTrue(t, "carol hears the trunk again", func() bool { return carol.rtp.ReceivedFrom("TRUNK") > heardT+10 })
	eventuallyTrue(t, "the trunk hears carol again", func() bool { return trunk.rtp.ReceivedFrom("CAROL") > heardC+10 })
	noReinvite(t, trunk)
	noReinvite(t, carol)
	noBye(t, trunk)
	if rc := trunk.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("the trunk's stream across the transfer and the restart: %+v", rc)
	}

	if res := trunk.send(ctx, trunk.inDialog(td, "BYE")); res.StatusCode != 200 {
		t.Fatalf("the trunk's BYE after the restart: %d", res.StatusCode)
	}
	if got := carol.waitBye(ctx); got != cd.callID {
		t.Errorf("carol's BYE is for Call-ID %s, her dialog is %s", got, cd.callID)
	}
	eventuallyTrue(t, "the new call ended, hung up by the trunk's side", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Ended && c.Reason == events.Hangup && c.EndedBy == engine.Caller
	})
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

const (
	mobileIP = "127.0.0.4"
	mobile   = "+447700900123" // a number the second trunk carries
)

// twoTrunks is a relay harness whose far end is two Go trunks: the
// carrier (trunkIP, numbers +4420…), which calls in, and the mobile
// network (mobileIP, numbers +4477…).
func twoTrunks(t *testing.T, ctx context.Context) (*relayHarness, *goPhone, *goPhone) {
	t.Helper()
	carrier := newGoPhoneOn(t, ctx, trunkIP, "", "carrier", "CARRIER")
	cell := newGoPhoneOn(t, ctx, mobileIP, "", "mobile", "MOBILE")
	ts, err := NewTrunks([]Trunk{
		{Name: "carrier", Address: trunkIP + ":" + itoa(carrier.port), Prefixes: []string{"+4420"}},
		{Name: "mobile", Address: mobileIP + ":" + itoa(cell.port), Prefixes: []string{"+4477"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newRelayHarnessWith(t, t.TempDir(), "", ts)
	if _, err := h.eng.RegisterClient(ctx, dave); err != nil {
		t.Fatal(err)
	}
	carrier.server = h.ad.Addr("udp")
	return h, carrier, cell
}

// A trunk's call in that dave blind-transfers to a number outside (a
// colleague's mobile, reached through a second trunk): the new call goes
// out on the second trunk with the relay's offer in the first trunk's
// codec and a Diversion header naming dave's number (the carrier's
// authority for the customer's number in From), the two carriers hear each
// other through the relay, the first trunk gets no request at all, and
// its BYE reaches the second.
func TestRelayTrunkCallInTransferredOutside(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, carrier, cell := twoTrunks(t, ctx)
	dv := relayPhones(t, ctx, h, "dave")[0]
	td, _ := carrier.call(ctx, daveNumber)
	dd := dv.waitInvite(ctx)
	dv.rtp.Start()
	eventuallyTrue(t, "the carrier hears dave", func() bool { return carrier.rtp.ReceivedFrom("DAVE") > 10 })

	if res := dv.refer(ctx, dd, mobile, nil); res.StatusCode != 202 {
		t.Fatalf("REFER: %d", res.StatusCode)
	}
	md := cell.waitInvite(ctx)
	cell.rtp.Start()
	dv.waitBye(ctx)
	if !strings.Contains(md.offer, "o=callengine") {
		t.Errorf("the mobile trunk's INVITE is not the relay's offer:\n%s", md.offer)
	}
	if !strings.HasPrefix(md.diversion, "<sip:"+daveNumber+"@") || !strings.Contains(md.diversion, ";reason=deflection") {
		t.Errorf("the mobile trunk's INVITE: Diversion %q, want dave's number %s", md.diversion, daveNumber)
	}
	eventuallyTrue(t, "the carrier hears the mobile", func() bool { return carrier.rtp.ReceivedFrom("MOBILE") > 10 })
	eventuallyTrue(t, "the mobile hears the carrier", func() bool { return cell.rtp.ReceivedFrom("CARRIER") > 10 })
	noReinvite(t, carrier)
	noBye(t, carrier)
	var id string
	eventuallyTrue(t, "the transit call is up, both carriers' dialogs journaled on it", func() bool {
		calls, err := h.eng.LegCalls(ctx, adapterName)
		if err != nil || len(calls) != 1 || calls[0].State != engine.Connected || calls[0].Callee.Number != mobile || len(calls[0].Legs) != 2 {
			return false
		}
		id = calls[0].ID
		return true
	})
	if p, err := h.relay.RTPPort(id + "/callee"); err != nil || p != sdpPort(t, md.offer) {
		t.Errorf("the mobile trunk's relay leg: port %d, %v; it was offered\n%s", p, err, md.offer)
	}
	if res := carrier.send(ctx, carrier.inDialog(td, "BYE")); res.StatusCode != 200 {
		t.Fatalf("the carrier's BYE: %d", res.StatusCode)
	}
	cell.waitBye(ctx)
	eventuallyTrue(t, "the transit call ended, hung up by the carrier's side", func() bool {
		c, err := h.eng.Call(ctx, id)
		return err == nil && c.State == engine.Ended && c.Reason == events.Hangup && c.EndedBy == engine.Caller
	})
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

func sdpPort(t *testing.T, desc string) int {
	t.Helper()
	p, _ := sdpAudio(t, desc)
	return p
}

// A phone transferred to a number outside: dave calls carol, carol
// blind-transfers him to a number reached through the trunk. The trunk is
// offered the relay in dave's codec, dave keeps his relay leg and gets no
// re-INVITE, and the two hear each other.
func TestRelayPhoneTransferredOutside(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	ps := relayPhones(t, ctx, h, "dave", "carol")
	dv, carol := ps[0], ps[1]
	dv.call(ctx, "1003")
	cd := carol.waitInvite(ctx)
	carol.rtp.Start()
	eventuallyTrue(t, "carol hears dave", func() bool { return carol.rtp.ReceivedFrom("DAVE") > 10 })

	if res := carol.refer(ctx, cd, outside, nil); res.StatusCode != 202 {
		t.Fatalf("REFER: %d", res.StatusCode)
	}
	td := trunk.waitInvite(ctx)
	trunk.rtp.Start()
	carol.waitBye(ctx)
	if !strings.Contains(td.offer, "o=callengine") {
		t.Errorf("the trunk's INVITE is not the relay's offer:\n%s", td.offer)
	}
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })
	eventuallyTrue(t, "dave hears the trunk", func() bool { return dv.rtp.ReceivedFrom("TRUNK") > 10 })
	noReinvite(t, dv)
	if rc := dv.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("the stream dave receives across the transfer: %+v", rc)
	}
	calls, err := h.eng.Calls(ctx, "dave")
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected || calls[0].Callee.Number != outside {
		t.Fatalf("dave's calls after the transfer: %+v %v", calls, err)
	}
	if res := trunk.send(ctx, trunk.inDialog(td, "BYE")); res.StatusCode != 200 {
		t.Fatalf("the trunk's BYE: %d", res.StatusCode)
	}
	dv.waitBye(ctx)
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

// An attended transfer of a trunk's customer (RFC 5589): the carrier
// calls dave, dave consults carol, then REFERs the customer with Replaces
// of his dialog with carol. The customer and carol go on in the new call
// and hear each other through the relay, neither gets a re-INVITE, and
// carol's BYE reaches the carrier.
func TestRelayTrunkCustomerAttendedTransfer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, carrier, _ := twoTrunks(t, ctx)
	ps := relayPhones(t, ctx, h, "dave", "carol")
	dv, carol := ps[0], ps[1]
	carrier.call(ctx, daveNumber)
	dx := dv.waitInvite(ctx)
	dv.rtp.Start()
	eventuallyTrue(t, "the carrier hears dave", func() bool { return carrier.rtp.ReceivedFrom("DAVE") > 10 })
	dz, _ := dv.call(ctx, "1003")
	cz := carol.waitInvite(ctx)
	carol.rtp.Start()
	eventuallyTrue(t, "carol hears dave", func() bool { return carol.rtp.ReceivedFrom("DAVE") > 10 })

	if res := dv.refer(ctx, dx, "1003", dz); res.StatusCode != 202 {
		t.Fatalf("REFER with Replaces: %d", res.StatusCode)
	}
	dv.waitBye(ctx)
	dv.waitBye(ctx)
	eventuallyTrue(t, "the carrier hears carol", func() bool { return carrier.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears the carrier", func() bool { return carol.rtp.ReceivedFrom("CARRIER") > 10 })
	noReinvite(t, carrier)
	noReinvite(t, carol)
	noBye(t, carrier)
	calls, err := h.eng.Calls(ctx, "carol")
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected || calls[0].CallerLeg == "" {
		t.Fatalf("carol's calls after the transfer: %+v %v", calls, err)
	}
	if res := carol.send(ctx, carol.inDialog(cz, "BYE")); res.StatusCode != 200 {
		t.Fatalf("carol's BYE: %d", res.StatusCode)
	}
	carrier.waitBye(ctx)
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

// An attended transfer between two trunks' parties: the carrier's
// customer calls dave, dave consults a mobile number through the second
// trunk and transfers the customer to it with Replaces. Both trunk legs go
// on in the new call (CallerLeg and CalleeLeg), the two carriers hear each
// other, and the customer's BYE reaches the mobile network.
func TestRelayTrunkAttendedTransferToOutside(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, carrier, cell := twoTrunks(t, ctx)
	dv := relayPhones(t, ctx, h, "dave")[0]
	td, _ := carrier.call(ctx, daveNumber)
	dx := dv.waitInvite(ctx)
	dv.rtp.Start()
	dz, _ := dv.call(ctx, mobile)
	cell.waitInvite(ctx)
	cell.rtp.Start()
	eventuallyTrue(t, "the mobile hears dave", func() bool { return cell.rtp.ReceivedFrom("DAVE") > 10 })

	if res := dv.refer(ctx, dx, mobile, dz); res.StatusCode != 202 {
		t.Fatalf("REFER with Replaces: %d", res.StatusCode)
	}
	dv.waitBye(ctx)
	dv.waitBye(ctx)
	eventuallyTrue(t, "the carrier hears the mobile", func() bool { return carrier.rtp.ReceivedFrom("MOBILE") > 10 })
	eventuallyTrue(t, "the mobile hears the carrier", func() bool { return cell.rtp.ReceivedFrom("CARRIER") > 10 })
	noReinvite(t, carrier)
	noReinvite(t, cell)
	noBye(t, carrier)
	noBye(t, cell)
	if res := carrier.send(ctx, carrier.inDialog(td, "BYE")); res.StatusCode != 200 {
		t.Fatalf("the carrier's BYE: %d", res.StatusCode)
	}
	cell.waitBye(ctx)
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}

// Passed through (relay_phones off): a trunk's call in that dave
// transfers to carol. Carol is offered the carrier's SDP, and the carrier
// gets carol's answer in a re-INVITE in its dialog: the two then send RTP
// to each other, not through the relay.
func TestPassThroughTrunkCallInTransferred(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	trunk := newGoPhoneOn(t, ctx, trunkIP, "", "trunk", "TRUNK")
	ts, err := NewTrunks([]Trunk{{Name: "test", Address: trunkIP + ":" + itoa(trunk.port)}})
	if err != nil {
		t.Fatal(err)
	}
	h := newRelayHarnessWith(t, t.TempDir(), "", ts, func(s *Settings) { s.RelayPhones = false })
	if _, err := h.eng.RegisterClient(ctx, dave); err != nil {
		t.Fatal(err)
	}
	trunk.server = h.ad.Addr("udp")
	ps := relayPhones(t, ctx, h, "dave", "carol")
	dv, carol := ps[0], ps[1]
	td, answer := trunk.call(ctx, daveNumber)
	if p, _ := sdpAudio(t, answer); p != dv.rtp.Addr().Port {
		t.Fatalf("the carrier was answered with port %d, not dave's %d: not passed through", p, dv.rtp.Addr().Port)
	}
	dd := dv.waitInvite(ctx)
	dv.rtp.Start()
	eventuallyTrue(t, "dave hears the trunk", func() bool { return dv.rtp.ReceivedFrom("TRUNK") > 10 })

	if res := dv.refer(ctx, dd, "1003", nil); res.StatusCode != 202 {
		t.Fatalf("REFER: %d", res.StatusCode)
	}
	cd := carol.waitInvite(ctx)
	if p, _ := sdpAudio(t, cd.offer); p != trunk.rtp.Addr().Port {
		t.Errorf("carol was offered port %d, not the carrier's %d:\n%s", p, trunk.rtp.Addr().Port, cd.offer)
	}
	carol.rtp.Start()
	dv.waitBye(ctx)
	var offer string
	select {
	case offer = <-trunk.reinvited:
	case <-ctx.Done():
		t.Fatal("the carrier was not re-INVITEd with carol's answer")
	}
	if p, _ := sdpAudio(t, offer); p != carol.rtp.Addr().Port {
		t.Errorf("the carrier's re-INVITE names port %d, carol's is %d:\n%s", p, carol.rtp.Addr().Port, offer)
	}
	eventuallyTrue(t, "the trunk hears carol", func() bool { return trunk.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears the trunk", func() bool { return carol.rtp.ReceivedFrom("TRUNK") > 10 })
	noBye(t, trunk)
	if res := trunk.send(ctx, trunk.inDialog(td, "BYE")); res.StatusCode != 200 {
		t.Fatalf("the carrier's BYE: %d", res.StatusCode)
	}
	carol.waitBye(ctx)
}

// The contact centre's case: a customer calls in through the carrier, an
// agent answers in the browser (a WebRTC peer on the relay, as the
// WebSocket adapter connects it) and transfers the customer to a
// colleague's SIP phone with the engine's BlindTransfer (the WebSocket
// protocol's transfer). The customer keeps the relay port it sends to,
// hears carol, and gets no request at all.
func TestRelayBrowserAgentTransfersTrunkCustomer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, carrier, _ := twoTrunks(t, ctx)
	carol := relayPhones(t, ctx, h, "carol")[0]
	if _, err := h.eng.AddDevice(ctx, "dave", engine.Device{ID: "dave-web", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() { // the carrier's call in; its 200 comes once the agent answers
		_, answer := carrier.call(ctx, daveNumber)
		answered <- answer
	}()
	var id string
	eventuallyTrue(t, "the customer's call rings the agent's browser", func() bool {
		calls, err := h.eng.Calls(ctx, "dave")
		if err != nil || len(calls) != 1 || calls[0].State != engine.Ringing || !h.relay.HasLeg(calls[0].ID+"/caller") {
			return false
		}
		id = calls[0].ID
		return true
	})
	browser, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: media.Settings{LoopbackOnly: true}, Marker: "AGENT"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { browser.Close() })
	if err := browser.Accept(ctx, h.relay, id+"/callee", media.OfferOptions{MatchLeg: id + "/caller"}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Answer(ctx, id, "dave-web"); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	browser.Start()
	if err := h.relay.Connect(id+"/caller", id+"/callee"); err != nil { // the WebSocket adapter's applyMedia
		t.Fatal(err)
	}
	var answer string
	select {
	case answer = <-answered:
	case <-ctx.Done():
		t.Fatal("the carrier's call was not answered")
	}
	customerPort, _ := sdpAudio(t, answer)
	eventuallyTrue(t, "the customer hears the agent", func() bool { return carrier.rtp.ReceivedFrom("AGENT") > 10 })

	if _, err := h.eng.BlindTransfer(ctx, engine.TransferRequest{Call: id, Side: engine.Caller, To: "1003"}); err != nil {
		t.Fatal(err)
	}
	carol.waitInvite(ctx)
	carol.rtp.Start()
	eventuallyTrue(t, "the customer hears carol", func() bool { return carrier.rtp.ReceivedFrom("CAROL") > 10 })
	eventuallyTrue(t, "carol hears the customer", func() bool { return carol.rtp.ReceivedFrom("CARRIER") > 10 })
	noReinvite(t, carrier)
	noBye(t, carrier)
	calls, err := h.eng.Calls(ctx, "carol")
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected {
		t.Fatalf("carol's calls: %+v %v", calls, err)
	}
	if p, err := h.relay.RTPPort(calls[0].ID + "/caller"); err != nil || p != customerPort {
		t.Errorf("the customer's leg in the new call: port %d, %v; the carrier sends to %d", p, err, customerPort)
	}
	if rc := carrier.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("the stream the customer receives across the transfer: %+v", rc)
	}
	if _, err := h.eng.Hangup(ctx, calls[0].ID, engine.Callee); err != nil {
		t.Fatal(err)
	}
	carrier.waitBye(ctx)
	carol.waitBye(ctx)
}

// A trunk customer transferred twice: dave transfers the caller to carol,
// carol transfers it on to alice. The second new call takes the trunk's
// dialog from the first transfer's call (where it went on as the kept
// leg): alice hears the customer on the port it always had, and the
// customer's BYE reaches alice.
func TestRelayTrunkCallTransferredTwice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, trunk := relayTrunk(t, ctx)
	ps := relayPhones(t, ctx, h, "dave", "carol", "alice")
	dv, carol, alice := ps[0], ps[1], ps[2]
	td, answer := trunk.call(ctx, daveNumber)
	trunkPort, _ := sdpAudio(t, answer)
	dd := dv.waitInvite(ctx)
	dv.rtp.Start()
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })
	if res := dv.refer(ctx, dd, "1003", nil); res.StatusCode != 202 {
		t.Fatalf("dave's REFER: %d", res.StatusCode)
	}
	cd := carol.waitInvite(ctx)
	carol.rtp.Start()
	dv.waitBye(ctx)
	eventuallyTrue(t, "the trunk hears carol", func() bool { return trunk.rtp.ReceivedFrom("CAROL") > 10 })

	if res := carol.refer(ctx, cd, "1001", nil); res.StatusCode != 202 {
		t.Fatalf("carol's REFER: %d", res.StatusCode)
	}
	ad := alice.waitInvite(ctx)
	alice.rtp.Start()
	carol.waitBye(ctx)
	eventuallyTrue(t, "the trunk hears alice", func() bool { return trunk.rtp.ReceivedFrom("ALICE") > 10 })
	eventuallyTrue(t, "alice hears the trunk", func() bool { return alice.rtp.ReceivedFrom("TRUNK") > 10 })
	noReinvite(t, trunk)
	noBye(t, trunk)
	calls, err := h.eng.Calls(ctx, "alice")
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected {
		t.Fatalf("alice's calls: %+v %v", calls, err)
	}
	if p, err := h.relay.RTPPort(calls[0].ID + "/caller"); err != nil || p != trunkPort {
		t.Errorf("the trunk's leg after two transfers: port %d, %v; the trunk sends to %d", p, err, trunkPort)
	}
	if res := trunk.send(ctx, trunk.inDialog(td, "BYE")); res.StatusCode != 200 {
		t.Fatalf("the trunk's BYE: %d", res.StatusCode)
	}
	if got := alice.waitBye(ctx); got != ad.callID {
		t.Errorf("alice's BYE is for %s, her dialog is %s", got, ad.callID)
	}
	eventuallyTrue(t, "the relay's legs closed", func() bool { return h.relay.Stats().Legs == 0 })
}
