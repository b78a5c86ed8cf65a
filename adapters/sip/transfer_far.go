package sip

import (
	"github.com/callengine/callengine/engine"
)

// Transfers of a far end's leg: a customer who called in through a trunk,
// or one an agent called out to, whom a client transfers (REFER from a
// phone, a browser's or the API's transfer). The engine places a new call
// that carries the same far-end leg on (CallDialed.CallerLeg for the kept
// party, CalleeLeg for the target of an attended transfer: the id of the
// call the leg was created in). The trunk's dialog is not touched — a
// carrier would not take a new INVITE for a customer who is on the line —
// it is taken over by the new call here, as a transferred phone's is
// (refer.go, adoptKept):
//
//   - the old call's end sends it no BYE, its BYE, re-INVITE or UPDATE
//     are the new call's (a hangup or hold of that side), and the new
//     call's end sends it a BYE;
//   - its dialog record is journaled on the new call, on its new side, so
//     that it survives a restart there;
//   - its relay leg, when it is on the relay, moves to the new call
//     (media.RenameLeg): the same port, one continuous stream to the
//     carrier, no re-INVITE; the target's phones are offered the relay
//     (media_anchor.go). Passed through, the target is offered the
//     trunk's SDP and the trunk gets the target's answer in a re-INVITE
//     (keptAnswered), as a transferred phone does.
//
// A far leg that is not ours (the loopback's, a trunk of another adapter)
// is left to its adapter.

// adoptFar takes over the far-end legs call c carries on from other calls.
func (a *Adapter) adoptFar(c *engine.Call) {
	for _, s := range []engine.Side{engine.Caller, engine.Callee} {
		id := c.CallerLeg
		if s == engine.Callee {
			id = c.CalleeLeg
		}
		if id == "" {
			continue
		}
		old, from, l := a.takeFar(c.ID, id)
		if l == nil {
			continue
		}
		moved := &sipLeg{dlg: l.dlg, side: s, first: l.sentSDP(), got: l.peerSDP(), far: id}
		nc := a.callOf(c.ID)
		// The relay leg first, then the leg: a trunk leg placed for the
		// new call takes the leg's offer once it is there (callerOffer).
		relayed := a.moveRelay(old, from, nc, s)
		nc.mu.Lock()
		if s == engine.Caller {
			nc.kept = moved
		} else {
			nc.adopted = moved
		}
		nc.mu.Unlock()
		a.mu.Lock()
		a.dialogs[l.dlg.key()] = dialogRef{call: c.ID, kept: moved}
		a.mu.Unlock()
		a.serial(nc, func() { a.moveJournal(moved.dlg, c.ID, s, "", "") })
		if relayed && s == engine.Caller {
			a.offerTarget(nc, c)
		}
		a.log.Debug("a far end's leg goes on in a transfer's call", "leg", id, "from", old.id, "call", c.ID, "side", s)
	}
}

// takeFar finds the call other than id that holds far-end leg far — a
// trunk's call in (the in leg of the call it was created with), a call out
// through a trunk, or a far leg a transfer moved before — and takes the
// leg out of it: that call's end will not end the dialog. It returns the
// call, the leg's side there and the leg; a nil leg when no confirmed
// dialog of ours is that far-end leg.
func (a *Adapter) takeFar(id, far string) (*call, engine.Side, *sipLeg) {
	a.mu.Lock()
	var list []*call
	for _, cl := range a.calls {
		if cl.id != id {
			list = append(list, cl)
		}
	}
	a.mu.Unlock()
	for _, cl := range list {
		cl.mu.Lock()
		in, trunk, kept, adopted := cl.in, cl.trunk, cl.kept, cl.adopted
		cl.mu.Unlock()
		switch {
		case kept != nil && kept.far == far, adopted != nil && adopted.far == far:
			l := kept
			if l == nil || l.far != far {
				l = adopted
			}
			cl.mu.Lock()
			mine := cl.kept == l || cl.adopted == l
			if cl.kept == l {
				cl.kept = nil
			} else if cl.adopted == l {
				cl.adopted = nil
			}
			cl.mu.Unlock()
			if mine {
				return cl, l.side, l
			}
		case in != nil && in.client == "" && cl.id == far:
			if l := cl.leg(engine.Caller); l != nil && l.in == in && a.detach(l) {
				return cl, engine.Caller, l
			}
		case trunk != nil && trunk.id == far:
			if l := trunk.detach(); l != nil {
				return cl, engine.Callee, l
			}
		}
	}
	return nil, 0, nil
}

// detach takes a confirmed leg out through a trunk out of the trunks'
// table: its call's end no longer sends it a BYE. It returns the leg as
// the callee's SIP leg, or nil when the dialog is not up.
func (l *trunkLeg) detach() *sipLeg {
	l.mu.Lock()
	up := l.state == legConfirmed
	if up {
		l.state = legEnded
	}
	l.mu.Unlock()
	if !up {
		return nil
	}
	ts := l.ts
	ts.mu.Lock()
	if ts.legs[l.id] == l {
		delete(ts.legs, l.id)
	}
	ts.mu.Unlock()
	return l.sipLeg()
}
