package sip

import (
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Park and unpark (the engine's Park, Unpark) keep the call and the parked
// party's leg. The parking party leaves the call: when it is one of our
// phones it gets a BYE and its relay leg closes. The parked phone keeps
// its relay leg and hears no one (the call is held: the relay enforces it)
// and gets no request. Whoever unparks it takes the parking side: a
// browser's leg (the WebSocket adapter offers it, matching the parked
// phone's codec) is connected to the parked phone's leg, which goes on
// with the same port and one continuous outgoing stream; so is a SIP
// phone's that calls the slot with Settings.ParkPrefix (park_sip.go).

// parkEvent is the hook of handle (events.go) for CallParked and
// CallUnparked.
func (a *Adapter) parkEvent(cl *call, ev engine.Event) {
	if cl == nil {
		return
	}
	if e, ok := ev.Event.(events.CallParked); ok {
		a.parkerLeaves(cl, e.By)
	}
	a.applyRelay(cl, ev.Call)
}

// parkerLeaves ends our phone's part of side by, which parked the call: a
// BYE to it, its relay leg closed.
func (a *Adapter) parkerLeaves(cl *call, by engine.Side) {
	if l := cl.leg(by); l != nil {
		switch {
		case l.in != nil || l.fork != nil:
			if a.detach(l) {
				a.sendBye(l.dlg)
			}
		default: // a phone kept or adopted after a transfer
			cl.mu.Lock()
			if cl.kept == l {
				cl.kept = nil
			}
			if cl.adopted == l {
				cl.adopted = nil
			}
			cl.mu.Unlock()
			a.sendBye(l.dlg)
		}
		a.mu.Lock()
		a.forget(cl.id, l.dlg)
		a.mu.Unlock()
	}
	cl.mu.Lock()
	r := cl.rtp[by]
	delete(cl.rtp, by)
	cl.mu.Unlock()
	if r != nil && a.set.Media != nil {
		_ = a.set.Media.CloseLeg(r.name)
	}
}
