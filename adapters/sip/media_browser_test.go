package sip

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// A browser SIP stack (JsSIP, SIP.js) and a desk phone: the browser
// speaks SIP over WebSocket but its media is WebRTC (ICE, DTLS-SRTP, every
// candidate in the SDP since SIP does not trickle), which a desk phone
// cannot take; the relay terminates each in its own way and carries the
// audio between them. Here the browser is sipgo's ws client with a pion
// peer connection (mediatest.TestPeer), the phone a goPhone with plain RTP.

// browserPhone is a browser SIP stack: SIP over ws, WebRTC media.
type browserPhone struct {
	*wsPhone
	peer *mediatest.TestPeer
}

func newBrowserPhone(t *testing.T, ctx context.Context, wsAddr, user, marker string) *browserPhone {
	t.Helper()
	b := &browserPhone{wsPhone: newWSPhoneAt(t, wsAddr, user)}
	b.contact.Params = sip.NewParams()
	b.contact.Params.Add("+sip.ice", "") // as JsSIP registers: a WebRTC endpoint
	b.newPeer(ctx, marker)
	b.register()
	return b
}

// newPeer gives the browser a new peer connection, which answers the
// INVITEs from now on (a page that reloads its WebRTC stack).
func (b *browserPhone) newPeer(ctx context.Context, marker string) {
	b.t.Helper()
	peer, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: media.Settings{LoopbackOnly: true}, Marker: marker, Codec: "opus"})
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { _ = peer.Close() })
	b.peer = peer
	b.setAnswer(func(offer []byte) ([]byte, error) {
		a, err := peer.Answer(ctx, string(offer))
		return []byte(a), err
	})
}

// call dials to with the browser's WebRTC offer and takes the 200's
// answer; the returned session is ACKed.
func (b *browserPhone) call(ctx context.Context, to string) (*sipgo.DialogClientSession, string) {
	b.t.Helper()
	offer, err := b.peer.Offer(ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	// As JsSIP's: the INVITE's Contact is the registered one with the
	// "ob" parameter (RFC 5626).
	contact := *b.contact.Clone()
	contact.Address.UriParams = contact.Address.UriParams.Clone()
	contact.Address.UriParams.Add("ob", "")
	dua := sipgo.DialogUA{Client: b.cli, ContactHDR: contact}
	sess, err := dua.Invite(ctx, b.to(to), []byte(offer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { _ = sess.Close() })
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: b.user, Password: password(b.user)}); err != nil {
		b.t.Fatalf("%s's INVITE: %v", b.user, err)
	}
	if err := sess.Ack(ctx); err != nil {
		b.t.Fatal(err)
	}
	answer := string(sess.InviteResponse.Body())
	if err := b.peer.SetAnswer(answer); err != nil {
		b.t.Fatalf("the browser refuses the relay's answer: %v\n%s", err, answer)
	}
	return sess, answer
}

func peerFlowing(p *mediatest.TestPeer, marker string) bool {
	before := p.ReceivedFrom(marker)
	time.Sleep(300 * time.Millisecond)
	return p.ReceivedFrom(marker) > before+3
}

// checkWebRTCSDP fails unless sdp is a WebRTC description in G.711 with
// every candidate (what a browser SIP stack can take).
func checkWebRTCSDP(t *testing.T, what, sdp string) {
	t.Helper()
	for _, want := range []string{"UDP/TLS/RTP/SAVPF", "a=fingerprint:", "a=ice-ufrag:", "a=candidate:", "PCMU/8000"} {
		if !strings.Contains(sdp, want) {
			t.Fatalf("%s has no %q:\n%s", what, want, sdp)
		}
	}
}

