package ws

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/media"
)

// Media is the media relay as this package uses it: package media's Relay
// implements it. A leg is one side of a call carried by one browser.
type Media interface {
	AnswerOffer(ctx context.Context, leg, offer string, ev LegEvents) (answer string, err error)
	CreateOffer(ctx context.Context, leg string, opt OfferOptions, ev LegEvents) (offer string, err error)
	AcceptAnswer(leg, answer string) error
	AddICECandidate(leg string, c ICECandidate) error
	Connect(a, b string) error
	Disconnect(leg string) error
	Echo(leg string) error
	SetMuted(leg string, muted bool) error
	SetHeld(leg string, held bool) error
	SendDTMF(leg, digits string) error
	CloseLeg(leg string) error
	HasLeg(leg string) bool
}

// Conferencing is what a Media needs for a merged call to be heard by all
// three parties: *media.Relay implements it. Join puts legs in a conference
// where each hears every other (adding tracks to a leg takes a
// renegotiation: LegEvents.Renegotiate, then AcceptAnswer); Connect,
// Disconnect and CloseLeg take a leg out again. With a Media that lacks it,
// a conference is carried as its two calls: the host hears both parties,
// who hear only the host.
type Conferencing interface {
	Join(conf string, legs ...string) error
}

var _ Conferencing = (*media.Relay)(nil)

// G711Answerer is what a Media needs for a browser that calls a SIP phone
// to be heard: the browser's leg answered with G.711 (PCMU or PCMA) when
// its offer has it, since a phone's RTP leg speaks G.711 and the relay does
// not transcode. *media.Relay implements it.
type G711Answerer interface {
	AnswerOfferWith(ctx context.Context, leg, offer string, opt AnswerOptions, ev LegEvents) (answer string, err error)
}

var _ G711Answerer = (*media.Relay)(nil)

// StatsReporter is what a Media needs for call.stats: the figures of a
// leg. *media.Relay implements it.
type StatsReporter interface {
	LegStats(leg string) (media.LegStats, error)
}

var _ StatsReporter = (*media.Relay)(nil)

// sipKind is the engine's device kind of a SIP phone (adapters/sip): its
// adapter anchors the phone's RTP on the relay as a leg named as ours.
const sipKind = "sip"

// sipDevice reports whether device of client is a SIP phone.
func (h *Handler) sipDevice(ctx context.Context, client, device string) bool {
	if client == "" || device == "" {
		return false
	}
	cl, err := h.eng.Client(ctx, client)
	if err != nil {
		return false
	}
	for _, d := range cl.Devices {
		if d.ID == device {
			return d.Kind == sipKind
		}
	}
	return false
}

// ringsSIP reports whether a call rings a SIP phone of its callee.
func (h *Handler) ringsSIP(ctx context.Context, call *engine.Call) bool {
	for _, d := range call.RingingDevices {
		if h.sipDevice(ctx, call.Callee.Client, d) {
			return true
		}
	}
	return false
}

// legName is the relay's name of side s of call id: "<call_id>/caller" or
// "<call_id>/callee".
func legName(callID string, s events.Side) string { return callID + "/" + s.String() }

// forkedLegName is the leg of one device of several that an inbound call
// rings: "<call_id>/callee/<device>".
func forkedLegName(callID, device string) string { return callID + "/callee/" + device }

// legTable is the Handler's record of the legs its connections hold: for
// each call and side, the leg that carries it and the connection that owns
// it. A side carried by another adapter (a SIP phone, a trunk) is not in it.
type legTable struct {
	mu     sync.Mutex
	bySide map[string]string // "<call>/<side>" → leg
	owner  map[string]*conn  // leg → connection
}

func newLegTable() *legTable {
	return &legTable{bySide: map[string]string{}, owner: map[string]*conn{}}
}

func (t *legTable) bind(callID string, s events.Side, leg string, c *conn) {
	t.mu.Lock()
	t.bySide[legName(callID, s)] = leg
	t.owner[leg] = c
	t.mu.Unlock()
}

func (t *legTable) side(callID string, s events.Side) (string, *conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	leg, ok := t.bySide[legName(callID, s)]
	if !ok {
		return "", nil
	}
	return leg, t.owner[leg]
}

// unbindCall forgets the sides of a call that ended.
func (t *legTable) unbindCall(callID string) {
	t.mu.Lock()
	delete(t.bySide, legName(callID, events.Caller))
	delete(t.bySide, legName(callID, events.Callee))
	t.mu.Unlock()
}

