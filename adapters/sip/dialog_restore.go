package sip

import (
	"encoding/json"

	"github.com/callengine/callengine/engine"
)

// restoreDialogs rebuilds, when the adapter starts, the SIP legs of every
// live call from the dialog records journaled on it: the caller's dialog
// (we answered its INVITE) and the callee's (our INVITE was answered).
// After it, an in-dialog BYE or re-INVITE from a phone is served as
// before the restart, and the engine's hangup, hold and resume reach the
// phones. Media needs nothing: it is passed through between the phones
// and never touched this process.
func (a *Adapter) restoreDialogs() {
	ctx, cancel := a.command("")
	defer cancel()
	calls, err := a.eng.LegCalls(ctx, adapterName)
	if err != nil {
		a.log.Warn("cannot list the calls with SIP dialogs", "err", err)
		return
	}
	a.mu.Lock()
	for i := range calls {
		a.restoreCall(&calls[i])
	}
	a.mu.Unlock()
	a.restoreRelay(calls) // relayed phones get their legs back (media_restore.go)
	for i := range calls {
		a.resumeSessions(calls[i].ID)
	}
	if len(calls) > 0 {
		a.log.Info("SIP dialogs restored", "calls", len(calls))
	}
}

// restoreCall rebuilds one call's legs; a.mu is held.
func (a *Adapter) restoreCall(c *engine.Call) {
	cl := &call{id: c.ID, forks: map[string]*fork{}, callee: c.Callee.Client,
		sipHold: map[engine.Side]bool{engine.Caller: c.HeldByCaller, engine.Callee: c.HeldByCallee}}
	for _, leg := range c.Legs {
		if leg.Adapter != adapterName {
			continue
		}
		var r dialogRecord
		if err := json.Unmarshal(leg.Data, &r); err != nil {
			a.log.Warn("unreadable dialog record", "call", c.ID, "side", leg.Side, "err", err)
			continue
		}
		d, err := dialogFromRecord(r)
		if err != nil {
			a.log.Warn("unusable dialog record", "call", c.ID, "side", leg.Side, "err", err)
			continue
		}
		d.jr = &journal{a: a, call: c.ID, side: leg.Side, client: r.Client, device: r.Device, trunk: r.Trunk, leg: r.Leg}
		if r.Leg != "" {
			// A leg out through a trunk (trunk_out.go).
			if l := a.restoreTrunkLeg(cl, r, d); l != nil {
				a.dialogs[d.key()] = dialogRef{call: c.ID, trunk: l}
			}
			continue
		}
		switch leg.Side {
		case engine.Caller:
			in := &inLeg{a: a, client: r.Client, device: r.Device, offer: r.RemoteSDP, dlg: d,
				final: make(chan outcome, 1), canceled: make(chan struct{}), acked: make(chan struct{}),
				callID: c.ID, state: legConfirmed}
			in.ackOnce.Do(func() { close(in.acked) })
			cl.in = in
			a.dialogs[d.key()] = dialogRef{call: c.ID, in: in}
		case engine.Callee:
			f := &fork{a: a, cl: cl, device: r.Device, client: r.Client, dlg: d, state: legConfirmed, answer: r.RemoteSDP}
			cl.forks[r.Device] = f
			cl.winner = f
			a.dialogs[d.key()] = dialogRef{call: c.ID, fork: f}
		}
	}
	if cl.in != nil || cl.winner != nil || cl.trunk != nil {
		a.calls[c.ID] = cl
	}
}

// resumeSessions arms the session timers of the restored SIP legs of call
// id (session_timer.go).
func (a *Adapter) resumeSessions(id string) {
	a.mu.Lock()
	cl := a.calls[id]
	var dialogs []*dialog
	if cl != nil {
		if cl.in != nil {
			dialogs = append(dialogs, cl.in.dlg)
		}
		if cl.winner != nil {
			dialogs = append(dialogs, cl.winner.dlg)
		}
	}
	a.mu.Unlock()
	for _, d := range dialogs {
		a.resumeSession(d)
	}
}

// restoreTrunkLeg rebuilds a confirmed leg out through a trunk: its
// dialog, and its place in the trunks' table under the engine's far-end
// leg, so that the engine's end of the call sends BYE from the record and
// the trunk's BYE is a far-end hangup. nil when no trunks are configured.
func (a *Adapter) restoreTrunkLeg(cl *call, r dialogRecord, d *dialog) *trunkLeg {
	ts := a.trunks
	if ts == nil {
		a.log.Warn("a trunk leg's dialog record, but no trunks are configured", "call", cl.id, "trunk", r.Trunk)
		return nil
	}
	l := &trunkLeg{ts: ts, id: r.Leg, dlg: d, state: legConfirmed, sdp: r.RemoteSDP}
	for _, t := range ts.list {
		if t.Name == r.Trunk {
			l.trunk = t
		}
	}
	if l.trunk == nil {
		l.trunk = &Trunk{Name: r.Trunk} // no longer configured: the dialog still ends properly
	}
	ts.mu.Lock()
	ts.legs[l.id] = l
	ts.mu.Unlock()
	cl.trunk = l
	return l
}
