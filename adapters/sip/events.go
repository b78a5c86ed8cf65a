package sip

import (
	"slices"
	"sync"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// The engine's call events, read in order on one goroutine, become SIP
// messages: 180 and the final response to a SIP caller's INVITE, INVITEs
// to the callee's SIP devices, CANCEL and BYE. Commands the adapter sends
// back (Answer, Reject, Hangup) run on other goroutines: the loop never
// waits for the engine.

var followedEvents = []events.Type{
	events.TypeCallDialed, events.TypeCallRinging, events.TypeCallIgnored,
	events.TypeCallAnswered, events.TypeCallEnded,
	events.TypeCallHeld, events.TypeCallResumed, events.TypeCallDigits,
	events.TypeCallMuted, events.TypeCallUnmuted,
	events.TypeMessageSent,
	events.TypeCallParked, events.TypeCallUnparked, // media_park.go
}

// call is the SIP side of one engine call: the caller's leg when the
// caller is a SIP phone, and one fork per SIP device of the callee that
// rings.
type call struct {
	id string

	mu       sync.Mutex
	in       *inLeg           // nil when the caller is not a SIP phone
	trunk    *trunkLeg        // the call's leg out through a trunk (trunk_out.go)
	forks    map[string]*fork // by device id
	winner   *fork            // the fork whose device answered
	callee   string           // the callee client
	ended    bool
	onlySIP  bool // every device that rings is one of our forks
	rejected bool // all forks failed and we told the engine

	kept    *sipLeg              // a phone that goes on in this call after a transfer (refer.go)
	adopted *sipLeg              // the target's phone after an attended transfer, callee side (replaces.go)
	sipHold map[engine.Side]bool // the holds the phones know of (reinvite.go)
	queue   []func()             // outgoing re-INVITEs and INFOs, in order (serial)
	running bool

	// The relay's legs of the call's SIP phones (media.go), by side: one
	// when the other side is not a SIP phone, two for two phones with
	// Settings.RelayPhones.
	rtp        map[engine.Side]*rtpLeg
	rtpPending bool // the relay's offer is being made
	// browserOffer: when the callee's ringing devices mix browser SIP
	// stacks and desk phones, the relay's WebRTC offer to the browsers
	// (rtp[Callee] is the phones' plain RTP one); the leg of whichever
	// answers becomes the callee's (media.go, takeCalleeLeg).
	browserOffer *rtpLeg
}

// dialogRef names the leg a dialog belongs to.
type dialogRef struct {
	call  string
	in    *inLeg
	fork  *fork
	trunk *trunkLeg
	kept  *sipLeg
}

// follow reads the engine's events until the adapter stops.
func (a *Adapter) follow(sub *engine.Subscription) {
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				if a.ctx.Err() != nil {
					return
				}
				a.log.Warn("event subscription ended; following again", "err", sub.Err())
				var err error
				if sub, err = a.eng.Subscribe(a.ctx, engine.Filter{Types: followedEvents}); err != nil {
					a.log.Error("cannot follow the engine's events", "err", err)
					return
				}
				continue
			}
			a.dispatch(ev)
		case id := <-a.kick:
			a.drainEarly(id)
		case <-a.ctx.Done():
			sub.Close()
			return
		}
	}
}

// dispatch hands an event to its call. While a SIP caller's Dial has not
// returned, events of calls the adapter does not know yet wait: they may
// be that Dial's.
func (a *Adapter) dispatch(ev engine.Event) {
	if ev.Message != nil {
		a.messageSent(ev)
		return
	}
	c := ev.Call
	if c == nil {
		return
	}
	a.mu.Lock()
	cl := a.calls[c.ID]
	if cl == nil && a.dialing > 0 {
		if len(a.early[c.ID]) < 64 {
			a.early[c.ID] = append(a.early[c.ID], ev)
		}
		a.mu.Unlock()
		return
	}
	pending := a.early[c.ID]
	delete(a.early, c.ID)
	a.mu.Unlock()
	for _, p := range pending {
		a.handle(p)
	}
	a.handle(ev)
}

