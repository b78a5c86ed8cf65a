package sip

import (
	"strings"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
)

// Re-anchoring: a relayed phone keeps its relay leg (its port, its
// outgoing stream) whenever the engine changes the party it talks to, so
// it needs no re-INVITE and the RTP it receives goes on with the same
// SSRC and running sequence numbers (the relay rewrites them).
//
//   - A transfer (REFER, REFER with Replaces) places a new call: the kept
//     phone's leg is renamed to its side of the new call (media.RenameLeg;
//     legs are named "<call>/<side>" so that either adapter finds them),
//     and the new call's other side is anchored as any call's: a relay
//     offer to the target's phones (only SIP phones ring), the browser's
//     own leg, or, for an attended transfer, the target phone's leg moved
//     from the consultation call. The relay connects the two when the new
//     call is up; no re-INVITE goes to either phone.
//   - Park and unpark keep the call and its legs: the relay disconnects a
//     parked call (the parked phone hears no one) and connects it again to
//     whoever unparks it.
//   - A phone's re-INVITE that moves its RTP address or changes its codec
//     is applied to its leg (media.UpdateRTP); when the codec changed and
//     the other side is a relayed phone too, that phone is re-offered the
//     new codec on its leg (media.ReofferRTP), since nothing transcodes.

// moveRelay moves the relay leg of side from of call old to side to of
// call nc (a transfer: the phone goes on in nc) and reports whether there
// was one.
func (a *Adapter) moveRelay(old *call, from engine.Side, nc *call, to engine.Side) bool {
	m := a.set.Media
	if m == nil || old == nil || nc == nil {
		return false
	}
	old.mu.Lock()
	r := old.rtp[from]
	if r != nil {
		delete(old.rtp, from)
	}
	old.mu.Unlock()
	if r == nil {
		return false
	}
	rn, ok := m.(legRenamer)
	name := relayLegName(nc.id, to)
	if !ok || rn.RenameLeg(r.name, name) != nil {
		a.log.Info("cannot move a phone's relay leg to its new call", "call", nc.id, "leg", r.name)
		_ = m.CloseLeg(r.name)
		return false
	}
	nc.mu.Lock()
	nc.setRTP(to, name, r.sdp)
	nc.mu.Unlock()
	return true
}

// legRenamer is what re-anchoring needs of the relay beyond Media;
// *media.Relay has it.
type legRenamer interface {
	RenameLeg(old, name string) error
}

// relayUpdater applies a phone's re-INVITE to its leg; *media.Relay has
// it.
type relayUpdater interface {
	UpdateRTP(leg, offer string) (string, error)
	ReofferRTP(leg string, opt media.OfferOptions) (string, error)
}

var (
	_ legRenamer   = (*media.Relay)(nil)
	_ relayUpdater = (*media.Relay)(nil)
)

// offerTarget: the caller of a transfer's new call nc (engine call c) has
// a relay leg; when c rings only SIP phones of this adapter and phones are
// relayed, they are offered the relay's leg for c's callee at once (the
// caller's codec), so that no re-INVITE is needed when one answers.
func (a *Adapter) offerTarget(nc *call, c *engine.Call) {
	devices := a.sipDevices(c)
	if !a.relayPhones() || c.State != engine.Ringing || len(c.RingingDevices) == 0 || len(devices) != len(c.RingingDevices) {
		return
	}
	ctx, cancel := a.command("")
	defer cancel()
	if err := a.offerToCallee(ctx, nc, c.ID, devices, c.Callee.Client); err != nil {
		a.log.Info("the relay cannot offer a transferred call to phones", "call", c.ID, "err", err)
	}
}

// keptOnRelay is the hook of keptAnswered (refer.go): when both sides of
// the call are relay legs, the kept phone needs no re-INVITE (the relay
// connects it to the target's leg).
func (a *Adapter) keptOnRelay(cl *call) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.rtp[engine.Caller] != nil && cl.rtp[engine.Callee] != nil
}

// reanchorTarget is the hook of adoptTarget (replaces.go): the target
// phone t of an attended transfer goes on as the callee of call nc. Its
// relay leg moves from the consultation call; it reports whether both
// sides of nc are now on the relay (then neither phone is re-INVITEd: the
// relay connects them when the call is answered).
func (a *Adapter) reanchorTarget(nc *call, t *sipLeg) bool {
	var old *call
	switch {
	case t.fork != nil:
		old = t.fork.cl
	case t.in != nil:
		t.in.mu.Lock()
		id := t.in.callID
		t.in.mu.Unlock()
		a.mu.Lock()
		old = a.calls[id]
		a.mu.Unlock()
	}
	a.moveRelay(old, t.side, nc, engine.Callee)
	return a.keptOnRelay(nc)
}

