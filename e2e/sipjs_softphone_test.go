package e2e

import (
	"fmt"

	"strings"
	"testing"
)

// A browser SIP stack and the softphone page: JsSIP (alice, over sip.ws)
// calls bob, whose page speaks the WebSocket protocol. Both are WebRTC,
// each ending on serve's relay (JsSIP's leg in G.711, the page offered
// the same codec: JsSIP's INVITE names its binding with ";ob", RFC 5626),
// which carries the audio between them. bob answers on the page; audio
// flows both ways. alice holds from JsSIP (a re-INVITE
// with a=sendonly): bob's page shows the call held by the other side and
// its audio stops; alice resumes and it flows again. alice sends a digit
// as RFC 4733 in her RTP (RTCDTMFSender): bob's page shows it from the
// other side. bob hangs up on the page and JsSIP's session ends by the
// remote.
func TestJsSIPCallsSoftphone(t *testing.T) {
	s, wsURL := startSIPServer(t)
	alice := registeredJsSIP(t, sipjsPage(t), wsURL, "alice")
	bob := s.open("bob")

	alice.run(fmt.Sprintf(`phone.call(%q)`, "sip:"+extensions["bob"]+"@callengine"))
	in := bob.waitCall("ringing in", func(c callView) bool { return c.State == "ringing" && c.Side == "callee" })
	id := in.CallID
	bob.click(btn(id, "answer"))
	bob.waitCall("connected", func(c callView) bool { return c.CallID == id && connected(c) })
	alice.waitJS("confirmed", `phone.state().session === 'confirmed'`)
	if sdp := alice.remoteSDP(); !strings.Contains(sdp, "UDP/TLS/RTP/SAVPF") || !strings.Contains(sdp, "PCMU/8000") {
		t.Fatalf("the relay's answer to JsSIP:\n%s", sdp)
	}
	bob.audioFlows(id)
	// Both legs on the relay speak PCMU: the page was offered the codec
	// of JsSIP's leg (nothing transcodes Opus).
	legs, err := eval[[]struct{ Side, Codec string }](bob, fmt.Sprintf(`softphone.serverStats(%q)`, id))
	if err != nil || len(legs) != 2 {
		t.Fatalf("the call's legs on the relay: %+v, %v", legs, err)
	}
	for _, l := range legs {
		if l.Codec != "audio/pcmu/8000" {
			t.Fatalf("the %s's leg speaks %s, not PCMU: %+v", l.Side, l.Codec, legs)
		}
	}
	alice.audioFlows()

	alice.run(`phone.session.hold()`)
	bob.waitCall("held by remote", func(c callView) bool { return c.CallID == id && c.State == "held" && c.HeldBy == "remote" })
	bob.audioStops(id)
	alice.run(`phone.session.unhold()`)
	bob.waitCall("resumed", func(c callView) bool { return c.CallID == id && c.State == "active" && c.HeldBy == "" })
	bob.audioFlows(id)
	alice.audioFlows()

	alice.run(`phone.session.sendDTMF('7', {transportType: 'RFC2833', duration: 160})`)
	bob.waitCall("DTMF 7 from remote", func(c callView) bool {
		for _, d := range c.DTMF {
			if d.From == "remote" && strings.Contains(d.Digits, "7") {
				return c.CallID == id
			}
		}
		return false
	})

	bob.click(btn(id, "hangup"))
	bob.waitCall("ended", func(c callView) bool { return c.CallID == id && c.State == "ended" && c.Reason == "hangup" })
	alice.waitJS("ended by bob", `phone.state().session === 'ended' && phone.state().end_originator === 'remote'`)
}
