package sip

import (
	"context"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
)

// Relayed phones after a restart. The relay's sockets died with the
// process; the dialog records say what each phone has: the SDP we sent it
// last (the relay's, with the relay's port) and the SDP it sent. For each
// restored leg whose SDP is the relay's, the leg is built again
// (media.RestoreRTP) on the same port, from those two SDPs: the phone goes
// on sending where it did and needs no re-INVITE. When that port is taken,
// the leg gets another and the phone a re-INVITE with the leg's new SDP
// (the spec allows it: the only thing a phone sees of a restart). Then the
// legs get the engine's state (connected, held, muted) as on any event.
// What the phone receives is the stream it had, going on (the same SSRC,
// see media.RestoreRTP).

// legRestorer builds an RTP leg again; *media.Relay has it.
type legRestorer interface {
	RestoreRTP(ctx context.Context, leg, local, remote string, ev media.LegEvents) (string, bool, error)
}

var _ legRestorer = (*media.Relay)(nil)

// restoreRelay is the hook of restoreDialogs (dialog_restore.go).
func (a *Adapter) restoreRelay(calls []engine.Call) {
	rs, ok := a.set.Media.(legRestorer)
	if !ok {
		return
	}
	for i := range calls {
		c := &calls[i]
		a.mu.Lock()
		cl := a.calls[c.ID]
		a.mu.Unlock()
		if cl == nil {
			continue
		}
		restored := false
		for _, s := range []engine.Side{engine.Caller, engine.Callee} {
			if a.restoreRelayLeg(rs, cl, c, s) {
				restored = true
			}
		}
		if a.restoreTrunkRelay(rs, cl, c) {
			restored = true
		}
		if restored {
			a.applyRelay(cl, c)
		}
	}
}

// restoreRelayLeg builds the relay leg of side s of a restored call, when
// the phone's media was on the relay.
func (a *Adapter) restoreRelayLeg(rs legRestorer, cl *call, c *engine.Call, s engine.Side) bool {
	l := cl.leg(s)
	if l == nil {
		return false
	}
	if dev := map[engine.Side]string{engine.Caller: c.CallerDevice, engine.Callee: c.AnsweredDevice}[s]; dev != l.device {
		return false // the phone left that side (it parked the call): its record is stale
	}
	sent, got := l.sentSDP(), l.peerSDP()
	if !madeByRelay(sent) || len(got) == 0 {
		return false // passed through: the media never touched the relay
	}
	name := relayLegName(c.ID, s)
	ctx, cancel := a.command("")
	defer cancel()
	desc, rebound, err := rs.RestoreRTP(ctx, name, string(sent), string(got), a.rtpEvents(c.ID, s, l.client))
	if err != nil {
		a.log.Warn("cannot restore a phone's relay leg", "call", c.ID, "side", s, "err", err)
		return false
	}
	cl.mu.Lock()
	cl.setRTP(s, name, []byte(desc))
	cl.mu.Unlock()
	if !rebound {
		a.log.Info("a phone's relay port was taken after the restart: re-INVITE", "call", c.ID, "side", s)
		a.queueRestored(cl, func() {
			res, err := a.reinvite(l, l.stamp(sipsyntax.SetDirection([]byte(desc), sipsyntax.DirSendRecv)))
			switch {
			case err != nil:
				a.log.Info("cannot re-INVITE a phone to its new relay port", "call", c.ID, "err", err)
			case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
				if u, ok := a.set.Media.(relayUpdater); ok {
					_, _ = u.UpdateRTP(name, string(res.Body()))
				}
				l.gotSDP(res.Body())
			}
		})
	}
	return true
}

// restoreTrunkRelay builds the relay leg of a restored leg out through a
// trunk (the callee's side) when the trunk was offered the relay's SDP.
// When its port is taken, the trunk gets a re-INVITE with the new one.
func (a *Adapter) restoreTrunkRelay(rs legRestorer, cl *call, c *engine.Call) bool {
	cl.mu.Lock()
	t := cl.trunk
	cl.mu.Unlock()
	if t == nil || t.dlg == nil || cl.relayed(engine.Callee) != "" {
		return false
	}
	d := t.dlg
	d.mu.Lock()
	sent, got := d.SentSDP, d.RemoteSDP
	d.mu.Unlock()
	if !madeByRelay(sent) || len(got) == 0 {
		return false
	}
	name := relayLegName(c.ID, engine.Callee)
	ctx, cancel := a.command("")
	defer cancel()
	desc, rebound, err := rs.RestoreRTP(ctx, name, string(sent), string(got), a.rtpEvents(c.ID, engine.Callee, ""))
	if err != nil {
		a.log.Warn("cannot restore a trunk leg's relay leg", "call", c.ID, "err", err)
		return false
	}
	cl.mu.Lock()
	cl.setRTP(engine.Callee, name, []byte(desc))
	cl.mu.Unlock()
	if !rebound {
		a.log.Info("a trunk leg's relay port was taken after the restart: re-INVITE", "call", c.ID)
		a.queueRestored(cl, func() {
			res, err := a.sendReInvite(d, []byte(desc))
			switch {
			case err != nil:
				a.log.Info("cannot re-INVITE a trunk to its new relay port", "call", c.ID, "err", err)
			case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
				if u, ok := a.set.Media.(relayUpdater); ok {
					_, _ = u.UpdateRTP(name, string(res.Body()))
				}
				d.mu.Lock()
				d.SentSDP, d.RemoteSDP = []byte(desc), append([]byte(nil), res.Body()...)
				d.saveLocked()
				d.mu.Unlock()
			}
		})
	}
	return true
}

// queueRestored queues fn in the call's outgoing work without starting
// it: the adapter does not listen yet (requests leave from the listening
// address). startRestored starts it.
func (a *Adapter) queueRestored(cl *call, fn func()) {
	cl.mu.Lock()
	cl.queue = append(cl.queue, fn)
	cl.mu.Unlock()
}

// startRestored is the hook of Start (adapter.go) once the adapter
// listens: the re-INVITEs restoreRelay queued go out.
func (a *Adapter) startRestored() {
	a.mu.Lock()
	cls := make([]*call, 0, len(a.calls))
	for _, cl := range a.calls {
		cls = append(cls, cl)
	}
	a.mu.Unlock()
	for _, cl := range cls {
		cl.mu.Lock()
		waiting := len(cl.queue) > 0 && !cl.running
		cl.mu.Unlock()
		if waiting {
			a.serial(cl, func() {})
		}
	}
}
