package sip

import (
	"context"
	"strings"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
)

// Media for a SIP phone whose call has no SIP phone on the other side: a
// browser (adapters/ws) or the echo test. The phone's RTP then ends on the
// relay (package media), in a plain RTP leg named as the WebSocket adapter
// names its legs, "<call>/caller" or "<call>/callee", so that whichever
// adapter carries the other side connects the two legs:
//
//   - a phone calls a browser (or the echo test): when the call rings a
//     device that is not a SIP phone, the phone's offer is answered by the
//     relay (AnswerRTP, leg "<call>/caller"); the browser is offered the
//     phone's codec (the WebSocket adapter's CreateOffer matches that leg);
//     when the browser answers, the phone's 200 carries the relay's answer.
//     A SIP phone of the callee that answers first keeps the pass-through:
//     the relay's leg is closed.
//   - a browser calls a phone: the browser's offer is answered with G.711
//     (the WebSocket adapter's PreferG711 when the callee rings SIP
//     phones); the phones get the relay's offer with the browser's codec
//     (OfferRTP matching "<call>/caller"); the answering phone's answer goes
//     to AcceptRTPAnswer.
//
// Between two SIP phones, without Settings.RelayPhones, the SDP is passed
// through (the phones send RTP to each other): no relay hop, no added
// latency; the engine's hold re-INVITEs the phones, but mute is not
// enforced there (docs/sip.md). With Settings.RelayPhones (callengine
// serve's default) both are done at once: when only SIP phones ring,
// the caller's offer is answered by the relay ("<call>/caller") and the
// phones get the relay's offer ("<call>/callee", the caller's codec); the
// answering phone's answer goes to AcceptRTPAnswer. Everything below then
// applies to both legs, as to one.
//
// On a relayed call the adapter applies the engine's state to its leg:
// connected to the other side's leg when up, held (nothing either way)
// when the call is held, muted when its side is. RFC 4733 digits from the
// phone are the engine's SendDigits; the engine's digits from the other
// side are played to the phone as RFC 4733 (INFO when the phone
// negotiated no telephone-event).

// Media is what the adapter needs of the relay; *media.Relay has it.
type Media interface {
	AnswerRTP(ctx context.Context, leg, offer string, ev media.LegEvents) (string, error)
	OfferRTP(ctx context.Context, leg string, opt media.OfferOptions, ev media.LegEvents) (string, error)
	AcceptRTPAnswer(leg, answer string) error
	AcceptRTPEarlyAnswer(leg, answer string) error
	Connect(a, b string) error
	SetHeld(leg string, held bool) error
	SetMuted(leg string, muted bool) error
	SendDTMF(leg, digits string) error
	CloseLeg(leg string) error
	HasLeg(leg string) bool
}

var _ Media = (*media.Relay)(nil)

// browsersOnly reports whether devices are all browser SIP stacks: they
// registered with the +sip.ice feature tag (RFC 5768), as JsSIP does. The
// relay offers them a WebRTC leg (ICE, DTLS-SRTP), which a desk phone
// cannot take, instead of plain RTP, which a browser cannot take
// (media/sip_webrtc.go). A phone over ws or wss without the tag is offered
// plain RTP.
func browsersOnly(devices []sipDevice) bool {
	for _, d := range devices {
		if !d.binding.ICE {
			return false
		}
	}
	return len(devices) > 0
}

// cannotPassThrough reports whether a ringing device cannot take the
// caller's offer as it is: a WebRTC offer to a desk phone, a plain one to
// a browser SIP stack.
func cannotPassThrough(offer []byte, devices []sipDevice) bool {
	if media.IsWebRTCSDP(string(offer)) {
		return !browsersOnly(devices)
	}
	return anyBrowser(devices)
}

// anyBrowser reports whether one of devices is a browser SIP stack.
func anyBrowser(devices []sipDevice) bool {
	for _, d := range devices {
		if d.binding.ICE {
			return true
		}
	}
	return false
}

// browserLegSuffix names, after the callee's leg name, the relay's WebRTC
// leg offered to browser SIP stacks that ring together with desk phones.
const browserLegSuffix = "#webrtc"

// offerForBrowser is the relay's WebRTC offer when fork f rings a browser
// SIP stack among desk phones, else nil.
func (cl *call) offerForBrowser(f *fork) []byte {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.browserOffer == nil || !f.target.ICE {
		return nil
	}
	return cl.browserOffer.sdp
}

