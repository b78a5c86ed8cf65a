package sip

import (
	"errors"

	"github.com/callengine/callengine/engine"

	"github.com/pion/sdp/v3"
)

// Media: SDP pass-through between two SIP legs. The caller's offer goes in
// the INVITE to the callee's devices; the answer of the device that
// answers goes in the 200 to the caller; RTP flows between the phones.
// When the other side is not a SIP phone (a browser, the echo test), or
// phones and trunks are relayed (Settings.RelayPhones), the relay's SDP
// (media.go, media_trunk.go) takes the other party's place. offerFor and
// answerFor are the one place that decides which SDP a leg gets.

// maxSDP bounds a session description we pass on.
const maxSDP = 16 << 10

var errBadSDP = errors.New("sip: malformed SDP")

// checkSDP parses an SDP body with pion/sdp and checks it has a
// connection and at least one media line. It never panics.
func checkSDP(body []byte) (err error) {
	if len(body) == 0 || len(body) > maxSDP {
		return errBadSDP
	}
	defer func() {
		if recover() != nil {
			err = errBadSDP
		}
	}()
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return errBadSDP
	}
	if len(s.MediaDescriptions) == 0 {
		return errBadSDP
	}
	if s.ConnectionInformation == nil {
		for _, m := range s.MediaDescriptions {
			if m.ConnectionInformation == nil {
				return errBadSDP
			}
		}
	}
	return nil
}

// offerFor is the SDP the callee's SIP devices are offered: the SIP
// caller's offer, or nil when the caller is not a SIP phone of this
// adapter (a browser, a trunk): without a relay such calls cannot reach a
// SIP device.
func offerFor(c *call) []byte {
	if r := c.rtp[engine.Callee]; r != nil {
		return r.sdp // the relay's offer (media.go)
	}
	if c.in == nil {
		if c.kept != nil { // a phone that goes on after a transfer (refer.go)
			return c.kept.peerSDP()
		}
		return nil
	}
	return c.in.offer
}

// answerFor is the SDP the SIP caller is answered with: the trunk's
// answer on a call out through a trunk (trunk_out.go), else the answering
// device's answer, or nil when no SIP device of this adapter answered.
func answerFor(c *call) []byte {
	if c.trunk != nil {
		if r := c.rtp[engine.Caller]; r != nil && c.rtp[engine.Callee] != nil {
			return r.sdp // both on the relay (media_trunk.go)
		}
		return c.trunk.answer()
	}
	if r := c.relayAnswer(); r != nil {
		return r // the relay's answer (media.go)
	}
	if c.winner == nil {
		return nil
	}
	return c.winner.answer
}

// relayAnswer is the relay's answer to the SIP caller when the caller
// gets it: no SIP device answered, or the answering phone has a relay leg
// too (Settings.RelayPhones); nil otherwise. c.mu is held.
func (c *call) relayAnswer() []byte {
	r := c.rtp[engine.Caller]
	if r == nil || (c.winner != nil && c.rtp[engine.Callee] == nil) {
		return nil
	}
	return r.sdp
}