// drainEarly handles the waiting events of call id once its Dial returned
// (or of every call, when no Dial is in flight any more).
func (a *Adapter) drainEarly(id string) {
	a.mu.Lock()
	var ids []string
	if a.dialing == 0 {
		for k := range a.early {
			ids = append(ids, k)
		}
		slices.Sort(ids)
	} else if _, ok := a.calls[id]; ok && a.early[id] != nil {
		ids = []string{id}
	}
	var evs [][]engine.Event
	for _, k := range ids {
		evs = append(evs, a.early[k])
		delete(a.early, k)
	}
	a.mu.Unlock()
	for _, list := range evs {
		for _, ev := range list {
			a.handle(ev)
		}
	}
}

// callOf is the SIP side of engine call id, made when there is none yet.
func (a *Adapter) callOf(id string) *call {
	a.mu.Lock()
	defer a.mu.Unlock()
	cl := a.calls[id]
	if cl == nil {
		cl = &call{id: id, forks: map[string]*fork{}}
		a.calls[id] = cl
	}
	return cl
}

// hasTrunk reports whether the call goes out through a trunk.
func (cl *call) hasTrunk() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.trunk != nil
}

// kickLoop tells the loop that a Dial returned.
func (a *Adapter) kickLoop(id string) {
	select {
	case a.kick <- id:
	case <-a.ctx.Done():
	}
}

// handle translates one event of a call.
func (a *Adapter) handle(ev engine.Event) {
	c := ev.Call
	a.mu.Lock()
	cl := a.calls[c.ID]
	a.mu.Unlock()
	switch {
	case ev.Type == events.TypeCallHeld, ev.Type == events.TypeCallResumed, ev.Type == events.TypeCallDigits:
		if cl != nil {
			a.applyRelay(cl, c)
			a.midCall(cl, ev)
		}
	case ev.Type == events.TypeCallMuted, ev.Type == events.TypeCallUnmuted:
		if cl != nil {
			a.applyRelay(cl, c)
		}
	case ev.Type == events.TypeCallParked, ev.Type == events.TypeCallUnparked:
		a.parkEvent(cl, ev) // media_park.go
	case ev.Type == events.TypeCallDialed:
		a.adoptKept(c)
		a.adoptFar(c) // a trunk's leg a transfer carries on (transfer_far.go)
	case ev.Type == events.TypeCallEnded:
		a.features.forget(c.ID)
		if cl != nil {
			a.ended(cl, c)
			a.endKept(cl)
		}
	case ev.Type == events.TypeCallAnswered:
		if nc := a.adoptTarget(c); nc != nil {
			cl = nc
		} else if cl != nil && c.CalleeLeg != "" {
			a.crossReinvite(cl) // a trunk's leg as an attended transfer's target (transfer_far.go)
		}
		if cl != nil {
			a.answered(cl, c)
			a.keptAnswered(cl)
		}
	case c.State == engine.Ringing:
		a.ringing(cl, c)
	}
}