// drop forgets a leg that closed.
func (t *legTable) drop(leg string) {
	t.mu.Lock()
	delete(t.owner, leg)
	for k, v := range t.bySide {
		if v == leg {
			delete(t.bySide, k)
		}
	}
	t.mu.Unlock()
}

// sideLeg returns the leg that carries side s of call c and whether a
// connection of this Handler owns it. A side carried elsewhere is found by
// the relay's naming: the leg of the call the side started in
// (Call.CallerLeg/CalleeLeg after a transfer), else of c itself.
func (h *Handler) sideLeg(c *engine.Call, s events.Side) (leg string, ours bool) {
	if l, owner := h.legs.side(c.ID, s); l != "" {
		return l, owner != nil
	}
	base := c.ID
	if s == events.Caller && c.CallerLeg != "" {
		base = c.CallerLeg
	} else if s == events.Callee && c.CalleeLeg != "" {
		base = c.CalleeLeg
	}
	for _, cand := range []string{legName(base, s), legName(base, s.Other())} {
		if h.media.HasLeg(cand) {
			if _, owner := h.legs.side(c.ID, s.Other()); cand == legName(base, s.Other()) && owner != nil {
				continue
			}
			return cand, false
		}
	}
	return legName(c.ID, s), false
}

// nopMedia is the relay of a Handler without media: signalling only.
type nopMedia struct{}

func (nopMedia) AnswerOffer(context.Context, string, string, LegEvents) (string, error) {
	return "", nil
}
func (nopMedia) CreateOffer(context.Context, string, OfferOptions, LegEvents) (string, error) {
	return "", nil
}
func (nopMedia) AcceptAnswer(string, string) error          { return nil }
func (nopMedia) AddICECandidate(string, ICECandidate) error { return nil }
func (nopMedia) Connect(string, string) error               { return nil }
func (nopMedia) Disconnect(string) error                    { return nil }
func (nopMedia) Echo(string) error                          { return nil }
func (nopMedia) SetMuted(string, bool) error                { return nil }
func (nopMedia) SetHeld(string, bool) error                 { return nil }
func (nopMedia) SendDTMF(string, string) error              { return nil }
func (nopMedia) CloseLeg(string) error                      { return nil }
func (nopMedia) HasLeg(string) bool                         { return false }

// legEvents are the relay's callbacks for leg name of call callID: the
// candidates go to the browser; DTMF read on the leg becomes the engine's
// SendDigits on the side the leg carries (the relay does not forward tones
// itself: the CallDigits event plays them on the other leg).
func (c *conn) legEvents(callID string) LegEvents {
	return LegEvents{
		Candidate: func(cand ICECandidate) {
			cs := cand.Candidate
			c.send(Message{Type: MsgICECandidate, CallID: callID, Candidate: &cs, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex})
		},
		GatheringDone: func() { c.send(Message{Type: MsgICEDone, CallID: callID}) },
		Renegotiate: func(offer string) {
			// The relay added tracks to the leg (a conference): the browser
			// answers on the peer connection it has, with sdp.answer.
			c.send(Message{Type: MsgSDPOffer, CallID: callID, SDP: offer})
		},
		DTMF: func(digit rune) {
			c.post(func() {
				l := c.legs[callID]
				if l == nil {
					return
				}
				ctx, cancel := c.cmdCtx()
				defer cancel()
				if _, err := c.h.eng.SendDigits(ctx, l.call, l.side, string(digit), engine.ToneOptions{}); err != nil {
					c.log.Debug("ws: in-band DTMF refused", "call", l.call, "err", err)
				}
			})
		},
	}
}