// reanswer is the hook of onReInvite (reinvite.go) for a phone whose media
// is on the relay: the SDP its re-INVITE is answered from. An offer with
// the same RTP address and codec as before (a hold, a resume) is answered
// with what the phone has; a new address or codec is applied to its leg
// (UpdateRTP) and answered with the leg's new SDP, and a new codec is
// offered to the other side's relayed phone as well. For a phone not on
// the relay it is the SDP the phone has.
func (a *Adapter) reanswer(cl *call, l *sipLeg, offer []byte) []byte {
	name := cl.relayed(l.side)
	u, ok := a.set.Media.(relayUpdater)
	if name == "" || !ok {
		return l.sentSDP()
	}
	before := l.peerSDP()
	addr, was := sdpRTP(offer), sdpRTP(before)
	codec := firstCodec(offer)
	moved := addr != "" && !strings.HasPrefix(addr, "0.0.0.0:") && addr != was
	recoded := codec != "" && codec != firstCodec(before)
	if !moved && !recoded {
		return l.sentSDP()
	}
	answer, err := u.UpdateRTP(name, string(offer))
	if err != nil {
		a.log.Info("the relay cannot take a phone's new offer", "call", cl.id, "side", l.side, "err", err)
		return l.sentSDP()
	}
	if recoded {
		a.followCodec(cl, l.side.Other(), name)
	}
	return []byte(answer)
}

// relayReplaces is the hook of replacesInvite (invite_replaces.go): when
// the replaced phone's side is on the relay, the new phone takes its relay
// leg — the leg takes the new phone's offer (media.UpdateRTP: its address,
// its codec) and its answer is the relay's SDP; the other side is not
// asked (a new codec is offered to it when it is a relayed phone). Nil when
// the side is not on the relay or the relay cannot take the offer.
func (a *Adapter) relayReplaces(cl *call, old *sipLeg, offer []byte) []byte {
	name := cl.relayed(old.side)
	u, ok := a.set.Media.(relayUpdater)
	if name == "" || !ok {
		return nil
	}
	answer, err := u.UpdateRTP(name, string(offer))
	if err != nil {
		a.log.Info("the relay cannot take a replacing phone's offer", "call", cl.id, "err", err)
		return nil
	}
	if c := firstCodec(offer); c != "" && c != firstCodec(old.peerSDP()) {
		a.followCodec(cl, old.side.Other(), name)
	}
	return []byte(answer)
}

// followCodec re-offers the relayed phone of side s the codec of leg
// match (its peer changed codec), after the call's earlier re-INVITEs.
func (a *Adapter) followCodec(cl *call, s engine.Side, match string) {
	name := cl.relayed(s)
	u, ok := a.set.Media.(relayUpdater)
	if name == "" || !ok {
		return
	}
	a.serial(cl, func() {
		other := cl.leg(s)
		if other == nil {
			return
		}
		offer, err := u.ReofferRTP(name, media.OfferOptions{MatchLeg: match})
		if err != nil {
			a.log.Info("the relay cannot re-offer a phone", "call", cl.id, "side", s, "err", err)
			return
		}
		res, err := a.reinvite(other, other.stamp([]byte(offer)))
		switch {
		case err != nil:
			a.log.Info("cannot re-INVITE a phone to a new codec", "call", cl.id, "err", err)
		case res.StatusCode >= 300:
			a.log.Info("a phone refused a new codec", "call", cl.id, "status", res.StatusCode)
		case checkSDP(res.Body()) == nil:
			if err := a.set.Media.AcceptRTPAnswer(name, string(res.Body())); err != nil {
				a.log.Info("the relay refused a phone's answer to a new codec", "call", cl.id, "err", err)
			}
			other.gotSDP(res.Body())
		}
	})
}

// firstCodec is the rtpmap name (lower case) of the first format of an
// SDP's first m=audio line: "pcmu/8000"; static payload types 0 and 8 by
// their number.
func firstCodec(body []byte) string {
	var pt string
	for _, l := range sipsyntax.SDPLines(body) {
		if f := strings.Fields(l); len(f) > 3 && f[0] == "m=audio" {
			pt = f[3]
			break
		}
	}
	switch {
	case pt == "":
		return ""
	case pt == "0":
		return "pcmu/8000"
	case pt == "8":
		return "pcma/8000"
	}
	for _, l := range sipsyntax.SDPLines(body) {
		if rest, ok := strings.CutPrefix(l, "a=rtpmap:"+pt+" "); ok {
			return strings.ToLower(strings.TrimSpace(rest))
		}
	}
	return pt
}

// madeByRelay reports whether an SDP we sent a phone is the relay's (its
// o= line, which every later SDP to the phone keeps, is the relay's).
func madeByRelay(sent []byte) bool {
	return strings.HasPrefix(sipsyntax.OriginLine(sent), "o=callengine ")
}