// ringing: the caller hears ringing; the SIP devices of the callee that
// ring get an INVITE each; forks of devices that stopped ringing are
// cancelled.
func (a *Adapter) ringing(cl *call, c *engine.Call) {
	if cl != nil && cl.in != nil {
		cl.in.ringing()
	}
	devices := a.sipDevices(c)
	anchored, phones := false, false
	switch {
	case cl != nil && cl.in != nil && len(devices) < len(c.RingingDevices):
		// A device that is not a SIP phone rings (a browser, the echo
		// test): the relay answers the phone's offer (media.go).
		anchored = a.anchorCaller(cl, cl.in)
	case cl != nil && cl.in != nil && a.relayPhones() && len(devices) > 0 && !cl.hasTrunk():
		// Only SIP phones ring and phone calls go through the relay:
		// it answers the caller and offers to the phones (media.go).
		anchored = a.anchorCaller(cl, cl.in)
		phones = anchored
	case cl != nil && cl.in != nil && a.set.Media != nil && len(devices) > 0 && !cl.hasTrunk() &&
		cannotPassThrough(cl.in.offer, devices):
		// Phones are passed through, but these cannot talk to each
		// other: a browser SIP stack and a desk phone (DTLS-SRTP against
		// plain RTP). The relay answers one and offers to the other.
		anchored = a.anchorCaller(cl, cl.in)
		phones = anchored
	}
	if cl == nil {
		if len(devices) == 0 {
			return
		}
		cl = a.callOf(c.ID)
	}
	cl.mu.Lock()
	cl.callee = c.Callee.Client
	cl.onlySIP = len(c.RingingDevices) > 0 && len(devices) == len(c.RingingDevices)
	offer := offerFor(cl)
	relayCallee := phones && cl.rtp[engine.Callee] == nil
	if relayCallee {
		offer = nil // the phones get the relay's offer, once made
	}
	var start []*fork
	var stop []*fork
	if offer != nil && !cl.ended {
		for _, d := range devices {
			if _, ok := cl.forks[d.id]; !ok {
				f := a.newFork(cl, c.Callee.Client, d, c)
				cl.forks[d.id] = f
				start = append(start, f)
			}
		}
	}
	for id, f := range cl.forks {
		if !slices.Contains(c.RingingDevices, id) && f != cl.winner {
			stop = append(stop, f)
		}
	}
	in, onlySIP := cl.in, cl.onlySIP
	needOffer := (relayCallee || offer == nil && in == nil && cl.kept == nil && cl.trunk == nil) && !cl.ended && len(devices) > 0
	cl.mu.Unlock()
	if needOffer && a.set.Media != nil {
		// A caller that is not a SIP phone (a browser): the phones get
		// the relay's offer (media.go); they ring once it is made.
		a.anchorCallee(cl)
		return
	}
	for _, f := range start {
		o := offer
		if b := cl.offerForBrowser(f); b != nil {
			o = b
		}
		a.wg.Go(func() { f.run(o, c) })
	}
	for _, f := range stop {
		f.cancel()
	}
	switch {
	case in != nil && len(devices) == 0 && len(c.RingingDevices) > 0 && !anchored:
		// A SIP phone calls a client whose devices are not SIP phones
		// (browsers): no relay in this slice.
		if a.refuseCaller(cl, in) {
			a.log.Info("a SIP phone cannot call a device that is not a SIP phone yet (no media relay): 488", "call", c.ID)
		}
	case offer == nil && onlySIP && len(devices) > 0:
		// A caller that is not a SIP phone (a browser) reaches only SIP
		// phones: nothing can carry the media in this slice.
		a.log.Info("only SIP phones ring but the caller is not a SIP phone (no media relay): rejecting", "call", c.ID)
		cl.mu.Lock()
		done := cl.rejected
		cl.rejected = true
		cl.mu.Unlock()
		if !done {
			a.reject(cl, false)
		}
	}
}

// answered: the other forks stop; the SIP caller gets the answering
// device's SDP in a 200 — or 488 when no SIP device answered.
func (a *Adapter) answered(cl *call, c *engine.Call) {
	cl.mu.Lock()
	var stop []*fork
	for _, f := range cl.forks {
		if f != cl.winner || c.AnsweredDevice != f.device {
			stop = append(stop, f)
		}
	}
	in := cl.in
	answer := answerFor(cl)
	if cl.winner != nil && cl.winner.device != c.AnsweredDevice {
		answer = nil
	}
	passThrough := cl.winner != nil && cl.rtp[engine.Caller] != nil && cl.rtp[engine.Callee] == nil
	cl.mu.Unlock()
	for _, f := range stop {
		f.stop()
	}
	if passThrough {
		a.dropRelay(cl) // a SIP phone answered a SIP phone: no relay
	}
	a.applyRelay(cl, c)
	if in == nil {
		return
	}
	if answer == nil {
		if a.refuseCaller(cl, in) {
			a.log.Info("the call was answered by a device that is not a SIP phone (no media relay): 488", "call", c.ID)
		}
		return
	}
	in.finish(outcome{st: status{200, "OK"}, sdp: answer})
}

