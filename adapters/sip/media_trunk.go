package sip

import (
	"strings"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
)

// Trunk legs on the relay. A call out through a trunk is anchored like a
// call between two phones: the trunk is offered a relay leg ("<call>/callee",
// the caller's codec: MatchLeg "<call>/caller") and its answer goes to
// AcceptRTPAnswer.
//
//   - A browser (or anything that is not a SIP phone) calling a number
//     outside: its leg is the WebSocket adapter's "<call>/caller" (answered
//     with G.711, since nothing transcodes), the trunk gets the relay's
//     offer. Without a relay such a call fails, as before.
//   - A SIP phone calling out, with RelayPhones: the relay answers the
//     phone ("<call>/caller") and offers the trunk; the phone's 200 carries
//     the relay's answer (answerFor). Without RelayPhones, or when the
//     relay cannot take the phone's offer (a browser SIP stack's WebRTC
//     SDP), the SDP is passed through as before.
//
// A call in from a trunk is the trunk's inLeg: it is anchored as a phone's
// (toward a browser always, toward phones with RelayPhones).

// trunkOffer is the hook of trunkLeg.place (trunk_out.go): the offer the
// trunk gets and the call, or nil when the call cannot go out.
func (a *Adapter) trunkOffer(l *trunkLeg, c *engine.Call) ([]byte, *call) {
	offer, cl := l.callerOffer(c)
	m := a.set.Media
	if m == nil {
		return offer, cl
	}
	if cl != nil { // a SIP phone calls out, or a transferred SIP leg goes on
		cl.mu.Lock()
		in, kept := cl.in, cl.kept
		movedLeg := kept != nil && cl.rtp[engine.Caller] != nil
		cl.mu.Unlock()
		switch {
		case movedLeg:
			// The kept leg's relay leg is the caller's: the trunk is
			// offered the relay, in its codec.
		case !a.relayPhones() || in == nil || !a.anchorCaller(cl, in):
			return offer, cl
		}
	} else {
		if c == nil || c.CallerDevice == "" || strings.HasPrefix(c.CallerDevice, "sip-") {
			return nil, nil // no caller leg of any kind: nothing to carry
		}
		a.mu.Lock()
		cl = a.calls[l.id]
		if cl == nil {
			cl = &call{id: l.id, forks: map[string]*fork{}}
			a.calls[l.id] = cl
		}
		a.mu.Unlock()
	}
	name := relayLegName(l.id, engine.Callee)
	ctx, cancel := a.command("")
	defer cancel()
	o, err := m.OfferRTP(ctx, name, media.OfferOptions{MatchLeg: relayLegName(l.id, engine.Caller), SRTP: l.trunk.SRTP}, a.rtpEvents(l.id, engine.Callee, ""))
	if err != nil {
		a.log.Info("the relay cannot offer a call to the trunk", "call", l.id, "err", err)
		if offer == nil {
			return nil, nil
		}
		a.dropRelay(cl) // the phone's offer goes through as it is
		return offer, cl
	}
	cl.mu.Lock()
	cl.setRTP(engine.Callee, name, []byte(o))
	cl.mu.Unlock()
	return []byte(o), cl
}

// trunkEarlyMedia is the hook of trunkLeg.follow for a provisional
// response with a body (early media: the network's ringback, an
// announcement such as "the number you have called is not available").
// On the relay the SDP goes to the trunk's leg as an early answer
// (media.AcceptRTPEarlyAnswer: the 200's answer is still taken), the
// caller's leg (a browser's, a phone's) is connected to it, and a SIP
// caller gets 183 with the relay's answer, the one its 200 will carry.
// Passed through, a SIP caller gets 183 with the trunk's SDP. Either way
// once; an SDP we cannot read is ignored (the call goes on ringing).
func (a *Adapter) trunkEarlyMedia(l *trunkLeg, body []byte) {
	if checkSDP(body) != nil {
		return
	}
	l.mu.Lock()
	first := !l.early && l.state == legEarly
	l.early = true
	l.mu.Unlock()
	a.mu.Lock()
	cl := a.calls[l.id]
	a.mu.Unlock()
	if !first || cl == nil {
		return
	}
	callee, caller := cl.relayed(engine.Callee), cl.relayed(engine.Caller)
	cl.mu.Lock()
	in := cl.in
	var answer []byte
	if r := cl.rtp[engine.Caller]; r != nil {
		answer = r.sdp
	}
	cl.mu.Unlock()
	m := a.set.Media
	if callee == "" || m == nil { // passed through
		if in != nil {
			in.progress(body)
		}
		return
	}
	if err := m.AcceptRTPEarlyAnswer(callee, string(body)); err != nil {
		a.log.Info("the relay refused the trunk's early media", "call", l.id, "err", err)
		return
	}
	if caller == "" {
		caller = relayLegName(l.id, engine.Caller) // a browser's leg
	}
	if m.HasLeg(caller) {
		if err := m.Connect(caller, callee); err != nil {
			a.log.Info("early media: cannot connect the caller", "call", l.id, "err", err)
		}
	}
	if in != nil && answer != nil {
		in.progress(answer)
	}
}

// trunkAnswered is the hook of trunkLeg.answered (trunk_out.go): the
// trunk's answer goes to its relay leg, when it has one; false when the
// relay refuses it (the call then fails as for an SDP we cannot read).
func (a *Adapter) trunkAnswered(l *trunkLeg, body []byte) bool {
	a.mu.Lock()
	cl := a.calls[l.id]
	a.mu.Unlock()
	if cl == nil || a.set.Media == nil {
		return true
	}
	name := cl.relayed(engine.Callee)
	if name == "" {
		return true
	}
	if err := a.set.Media.AcceptRTPAnswer(name, string(body)); err != nil {
		a.log.Info("the relay refused the trunk's answer", "call", l.id, "err", err)
		return false
	}
	return true
}