// takeCalleeLeg: fork f answered first. When browsers and desk phones
// rang at once, the leg offered to f's kind stays (a browser's is renamed
// to the callee's leg name) and the other is closed. It returns the name
// of the callee's leg.
func (a *Adapter) takeCalleeLeg(cl *call, f *fork) string {
	cl.mu.Lock()
	b := cl.browserOffer
	cl.browserOffer = nil
	r := cl.rtp[engine.Callee]
	cl.mu.Unlock()
	if b == nil || r == nil {
		return cl.relayed(engine.Callee)
	}
	if !f.target.ICE {
		_ = a.set.Media.CloseLeg(b.name)
		return r.name
	}
	_ = a.set.Media.CloseLeg(r.name)
	if rn, ok := a.set.Media.(legRenamer); !ok || rn.RenameLeg(b.name, r.name) != nil {
		a.log.Info("cannot take the browser's relay leg", "call", cl.id, "leg", b.name)
		_ = a.set.Media.CloseLeg(b.name)
		return r.name
	}
	cl.mu.Lock()
	cl.setRTP(engine.Callee, r.name, b.sdp)
	cl.mu.Unlock()
	return r.name
}

// relayLegName is the relay's name of side s of call id, as adapters/ws
// names it.
func relayLegName(id string, s engine.Side) string { return id + "/" + s.String() }

// rtpEvents are the callbacks of the phone's relay leg: its RFC 4733
// digits become the engine's SendDigits by the phone's side.
func (a *Adapter) rtpEvents(id string, side engine.Side, client string) media.LegEvents {
	return media.LegEvents{
		DTMF: func(d rune) {
			_ = a.phoneDigit(id, side, client, d, 0) // a feature code's, or the engine's (feature_codes.go)
		},
	}
}

// relayPhones reports whether calls between two SIP phones go through the
// relay.
func (a *Adapter) relayPhones() bool { return a.set.Media != nil && a.set.RelayPhones }

// rtpLeg is the relay's leg of one SIP phone of a call: its name and the
// relay's SDP (the answer to the caller, or the offer to the callee's
// phones).
type rtpLeg struct {
	name string
	sdp  []byte
}

// setRTP records the relay's leg of side s. cl.mu is held.
func (cl *call) setRTP(s engine.Side, name string, sdp []byte) {
	if cl.rtp == nil {
		cl.rtp = map[engine.Side]*rtpLeg{}
	}
	cl.rtp[s] = &rtpLeg{name: name, sdp: sdp}
}

// anchorCaller answers a SIP caller's offer with the relay, once: the call
// rings a device that is not a SIP phone (or, with RelayPhones, only SIP
// phones). It reports whether the relay has the caller's leg.
func (a *Adapter) anchorCaller(cl *call, in *inLeg) bool {
	if a.set.Media == nil {
		return false
	}
	cl.mu.Lock()
	done := cl.rtp[engine.Caller] != nil
	cl.mu.Unlock()
	if done {
		return true
	}
	name := relayLegName(cl.id, engine.Caller)
	ctx, cancel := a.command("")
	defer cancel()
	answer, err := a.set.Media.AnswerRTP(ctx, name, string(in.offer), a.rtpEvents(cl.id, engine.Caller, in.client))
	if err != nil {
		a.log.Info("the relay cannot take the phone's offer", "call", cl.id, "err", err)
		return false
	}
	cl.mu.Lock()
	cl.setRTP(engine.Caller, name, []byte(answer))
	cl.mu.Unlock()
	return true
}

// offerToCallee makes the relay's offer to the callee's SIP devices of
// call id and keeps it on cl: plain RTP for desk phones (SRTP as
// Settings.SRTP says), WebRTC when only browser SIP stacks ring, and when
// both kinds ring, an offer of each kind on a leg of its own
// (cl.browserOffer; takeCalleeLeg keeps the answering one's).
func (a *Adapter) offerToCallee(ctx context.Context, cl *call, id string, devices []sipDevice, client string) error {
	name := relayLegName(id, engine.Callee)
	opt := media.OfferOptions{MatchLeg: relayLegName(id, engine.Caller), SRTP: a.set.SRTP.offersSRTP(devices), WebRTC: browsersOnly(devices)}
	ev := a.rtpEvents(id, engine.Callee, client)
	offer, err := a.set.Media.OfferRTP(ctx, name, opt, ev)
	if err != nil {
		return err
	}
	var browser string
	if !opt.WebRTC && anyBrowser(devices) {
		b, err := a.set.Media.OfferRTP(ctx, name+browserLegSuffix, media.OfferOptions{MatchLeg: opt.MatchLeg, WebRTC: true}, ev)
		if err != nil {
			a.log.Info("the relay cannot offer the call to browser SIP stacks", "call", id, "err", err)
		}
		browser = b
	}
	cl.mu.Lock()
	cl.setRTP(engine.Callee, name, []byte(offer))
	if browser != "" {
		cl.browserOffer = &rtpLeg{name: name + browserLegSuffix, sdp: []byte(browser)}
	}
	cl.mu.Unlock()
	return nil
}