// create places a call with the browser's offer: the call first (its id
// names the leg), then the relay's answer. A relay that refuses the offer
// hangs the call up.
func (c *conn) create(ctx context.Context, r *Request) error {
	call, err := c.h.eng.Dial(ctx, engine.DialRequest{From: c.client, Device: c.device, To: r.Destination, CallerID: r.CallerID})
	if err != nil {
		return err
	}
	c.created[call.ID] = true
	c.send(Message{Type: MsgCallTrying, ReqID: r.ReqID, ID: eventID(c.dialSeq(call.ID)), CallID: call.ID, To: call.Callee.Number})
	name := legName(call.ID, events.Caller)
	l := &leg{name: name, call: call.ID, side: events.Caller}
	c.legs[call.ID] = l
	c.h.legs.bind(call.ID, events.Caller, name, c)
	var answer string
	if g, ok := c.h.media.(G711Answerer); ok && (c.h.set.PreferG711 || c.h.ringsSIP(ctx, &call) || call.Callee.Client == "" && call.Group == "") {
		// A SIP phone rings, or a number outside (a SIP trunk): its RTP
		// leg will speak G.711. Settings.PreferG711: every call.
		answer, err = g.AnswerOfferWith(ctx, name, r.SDP, AnswerOptions{PreferG711: true}, c.legEvents(call.ID))
	} else {
		answer, err = c.h.media.AnswerOffer(ctx, name, r.SDP, c.legEvents(call.ID))
	}
	if err != nil {
		_, _ = c.h.eng.Hangup(ctx, call.ID, events.Caller)
		return mediaErr(err)
	}
	c.send(Message{Type: MsgSDPAnswer, CallID: call.ID, SDP: answer})
	return nil
}

// dialSeq is the Seq of the call's CallDialed: the id of call.trying. The
// event is in the subscription already (published before Dial returned);
// it is read when the loop comes back to it.
func (c *conn) dialSeq(callID string) uint64 {
	if c.sub == nil {
		return 0
	}
	// Look ahead without losing events: drain what is queued, keep it in
	// order in pending, and process pending first afterwards.
	for {
		select {
		case ev, ok := <-c.sub.Events():
			if !ok {
				return 0
			}
			c.pending = append(c.pending, ev)
			if ev.Type == events.TypeCallDialed && ev.CallID() == callID {
				return ev.Seq
			}
		default:
			return 0
		}
	}
}

// answer answers a call that rings this device with the browser's answer
// to the relay's offer.
func (c *conn) answer(ctx context.Context, r *Request) error {
	name := c.ringing[r.CallID]
	if name == "" {
		return errcode.Newf(errcode.NotFound, "call %s does not ring this device", r.CallID)
	}
	if err := c.h.media.AcceptAnswer(name, r.SDP); err != nil {
		return mediaErr(err)
	}
	c.h.legs.bind(r.CallID, events.Callee, name, c)
	c.legs[r.CallID] = &leg{name: name, call: r.CallID, side: events.Callee}
	delete(c.ringing, r.CallID)
	if _, err := c.h.eng.Answer(ctx, r.CallID, c.answerDevice(ctx, r.CallID)); err != nil {
		c.ringing[r.CallID] = name
		delete(c.legs, r.CallID)
		return err
	}
	c.send(ack(r))
	return nil
}

// reoffer re-anchors a call's media after a reconnect: a fresh leg for the
// client's side answers the browser's new offer and is connected again.
func (c *conn) reoffer(ctx context.Context, r *Request) error {
	side, err := c.mySide(ctx, r.CallID)
	if err != nil {
		return err
	}
	call, err := c.h.eng.Call(ctx, r.CallID)
	if err != nil {
		return err
	}
	if !call.State.Live() {
		return errcode.Newf(errcode.InvalidState, "call %s has ended", r.CallID)
	}
	name := legName(r.CallID, side)
	if old, _ := c.h.legs.side(r.CallID, side); old != "" {
		name = old
	}
	if c.h.media.HasLeg(name) {
		_ = c.h.media.CloseLeg(name)
	}
	c.h.legs.bind(r.CallID, side, name, c)
	c.legs[r.CallID] = &leg{name: name, call: r.CallID, side: side}
	answer, err := c.h.media.AnswerOffer(ctx, name, r.SDP, c.legEvents(r.CallID))
	if err != nil {
		return mediaErr(err)
	}
	c.send(Message{Type: MsgSDPAnswer, ReqID: r.ReqID, CallID: r.CallID, SDP: answer})
	c.applyMedia(&call)
	return nil
}

