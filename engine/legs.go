package engine

import (
	"context"
	"slices"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"

	"github.com/callengine/callengine/fsm"
)

// LegRecord is what an adapter journals about the leg it carries for one
// side of a call, to carry on after a restart (issue 14): for a SIP leg its
// dialog record. Data is opaque to the engine, at most events.MaxLegData
// bytes. In a Call view Data is the engine's own record, shared by every
// view of the call (a record is replaced whole, never changed): read it,
// do not modify it.
type LegRecord struct {
	Side    Side
	Adapter string // "sip"
	Data    []byte
}

// RecordLeg journals leg as the latest record of its side of a live call
// (CallLegRecorded): it is state, kept across a restart, returned in
// Call.Legs. A record equal to the side's latest journals nothing. A bad
// side (invalid_params), no adapter (missing_parameter), more than
// events.MaxLegData bytes (invalid_params) and an ended call (not_found or
// invalid_state) are refused and journal nothing. Only the engine's own
// adapters record legs: a client principal is refused (forbidden).
func (e *Engine) RecordLeg(ctx context.Context, callID string, leg LegRecord) (c Call, err error) {
	err = e.command(ctx, callID, fsm.RecordLeg{Side: leg.Side, Adapter: leg.Adapter, Data: leg.Data}, &c)
	return c, err
}

// legsView lists the latest leg records of a call. Their data is shared,
// not copied: a view is built for every event of a call and every
// subscriber, and the records (SDPs of up to 4 KiB) would be most of what
// a SIP call allocates.
func legsView(c *fsm.Call) []LegRecord {
	if len(c.Legs) == 0 {
		return nil
	}
	out := make([]LegRecord, len(c.Legs))
	for i, l := range c.Legs {
		out[i] = LegRecord{Side: l.Side, Adapter: l.Adapter, Data: l.Data}
	}
	return out
}

// Leg returns the latest record of side s, and whether there is one.
func (c *Call) Leg(s Side) (LegRecord, bool) {
	for _, l := range c.Legs {
		if l.Side == s {
			return l, true
		}
	}
	return LegRecord{}, false
}

// LegCalls returns the live calls that hold a leg record of adapter, oldest
// first: what an adapter rebuilds its legs from when it starts after a
// restart. A restored call that no command touched yet is read without
// waking it.
func (e *Engine) LegCalls(ctx context.Context, adapter string) ([]Call, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	var out []Call
	for _, id := range e.live.ids() {
		c, ok := e.live.dormantState(id)
		if !ok {
			var err error
			if c, err = e.callState(ctx, id); err != nil {
				if code := errcode.CodeOf(err); code == errcode.NotFound || code == errcode.InvalidState {
					continue // ended meanwhile
				}
				return nil, err
			}
		}
		if !c.Status.Live() || !slices.ContainsFunc(c.Legs, func(l events.CallLegRecorded) bool { return l.Adapter == adapter }) {
			continue
		}
		out = append(out, callView(&c, e.now()))
	}
	slices.SortFunc(out, func(a, b Call) int {
		if c := a.SetupAt.Compare(b.SetupAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