// The browser calls the desk phone, and then the phone the browser, with
// phone calls passed through (RelayPhones off): pass-through cannot carry
// these, so the relay answers the one and offers to the other. Audio
// flows both ways; the engine's hold re-INVITEs the browser with the
// relay's WebRTC SDP (a=sendonly) and the relay holds the media; RFC 4733
// digits from the browser are the engine's; a BYE ends each call.
func TestBrowserSIPStackAndDeskPhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) {
		s.WS = "127.0.0.1:0"
		s.RelayPhones = false
	})
	alice := newBrowserPhone(t, ctx, h.ad.Addr("ws"), "alice", "BROWSER")
	bob := relayPhones(t, ctx, h, "bob")[0]
	sub, err := h.eng.Subscribe(ctx, engine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// The browser calls the phone.
	sess, answer := alice.call(ctx, "1002")
	checkWebRTCSDP(t, "the relay's answer to the browser", answer)
	db := bob.waitInvite(ctx)
	if media.IsWebRTCSDP(db.offer) || !strings.Contains(db.offer, "RTP/AVP") {
		t.Fatalf("the phone is offered:\n%s", db.offer)
	}
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	bob.rtp.Start()
	eventuallyTrue(t, "the phone hears the browser", func() bool { return rtpFlowing(bob.rtp, "BROWSER") })
	eventuallyTrue(t, "the browser hears the phone", func() bool { return peerFlowing(alice.peer, "BOB") })

	calls, err := h.eng.Calls(ctx, "alice")
	if err != nil || len(calls) != 1 {
		t.Fatalf("alice's calls: %+v, %v", calls, err)
	}
	id := calls[0].ID
	if cl, err := h.eng.Client(ctx, "alice"); err != nil || len(cl.Devices) != 1 || calls[0].CallerDevice != cl.Devices[0].ID {
		t.Fatalf("the call's caller device %q is not the browser's binding (;ob in the INVITE's Contact): %+v, %v", calls[0].CallerDevice, cl.Devices, err)
	}
	if err := alice.peer.SendDTMF(ctx, "5", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub, "the browser's digit", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallDigits && ev.Call.ID == id
	})

	// The engine holds the call for the phone: the browser gets a
	// re-INVITE with the relay's SDP, a=sendonly, and the audio stops.
	if _, err := h.eng.Hold(ctx, id, engine.Callee); err != nil {
		t.Fatal(err)
	}
	var reinvite *sip.Request
	for reinvite == nil {
		select {
		case r := <-alice.invites:
			if tag, _ := r.To().Params.Get("tag"); tag != "" {
				reinvite = r
			}
		case <-ctx.Done():
			t.Fatal("the browser got no re-INVITE for the hold")
		}
	}
	if body := string(reinvite.Body()); !strings.Contains(body, "a=sendonly") {
		t.Fatalf("the hold re-INVITE:\n%s", body)
	}
	checkWebRTCSDP(t, "the hold re-INVITE", string(reinvite.Body()))
	eventuallyTrue(t, "the audio stops on hold", func() bool { return !rtpFlowing(bob.rtp, "BROWSER") })
	if _, err := h.eng.Resume(ctx, id, engine.Callee); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "the phone hears the browser again", func() bool { return rtpFlowing(bob.rtp, "BROWSER") })
	eventuallyTrue(t, "the browser hears the phone again", func() bool { return peerFlowing(alice.peer, "BOB") })

	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sub, "the call's end", func(ev *engine.Event) bool {
		return ev.Type == events.TypeCallEnded && ev.Call.ID == id && ev.Call.Reason == events.Hangup
	})
	eventuallyTrue(t, "the relay's legs closed", func() bool { return !h.relay.HasLeg(id+"/caller") && !h.relay.HasLeg(id+"/callee") })
}

// The desk phone calls the browser: the browser is offered a WebRTC leg
// in the phone's codec, answers it, and they talk; the phone's BYE ends
// the call.
func TestDeskPhoneCallsBrowserSIPStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) { s.WS = "127.0.0.1:0" })
	alice := newBrowserPhone(t, ctx, h.ad.Addr("ws"), "alice", "BROWSER")
	bob := relayPhones(t, ctx, h, "bob")[0]
	d, _ := bob.call(ctx, "1001")
	var inv *sip.Request
	select {
	case inv = <-alice.invites:
	case <-ctx.Done():
		t.Fatal("the browser was not called")
	}
	checkWebRTCSDP(t, "the browser's offer", string(inv.Body()))
	if strings.Contains(strings.ToLower(string(inv.Body())), "opus") {
		t.Errorf("the browser is offered Opus, which the phone does not speak:\n%s", inv.Body())
	}
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	eventuallyTrue(t, "the phone hears the browser", func() bool { return rtpFlowing(bob.rtp, "BROWSER") })
	eventuallyTrue(t, "the browser hears the phone", func() bool { return peerFlowing(alice.peer, "BOB") })
	if res := bob.send(ctx, bob.inDialog(d, sip.BYE)); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	select {
	case <-alice.byes:
	case <-ctx.Done():
		t.Fatal("the browser got no BYE")
	}
}