// ended: every leg still up ends — the caller's INVITE gets its final
// response, forks are cancelled, dialogs get a BYE.
func (a *Adapter) ended(cl *call, c *engine.Call) {
	cl.mu.Lock()
	cl.ended = true
	forks := make([]*fork, 0, len(cl.forks))
	for _, f := range cl.forks {
		forks = append(forks, f)
	}
	in := cl.in
	cl.mu.Unlock()
	for _, f := range forks {
		f.stop()
	}
	a.dropRelay(cl)
	if in != nil {
		in.end(statusForReason(c.Reason))
	}
	a.mu.Lock()
	delete(a.calls, cl.id)
	if in != nil && !in.waitsForAck() {
		a.forget(cl.id, in.dlg) // else the ACK must still find it (serve forgets it then)
	}
	for _, f := range forks {
		a.forget(cl.id, f.dlg)
	}
	a.mu.Unlock()
}

// forget drops d from the dialog table while it belongs to call id (a
// transfer may have moved it to another call); a.mu is held.
func (a *Adapter) forget(id string, d *dialog) {
	if r, ok := a.dialogs[d.key()]; ok && r.call == id {
		delete(a.dialogs, d.key())
		d.stopSession()
	}
}

// refuseCaller answers the SIP caller 488 and hangs the call up on its
// behalf.
func (a *Adapter) refuseCaller(cl *call, in *inLeg) bool {
	if !in.finish(outcome{st: statusNotAccept}) {
		return false
	}
	a.hangup(cl.id, in.client, engine.Caller)
	return true
}

// hangup ends call id on behalf of client's side, off the loop, after
// the call's commands already queued (order.go).
func (a *Adapter) hangup(id, client string, side engine.Side) {
	a.inOrder(id, func() { a.hangupNow(id, client, side) })
}

// hangupHere is hangup on the caller's goroutine (a SIP handler's, which
// may wait): it returns once the hangup ran.
func (a *Adapter) hangupHere(id, client string, side engine.Side) {
	a.inOrderWait(id, func() { a.hangupNow(id, client, side) })
}

// reject refuses the call on behalf of its callee, off the loop, in the
// call's order.
func (a *Adapter) reject(cl *call, busy bool) {
	a.inOrder(cl.id, func() {
		ctx, cancel := a.command(cl.callee)
		defer cancel()
		if _, err := a.eng.Reject(ctx, cl.id, busy); err != nil {
			a.log.Debug("reject refused", "call", cl.id, "err", err)
		}
	})
}

// sipDevice is a SIP binding of the callee that rings.
type sipDevice struct {
	id      string
	binding sipsyntax.Binding
}

// sipDevices lists the callee's SIP devices among those that ring now.
func (a *Adapter) sipDevices(c *engine.Call) []sipDevice {
	if c.Callee.Client == "" || len(c.RingingDevices) == 0 {
		return nil
	}
	ctx, cancel := a.command("")
	defer cancel()
	cl, err := a.eng.Client(ctx, c.Callee.Client)
	if err != nil {
		return nil
	}
	var out []sipDevice
	for _, d := range cl.Devices {
		if d.Kind != DeviceKind || !slices.Contains(c.RingingDevices, d.ID) {
			continue
		}
		b, err := sipsyntax.ParseBinding(d.Contact)
		if err != nil {
			continue
		}
		out = append(out, sipDevice{id: d.ID, binding: b})
	}
	return out
}
