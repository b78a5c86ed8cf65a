package sip

import (
	"time"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/media"
)

// RTP timeout: a relayed SIP leg that sends no RTP for
// Settings.MediaTimeout while its call is up and not held has lost its
// phone or trunk — a power cut, a network gone, a softphone killed — and
// nothing in SIP tells (no BYE will come). The adapter then hangs the call
// up on that side, as Asterisk's rtptimeout or FreeSWITCH's
// media_timeout do: the engine ends the call (a hangup by that side) and
// every dialog still up, the silent one included, gets its BYE.
//
// The watch is the adapter's (a wall-clock ticker: sockets and timers
// live in adapters). It reads the relay's packet counters of the legs in
// the adapter's calls every MediaTimeout/5 (at least 100 ms, at most
// 5 s). A leg is watched while it is linked to another leg or a conference
// and not held; its clock starts again when it is held or unlinked, so a
// call on hold for an hour is not hung up, and a silence is acted on only
// while the engine has the call connected (not while it rings with early
// media).

// legStatter is the part of the relay the watch reads.
type legStatter interface {
	LegStats(name string) (media.LegStats, error)
}

// legWatch is what the watch knows of one leg.
type legWatch struct {
	in     uint64    // the leg's PacketsIn at the last change
	since  time.Time // when it last received, or began to be watched
	fired  bool      // hung up already
	sawNow bool      // seen in this pass
}

// mediaCheckEvery is how often the watch reads the legs.
func mediaCheckEvery(timeout time.Duration) time.Duration {
	return min(max(timeout/5, 100*time.Millisecond), 5*time.Second)
}

// watchMedia runs the RTP timeout until the adapter stops (from Start,
// with Settings.MediaTimeout and a relay).
func (a *Adapter) watchMedia(stats legStatter) {
	timeout := a.set.MediaTimeout
	ticker := time.NewTicker(mediaCheckEvery(timeout))
	defer ticker.Stop()
	watched := map[string]*legWatch{}
	type sideLeg struct {
		id   string
		side engine.Side
		name string
	}
	var (
		legs  []sideLeg
		calls []*call
	)
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-ticker.C:
		}
		calls = calls[:0]
		a.mu.Lock()
		for _, cl := range a.calls {
			calls = append(calls, cl)
		}
		a.mu.Unlock()
		legs = legs[:0]
		for _, cl := range calls { // one lock at a time: no order to keep
			cl.mu.Lock()
			for side, r := range cl.rtp {
				legs = append(legs, sideLeg{cl.id, side, r.name})
			}
			cl.mu.Unlock()
		}
		clear(calls)
		now := time.Now()
		for _, l := range legs {
			st, err := stats.LegStats(l.name)
			if err != nil {
				continue
			}
			w := watched[l.name]
			if w == nil {
				w = &legWatch{in: st.PacketsIn, since: now}
				watched[l.name] = w
			}
			w.sawNow = true
			linked := st.Peer != "" || st.Conference != ""
			switch {
			case st.Held || !linked || st.PacketsIn != w.in:
				w.in, w.since = st.PacketsIn, now
			case !w.fired && now.Sub(w.since) >= timeout:
				if !a.callConnected(l.id) { // ringing with early media, say: not yet
					w.since = now
					continue
				}
				w.fired = true
				a.log.Warn("no RTP from a leg: hanging up its side", "call", l.id, "side", l.side, "leg", l.name, "silent", now.Sub(w.since).Round(time.Millisecond))
				a.stats.mediaTimeouts.Add(1)
				a.wg.Go(func() { a.hangupSilent(l.id, l.side) })
			}
		}
		for name, w := range watched {
			if !w.sawNow {
				delete(watched, name)
			}
			w.sawNow = false
		}
	}
}

// callConnected reports whether the engine has call id connected
// (answered and not held).
func (a *Adapter) callConnected(id string) bool {
	ctx, cancel := a.command("")
	defer cancel()
	c, err := a.eng.Call(ctx, id)
	return err == nil && c.State == engine.Connected
}

// hangupSilent hangs call id up on side, whose leg sent no RTP: a trunk's
// leg out as the far end's hangup, a caller's phone (or a trunk's call in)
// as its BYE would, any other phone — the callee's, one that went on in
// this call after a transfer — by its client, as the engine has it now.
func (a *Adapter) hangupSilent(id string, side engine.Side) {
	a.mu.Lock()
	cl := a.calls[id]
	a.mu.Unlock()
	if cl == nil {
		return
	}
	cl.mu.Lock()
	in, trunk := cl.in, cl.trunk
	cl.mu.Unlock()
	switch {
	case side == engine.Callee && trunk != nil:
		trunk.report(events.Hangup)
	case side == engine.Caller && in != nil:
		a.hangupHere(id, in.client, engine.Caller)
	default:
		ctx, cancel := a.command("")
		c, err := a.eng.Call(ctx, id)
		cancel()
		if err != nil {
			return
		}
		party := c.Caller
		if side == engine.Callee {
			party = c.Callee
		}
		a.hangupHere(id, party.Client, side)
	}
}