// waitFor waits for the first event of sub that match takes.
func waitFor(t *testing.T, sub *engine.Subscription, what string, match func(*engine.Event) bool) engine.Event {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatalf("%s: the subscription closed", what)
			}
			if match(&ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s", what)
		}
	}
}

// browserWSEnv gives the restart child (TestRelayRestartChild) a ws
// listener at this address.
const browserWSEnv = "CALLENGINE_SIP_BROWSER_WS_CHILD"

// A browser SIP stack's call to a desk phone after SIGKILL: the engine, the
// relay and the adapter run in a child process, which is killed mid-call.
// The phone's leg comes back on its port (no request to the phone); the
// browser's WebRTC leg cannot (its DTLS session died with the process):
// once the browser has reconnected and registered again, it gets a
// re-INVITE with the relay's new WebRTC offer, answers it on a new peer
// connection, and the two talk again. The phone's BYE ends the call and
// reaches the browser over its new connection.
func TestBrowserSIPStackReinvitedAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	wsAddr := "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	t.Setenv(browserWSEnv, wsAddr)
	child := startRelayRestartChild(t, dir, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice := newBrowserPhone(t, ctx, wsAddr, "alice", "BROWSER")
	bob := newGoPhone(t, ctx, addr, "bob", "BOB")
	bob.register(ctx)
	alice.call(ctx, "1002")
	db := bob.waitInvite(ctx)
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	bob.rtp.Start()
	eventuallyTrue(t, "the phone hears the browser", func() bool { return rtpFlowing(bob.rtp, "BROWSER") })
	child.waitLegs(t, 2)
	child.kill(t)

	h := newRelayHarnessWith(t, dir, addr, nil, func(s *Settings) { s.WS = wsAddr })
	calls, err := h.eng.LegCalls(ctx, adapterName)
	if err != nil || len(calls) != 1 || calls[0].State != engine.Connected {
		t.Fatalf("calls with SIP dialogs after the restart: %+v, %v", calls, err)
	}
	id := calls[0].ID
	// The browser reconnects with a new peer connection for the offer
	// to come, and registers again.
	alice.newPeer(ctx, "BROWSER2")
	alice.register()
	var reinvite *sip.Request
	select {
	case reinvite = <-alice.invites:
	case <-ctx.Done():
		t.Fatal("the browser was not re-INVITEd after the restart")
	}
	if tag, _ := reinvite.To().Params.Get("tag"); tag == "" {
		t.Fatalf("a new INVITE, not a re-INVITE:\n%s", reinvite)
	}
	checkWebRTCSDP(t, "the re-INVITE after the restart", string(reinvite.Body()))
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	eventuallyTrue(t, "the phone hears the browser again", func() bool { return rtpFlowing(bob.rtp, "BROWSER2") })
	eventuallyTrue(t, "the browser hears the phone again", func() bool { return peerFlowing(alice.peer, "BOB") })
	select {
	case sdp := <-bob.reinvited:
		t.Fatalf("the phone was re-INVITEd:\n%s", sdp)
	default:
	}
	if res := bob.send(ctx, bob.inDialog(db, sip.BYE)); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	select {
	case <-alice.byes:
	case <-ctx.Done():
		t.Fatal("the browser got no BYE")
	}
	if c, err := h.eng.Call(ctx, id); err != nil || c.State != engine.Ended || c.Reason != events.Hangup {
		t.Fatalf("the call after the BYE: %+v, %v", c, err)
	}
}

// A client whose browser SIP stack and desk phone ring at once: each gets
// the relay's offer it can take — WebRTC to the browser, plain RTP to the
// phone, on two legs — and the leg of the one that answers is the
// callee's; the other leg is closed.
type ringTogether struct {
	h                 *relayHarness
	browser           *browserPhone
	desk, bob         *goPhone
	browserOffer      chan string
	releaseBrowser    chan struct{}
	deskOffer, callID string
}