// anchorCallee makes the relay's offer for the callee's phones (the
// caller is a browser, or a SIP phone with RelayPhones) off the event
// loop (the offer waits for the caller's leg and its codec), then rings
// the phones as the call is now.
func (a *Adapter) anchorCallee(cl *call) {
	cl.mu.Lock()
	if a.set.Media == nil || cl.rtp[engine.Callee] != nil || cl.rtpPending {
		cl.mu.Unlock()
		return
	}
	cl.rtpPending = true
	cl.mu.Unlock()
	a.wg.Go(func() {
		ctx, cancel := a.command("")
		defer cancel()
		var devices []sipDevice
		if c, err := a.eng.Call(ctx, cl.id); err == nil {
			devices = a.sipDevices(&c)
		}
		err := a.offerToCallee(ctx, cl, cl.id, devices, cl.calleeClient())
		cl.mu.Lock()
		cl.rtpPending = false
		cl.mu.Unlock()
		if err != nil {
			a.log.Info("the relay cannot offer the call to phones", "call", cl.id, "err", err)
			a.reject(cl, false)
			return
		}
		c, err := a.eng.Call(ctx, cl.id)
		if err != nil || c.State != engine.Ringing {
			a.dropRelay(cl)
			return
		}
		a.ringing(cl, &c)
	})
}

func (cl *call) calleeClient() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.callee
}

// relayed is the name of the call's relay leg on side s, "" for none.
func (cl *call) relayed(s engine.Side) string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if r := cl.rtp[s]; r != nil {
		return r.name
	}
	return ""
}

// dropRelay closes the call's relay legs (a SIP phone answered a phone
// whose offer the relay answered: the SDP is passed through; or the call
// ended).
func (a *Adapter) dropRelay(cl *call) {
	cl.mu.Lock()
	legs := make([]*rtpLeg, 0, 3)
	for _, r := range cl.rtp {
		legs = append(legs, r)
	}
	if b := cl.browserOffer; b != nil {
		legs = append(legs, b)
	}
	cl.rtp, cl.browserOffer = nil, nil
	cl.mu.Unlock()
	if a.set.Media == nil {
		return
	}
	for _, r := range legs {
		_ = a.set.Media.CloseLeg(r.name)
	}
}

// applyRelay brings the call's relay legs in line with the engine's call:
// held when the call is held, muted when its side is, the two sides' legs
// connected (when the relay has both, this adapter's or the other side's
// adapter's) once the call is up. The other side's adapter does the same
// from its side; with two relayed phones this adapter does both.
func (a *Adapter) applyRelay(cl *call, c *engine.Call) {
	m := a.set.Media
	if m == nil || !c.State.Live() {
		return
	}
	cl.mu.Lock()
	ours := len(cl.rtp) > 0
	cl.mu.Unlock()
	if !ours {
		return
	}
	held := c.State == engine.Held
	muted := map[engine.Side]bool{engine.Caller: c.MutedCaller, engine.Callee: c.MutedCallee}
	both := true
	for _, s := range []engine.Side{engine.Caller, engine.Callee} {
		name := relayLegName(c.ID, s)
		if !m.HasLeg(name) {
			both = false
			continue
		}
		_ = m.SetHeld(name, held)
		_ = m.SetMuted(name, muted[s])
		if hm, ok := m.(media.HoldMusician); ok {
			_ = hm.SetHoldMusic(name, c.HearsHoldMusic(s))
		}
	}
	if both && (c.State == engine.Connected || c.State == engine.Held) && c.ParkSlot == "" {
		_ = m.Connect(relayLegName(c.ID, engine.Caller), relayLegName(c.ID, engine.Callee))
	}
}

// relayDigits plays the engine's digits of the other side to a relayed
// phone as RFC 4733; false when the phone's leg cannot (no relay leg on
// that side, no telephone-event): INFO then.
func (a *Adapter) relayDigits(cl *call, to engine.Side, digits string) bool {
	name := cl.relayed(to)
	if name == "" || a.set.Media == nil {
		return false
	}
	d := strings.ReplaceAll(digits, ",", "")
	if d == "" {
		return true
	}
	return a.set.Media.SendDTMF(name, d) == nil
}