// offerIncoming offers a call that rings this device: the relay's offer on
// the device's leg goes out in call.incoming.
func (c *conn) offerIncoming(ctx context.Context, call *engine.Call, seq uint64) {
	name := legName(call.ID, events.Callee)
	if len(call.RingingDevices) > 1 {
		name = forkedLegName(call.ID, c.device)
	}
	match, _ := c.h.sideLeg(call, events.Caller)
	if !c.h.media.HasLeg(match) && !c.h.hasDevice(call.CallerDevice) && !c.h.sipDevice(ctx, call.Caller.Client, call.CallerDevice) {
		// No leg for the caller, and none coming (its call.create answers
		// the offer after the engine placed the call, so a caller on this
		// handler's connections may still be setting it up, and a SIP
		// phone's adapter makes its RTP leg as the call rings — the relay
		// waits for it): offer every codec.
		match = ""
	}
	offer, err := c.h.media.CreateOffer(ctx, name, OfferOptions{MatchLeg: match}, c.legEvents(call.ID))
	if err != nil {
		c.log.Warn("ws: no offer for an incoming call", "call", call.ID, "err", err)
		return
	}
	c.ringing[call.ID] = name
	c.h.legs.mu.Lock()
	c.h.legs.owner[name] = c
	c.h.legs.mu.Unlock()
	direction := "internal"
	if call.Direction == events.Inbound {
		direction = "inbound"
	}
	c.send(Message{Type: MsgCallIncoming, ID: eventID(seq), CallID: call.ID, From: call.Caller.Number,
		FromName: call.Caller.Name, To: call.Callee.Number, Direction: direction, SDP: offer})
}

// offerMedia sends an sdp.offer for a call the engine put this device on
// (a consultation call, an unparked call, a transfer without a leg).
func (c *conn) offerMedia(ctx context.Context, call *engine.Call, side events.Side) {
	name := legName(call.ID, side)
	match, _ := c.h.sideLeg(call, side.Other())
	if !c.h.media.HasLeg(match) {
		match = ""
	}
	offer, err := c.h.media.CreateOffer(ctx, name, OfferOptions{MatchLeg: match}, c.legEvents(call.ID))
	if err != nil {
		c.log.Warn("ws: no offer", "call", call.ID, "err", err)
		return
	}
	c.h.legs.bind(call.ID, side, name, c)
	c.legs[call.ID] = &leg{name: name, call: call.ID, side: side}
	c.send(Message{Type: MsgSDPOffer, CallID: call.ID, SDP: offer})
}

// connectIfAnswered connects a call's legs after an sdp.answer when the
// call is up already.
func (c *conn) connectIfAnswered(ctx context.Context, callID string) {
	call, err := c.h.eng.Call(ctx, callID)
	if err == nil {
		c.applyMedia(&call)
	}
}

// applyMedia brings the relay in line with the call: connected legs when
// it is up, held legs when it is held, muted legs for muted sides. A
// connection acts on its own leg, and on the other side's when no
// connection of this Handler carries that one (a SIP party); whichever
// connection applies it last connects the two legs. A call in a conference
// is applied as the whole conference (applyConference).
func (c *conn) applyMedia(call *engine.Call) {
	mine := c.legs[call.ID]
	if call.Conference != "" {
		ctx, cancel := c.cmdCtx()
		defer cancel()
		c.h.applyConference(ctx, call.ID)
		return
	}
	if mine == nil || !call.State.Live() {
		return
	}
	m := c.h.media
	other, otherOurs := c.h.sideLeg(call, mine.side.Other())
	legs := []string{mine.name}
	if !otherOurs && m.HasLeg(other) {
		legs = append(legs, other)
	}
	held := call.State == engine.Held
	hm, music := m.(media.HoldMusician)
	for i, l := range legs {
		_ = m.SetHeld(l, held)
		if music {
			side := mine.side
			if i == 1 {
				side = side.Other()
			}
			_ = hm.SetHoldMusic(l, call.HearsHoldMusic(side))
		}
	}
	muted := map[events.Side]bool{events.Caller: call.MutedCaller, events.Callee: call.MutedCallee}
	_ = m.SetMuted(mine.name, muted[mine.side])
	if len(legs) == 2 {
		_ = m.SetMuted(other, muted[mine.side.Other()])
	}
	up := call.State == engine.Connected || call.State == engine.Held
	// Whichever side brings its leg in line last connects the two: after a
	// reconnect the side that re-offers last has the new leg (Connect is
	// safe to repeat).
	if up && call.ParkSlot == "" && m.HasLeg(other) {
		a, b := mine.name, other
		if mine.side == events.Callee {
			a, b = other, mine.name
		}
		_ = m.Connect(a, b)
	}
}

// hasDevice reports whether device is one of this handler's connections.
func (h *Handler) hasDevice(device string) bool {
	if device == "" {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.device == device {
			return true
		}
	}
	return false
}

// conferenceMu orders the conference media of every Handler: each applies
// the engine's current state of a conference, one at a time, so that the
// last one to run leaves the relay as the engine is.
var conferenceMu sync.Mutex