// startRingTogether: bob calls alice, whose browser and desk phone ring;
// holdDesk makes the phone hold its 200 back (the browser answers first),
// else the browser holds its answer back (the phone answers first).
func startRingTogether(t *testing.T, ctx context.Context, holdDesk bool) (*ringTogether, *phoneDialog) {
	t.Helper()
	rt := &ringTogether{browserOffer: make(chan string, 1), releaseBrowser: make(chan struct{})}
	rt.h = newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) { s.WS = "127.0.0.1:0" })
	rt.browser = newBrowserPhone(t, ctx, rt.h.ad.Addr("ws"), "alice", "BROWSER")
	ps := relayPhones(t, ctx, rt.h, "alice", "bob")
	rt.desk, rt.bob = ps[0], ps[1]
	if holdDesk {
		rt.desk.mu.Lock()
		rt.desk.early = make(chan struct{}) // its 200 waits
		rt.desk.mu.Unlock()
		t.Cleanup(func() { close(rt.desk.early) })
	} else {
		peer := rt.browser.peer
		rt.browser.setAnswer(func(offer []byte) ([]byte, error) {
			rt.browserOffer <- string(offer)
			<-rt.releaseBrowser
			a, err := peer.Answer(ctx, string(offer))
			return []byte(a), err
		})
		t.Cleanup(func() { close(rt.releaseBrowser) })
	}
	d, _ := rt.bob.call(ctx, "1001")
	select {
	case rt.deskOffer = <-rt.desk.offered:
	case <-ctx.Done():
		t.Fatal("the desk phone was not called")
	}
	if media.IsWebRTCSDP(rt.deskOffer) || !strings.Contains(rt.deskOffer, "RTP/AVP") {
		t.Fatalf("the desk phone is offered:\n%s", rt.deskOffer)
	}
	calls, err := rt.h.eng.Calls(ctx, "bob")
	if err != nil || len(calls) != 1 {
		t.Fatalf("bob's calls: %+v, %v", calls, err)
	}
	rt.callID = calls[0].ID
	return rt, d
}

// The browser answers first: bob talks to it; the phones' leg is closed
// (the browser's took the callee's leg name).
func TestBrowserAndDeskPhoneRingBrowserAnswers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt, d := startRingTogether(t, ctx, true)
	var inv *sip.Request
	select {
	case inv = <-rt.browser.invites:
	case <-ctx.Done():
		t.Fatal("the browser was not called")
	}
	checkWebRTCSDP(t, "the browser's offer", string(inv.Body()))
	if err := rt.browser.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	rt.browser.peer.Start()
	eventuallyTrue(t, "bob hears the browser", func() bool { return rtpFlowing(rt.bob.rtp, "BROWSER") })
	eventuallyTrue(t, "the browser hears bob", func() bool { return peerFlowing(rt.browser.peer, "BOB") })
	if rt.h.relay.HasLeg(rt.callID+"/callee"+browserLegSuffix) || !rt.h.relay.HasLeg(rt.callID+"/callee") {
		t.Errorf("the relay's legs: the browser's not renamed to the callee's")
	}
	if res := rt.bob.send(ctx, rt.bob.inDialog(d, sip.BYE)); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	select {
	case <-rt.browser.byes:
	case <-ctx.Done():
		t.Fatal("the browser got no BYE")
	}
}

// The desk phone answers first: bob talks to it; the browser's leg is
// closed.
func TestBrowserAndDeskPhoneRingPhoneAnswers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt, d := startRingTogether(t, ctx, false)
	select {
	case o := <-rt.browserOffer:
		checkWebRTCSDP(t, "the browser's offer", o)
	case <-ctx.Done():
		t.Fatal("the browser was not called")
	}
	rt.desk.waitInvite(ctx)
	rt.desk.rtp.Start()
	eventuallyTrue(t, "bob hears alice's phone", func() bool { return rtpFlowing(rt.bob.rtp, "ALICE") })
	eventuallyTrue(t, "alice's phone hears bob", func() bool { return rtpFlowing(rt.desk.rtp, "BOB") })
	eventuallyTrue(t, "the browser's leg closed", func() bool { return !rt.h.relay.HasLeg(rt.callID + "/callee" + browserLegSuffix) })
	if res := rt.bob.send(ctx, rt.bob.inDialog(d, sip.BYE)); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	eventuallyTrue(t, "the relay's legs closed", func() bool { return rt.h.relay.Stats().Legs == 0 })
}
