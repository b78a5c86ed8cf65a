package engine

import (
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// projections are the in-memory views kept current from durable events: the
// client directory, the live calls and the clients on each (ring-all members
// included), and the far-end legs that moved from one call to another. Open
// rebuilds them from the journal; afterwards the publisher applies every
// journaled event to them, on the actor that journaled it, before anyone
// hears of the event.
type projections struct {
	dir  *directory // clients, their actors, numbers and extensions (directory.go)
	live *liveCalls // live calls, their actors, the calls of each client (directory.go)
	legs *transfers // the far-end legs, kept with the live transfers (transfers.go)
}

// projections returns the engine's projections: a value made from the
// engine's fields on each use, without allocating, so that it needs no
// setting up in Open.
func (e *Engine) projections() projections {
	return projections{dir: e.dir, live: e.live, legs: e.xfer}
}

// applyCall applies one event of call c (c as the event's batch left it) to
// the live calls and the legs. flips collects the clients whose list of live
// calls became non-empty or empty.
func (p projections) applyCall(c *fsm.Call, event events.Event, flips *presenceFlips) {
	switch ev := event.(type) {
	case events.CallDialed:
		flips.add(c.Caller.Client, p.live.join(c.Caller.Client, c.ID))
		flips.add(c.Callee.Client, p.live.join(c.Callee.Client, c.ID))
		p.legs.trackLegs(c)
	case events.CallRinging:
		// A ring-all group call is every ringing member's call until
		// one answers: their lists and filters show it, and they are
		// busy for the group's next call.
		for _, m := range c.RangMembers {
			flips.add(m, p.live.join(m, c.ID))
		}
		if n := len(c.Tried); n > 0 && c.Callee.Client != "" {
			// A round-robin group call moved on: the member that did not
			// answer is free, the next one rings.
			prev := c.Tried[n-1]
			flips.add(prev, p.live.leave(prev, c.ID))
			flips.add(c.Callee.Client, p.live.join(c.Callee.Client, c.ID))
		}
	case events.CallAnswered:
		if c.Group != "" {
			flips.add(c.Callee.Client, p.live.join(c.Callee.Client, c.ID)) // a ring-all member answered
		}
		p.leaveRingAll(c, c.Callee.Client, flips)
	case events.CallParked:
		// The parking party left the call: it is free for others.
		by := c.Party(ev.By).Client
		flips.add(by, p.live.leave(by, c.ID))
	case events.CallUnparked:
		flips.add(ev.Party.Client, p.live.join(ev.Party.Client, c.ID))
	case events.CallToVoicemail:
		// The callee is not on the call: the caller talks to its box.
		flips.add(c.Callee.Client, p.live.leave(c.Callee.Client, c.ID))
	case events.CallEnded:
		p.live.remove(c.ID)
		flips.add(c.Caller.Client, p.live.leave(c.Caller.Client, c.ID))
		flips.add(c.Callee.Client, p.live.leave(c.Callee.Client, c.ID))
		p.leaveRingAll(c, "", flips)
		p.legs.dropLegs(c)
	}
}

// leaveRingAll takes a ring-all call off the lists of the members it rang,
// but keep.
func (p projections) leaveRingAll(c *fsm.Call, keep string, flips *presenceFlips) {
	for _, m := range c.RangMembers {
		if m != keep {
			flips.add(m, p.live.leave(m, c.ID))
		}
	}
}

// applyClient puts client c's new snapshot in the directory; it returns the
// snapshot it replaced, nil for a client the directory did not know.
func (p projections) applyClient(c *fsm.Client) (before *fsm.Client) {
	before = p.dir.get(c.ID)
	p.dir.put(c)
	return before
}
