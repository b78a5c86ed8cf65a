package sip

import (
	"context"
	"time"

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
	return a.restoreLeg(rs, cl, c.ID, l, "a phone")
}

// restoreTrunkRelay builds the relay leg of a restored leg out through a
// trunk (the callee's side) when the trunk was offered the relay's SDP.
func (a *Adapter) restoreTrunkRelay(rs legRestorer, cl *call, c *engine.Call) bool {
	cl.mu.Lock()
	t := cl.trunk
	cl.mu.Unlock()
	if t == nil || t.dlg == nil || cl.relayed(engine.Callee) != "" {
		return false
	}
	return a.restoreLeg(rs, cl, c.ID, t.sipLeg(), "a trunk")
}

// restoreLeg builds the relay leg of SIP leg l (who names its peer in the
// logs) from the SDPs of its record, when they were the relay's: on the
// port the peer sends to, or on another one, which the peer then gets in
// a re-INVITE once the adapter listens.
func (a *Adapter) restoreLeg(rs legRestorer, cl *call, callID string, l *sipLeg, who string) bool {
	sent, got := l.sentSDP(), l.peerSDP()
	if !madeByRelay(sent) {
		return false // passed through: the media never touched the relay
	}
	if len(got) == 0 && !media.IsWebRTCSDP(string(sent)) {
		// A browser's leg is offered anew from ours alone; an RTP leg
		// needs the phone's too (its address, its payload types).
		a.log.Warn("cannot restore a relay leg: its record keeps no SDP of the peer", "peer", who, "call", callID, "side", l.side)
		return false
	}
	name := relayLegName(callID, l.side)
	ctx, cancel := a.command("")
	defer cancel()
	desc, rebound, err := rs.RestoreRTP(ctx, name, string(sent), string(got), a.rtpEvents(callID, l.side, l.client))
	if err != nil {
		a.log.Warn("cannot restore a relay leg", "peer", who, "call", callID, "side", l.side, "err", err)
		return false
	}
	cl.mu.Lock()
	cl.setRTP(l.side, name, []byte(desc))
	cl.mu.Unlock()
	if !rebound {
		browser := media.IsWebRTCSDP(desc)
		if browser {
			a.log.Info("a browser SIP stack's WebRTC leg cannot outlive the process: re-INVITE with a new one", "call", callID, "side", l.side)
		} else {
			a.log.Info("a relay port was taken after the restart: re-INVITE", "peer", who, "call", callID, "side", l.side)
		}
		a.queueRestored(cl, func() {
			if browser && !a.awaitFlow(l) {
				a.log.Info("a browser SIP stack did not come back after the restart", "call", callID, "side", l.side)
				return
			}
			res, err := a.reinvite(l, l.stamp(sipsyntax.SetDirection([]byte(desc), sipsyntax.DirSendRecv)))
			switch {
			case err != nil:
				a.log.Info("cannot re-INVITE to a new relay port", "peer", who, "call", callID, "err", err)
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

// restoredFlowWait bounds how long a restored browser leg waits for its
// browser to come back (JsSIP reconnects within seconds, with a backoff).
const restoredFlowWait = 2 * time.Minute

// awaitFlow waits until leg l's peer, reached over a connection it opened
// (ws, wss: a browser SIP stack), has one again: the connection died with
// the process and the browser registers again when it reconnects
// (transport_ws.go). It reports false when restoredFlowWait passes or the
// adapter stops first; a peer on another transport needs no wait.
func (a *Adapter) awaitFlow(l *sipLeg) bool {
	d := l.dlg
	d.mu.Lock()
	target := d.RemoteTarget
	d.mu.Unlock()
	if t := uriTransport(&target); t != "WS" && t != "WSS" {
		return true
	}
	deadline := time.NewTimer(restoredFlowWait)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if a.hasFlow(&target) {
			return true
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		case <-a.ctx.Done():
			return false
		}
	}
}