// applyConference brings the relay in line with the conference of call id
// (the engine's Merge: two calls of the host, each with one other party),
// from the engine's state now, whichever connection's event brings it here.
//
// Both calls up: the three parties' legs join one relay conference named
// after the engine's: the host's leg on the older call, and each other
// party's leg. The host's leg on the newer call is disconnected: the host
// speaks and hears through one leg. Each of the three then hears the two
// others as tracks of its own leg; legs that need a new track get an
// sdp.offer (Renegotiate). The host is muted when its side is muted on
// either call, each other party by the mute of its side of its call. One
// call left (the other ended): that call's two legs are paired again, as
// any call.
func (h *Handler) applyConference(ctx context.Context, id string) {
	conferenceMu.Lock()
	defer conferenceMu.Unlock()
	first, err := h.eng.Call(ctx, id)
	if err != nil || first.Conference == "" {
		return
	}
	var calls []engine.Call
	if first.State.Live() {
		calls = append(calls, first)
	}
	if first.Peer != "" {
		// The peer call is in the conference once its own join is in.
		if peer, err := h.eng.Call(ctx, first.Peer); err == nil && peer.State.Live() && peer.Conference == first.Conference {
			calls = append(calls, peer)
		}
	}
	switch len(calls) {
	case 0:
		return
	case 1:
		h.pairMedia(&calls[0])
		return
	}
	slices.SortFunc(calls, func(a, b engine.Call) int {
		if c := a.SetupAt.Compare(b.SetupAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	host := ""
	for _, p := range []engine.Party{calls[0].Caller, calls[0].Callee} {
		if p.Client != "" && calls[1].SideOf(p.Client) != 0 {
			host = p.Client
		}
	}
	cf, ok := h.media.(Conferencing)
	if host == "" || !ok {
		for i := range calls {
			h.pairMedia(&calls[i])
		}
		return
	}
	m := h.media
	var members, hostLegs []string
	hostMuted := false
	for i := range calls {
		c := &calls[i]
		hs := c.SideOf(host)
		hostLeg, _ := h.sideLeg(c, hs)
		guestLeg, _ := h.sideLeg(c, hs.Other())
		hostMuted = hostMuted || sideMuted(c, hs)
		if m.HasLeg(hostLeg) {
			_ = m.SetHeld(hostLeg, false)
			hostLegs = append(hostLegs, hostLeg)
			if i == 0 {
				members = append(members, hostLeg)
			}
		}
		if m.HasLeg(guestLeg) {
			_ = m.SetHeld(guestLeg, false)
			_ = m.SetMuted(guestLeg, sideMuted(c, hs.Other()))
			members = append(members, guestLeg)
		}
	}
	for _, l := range hostLegs {
		_ = m.SetMuted(l, hostMuted)
	}
	if len(members) < 2 {
		return // the legs are still being set up: their answers come back here
	}
	if err := cf.Join(calls[0].Conference, members...); err != nil {
		h.set.Logger.Warn("ws: conference media: each call carried on its own", "conference", calls[0].Conference, "err", err)
		for i := range calls {
			h.pairMedia(&calls[i])
		}
		return
	}
	for _, l := range hostLegs {
		if !slices.Contains(members, l) {
			_ = m.Disconnect(l)
		}
	}
}

func sideMuted(c *engine.Call, s events.Side) bool {
	if s == events.Caller {
		return c.MutedCaller
	}
	return c.MutedCallee
}

// pairMedia is applyMedia for a call of a conference, from any connection:
// both legs, whoever carries them, held, muted and connected as the call
// is.
func (h *Handler) pairMedia(call *engine.Call) {
	m := h.media
	a, _ := h.sideLeg(call, events.Caller)
	b, _ := h.sideLeg(call, events.Callee)
	held := call.State == engine.Held
	hm, music := m.(media.HoldMusician)
	for _, x := range []struct {
		leg   string
		side  events.Side
		muted bool
	}{{a, events.Caller, call.MutedCaller}, {b, events.Callee, call.MutedCallee}} {
		if m.HasLeg(x.leg) {
			_ = m.SetHeld(x.leg, held)
			_ = m.SetMuted(x.leg, x.muted)
			if music {
				_ = hm.SetHoldMusic(x.leg, call.HearsHoldMusic(x.side))
			}
		}
	}
	up := call.State == engine.Connected || call.State == engine.Held
	if up && call.ParkSlot == "" && m.HasLeg(a) && m.HasLeg(b) {
		_ = m.Connect(a, b)
	}
}
