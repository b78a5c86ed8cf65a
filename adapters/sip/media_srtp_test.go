package sip

import (
	"context"
	"strings"
	"testing"

	"github.com/callengine/callengine/engine"
)

// SDES-SRTP (RFC 4568) with a real softphone: baresip and its srtp module
// (libre's own SRTP, not pion's), mediaenc=srtp-mand — it offers RTP/SAVP
// only and refuses plain RTP. alice calls bob through the relay:
//
//   - phone_offers: alice's phone encrypts; the relay answers its offer
//     with SRTP and offers bob's plain phone plain RTP;
//   - relay_offers: with Settings.SRTP SRTPAlways the relay offers SRTP to phones:
//     bob's phone encrypts, alice's does not.
//
// Both ways the call connects and each phone takes the relay's RTP
// (CALL_RTPESTAB); the encrypted phone's relay leg says SDES with its suite
// and no packet failing authentication while its packets come in; an RFC
// 4733 digit crosses each way (decrypted by the relay from the one phone,
// by the phone from the relay).
func TestBaresipSRTPThroughRelay(t *testing.T) {
	for _, tc := range []struct {
		name          string
		offerSRTP     SRTPMode
		alice, bob    string // mediaenc
		secure, plain engine.Side
	}{
		{"phone_offers", SRTPOff, "srtp-mand", "", engine.Caller, engine.Callee},
		{"relay_offers", SRTPAlways, "", "srtp-mand", engine.Callee, engine.Caller},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rh := newRelayHarnessWith(t, t.TempDir(), "", nil, func(s *Settings) { s.SRTP = tc.offerSRTP })
			h := &harness{t: t, eng: rh.eng, ad: rh.ad}
			var err error
			if h.sub, err = rh.eng.Subscribe(context.Background(), engine.Filter{}); err != nil {
				t.Fatal(err)
			}
			wav := toneWAV(t)
			alice := h.registered(wav, baresipOptions{MediaEnc: tc.alice}, "alice")[0]
			bob := h.registered(wav, baresipOptions{MediaEnc: tc.bob}, "bob")[0]
			call := h.connected(alice, bob, "1002")
			secureLeg, plainLeg := relayLegName(call.ID, tc.secure), relayLegName(call.ID, tc.plain)
			eventuallyTrue(t, "the encrypted phone's packets come in, authenticated", func() bool {
				s, err := rh.relay.LegStats(secureLeg)
				return err == nil && s.PacketsIn > 50
			})
			s, _ := rh.relay.LegStats(secureLeg)
			p, _ := rh.relay.LegStats(plainLeg)
			if !strings.HasPrefix(s.Encryption, "sdes AES_CM_128_HMAC_SHA1_") || s.SRTPFailures != 0 || p.Encryption != "" {
				t.Fatalf("relay legs: encrypted phone's %+v, plain phone's %+v", s, p)
			}
			if p.PacketsIn < 25 {
				t.Errorf("the plain phone's leg took %d packets", p.PacketsIn)
			}
			m := alice.mark()
			bob.do("sndcode", "7")
			alice.waitEventAfter(m, "CALL_DTMF_START", "7")
			m = bob.mark()
			alice.do("sndcode", "3")
			bob.waitEventAfter(m, "CALL_DTMF_START", "3")
			if s, _ := rh.relay.LegStats(secureLeg); s.SRTPFailures != 0 {
				t.Errorf("%d packets of the encrypted phone failed authentication", s.SRTPFailures)
			}
			alice.do("hangup", "")
			bob.waitEvent("CALL_CLOSED", "")
		})
	}
}
