package media

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"
)

// conference is a set of legs that all hear each other (Join). Its fields
// are guarded by Relay.mu.
type conference struct {
	name    string
	members []*leg // in the order they joined
	mix     *mixer // with three members or more of which one takes one stream
}

// route is one destination of a conference member's audio: the leg, and the
// track of that leg that carries this member; or the conference's mixer.
type route struct {
	dst   *leg
	track *outTrack
	mix   *mixer
}

// oneStream tells whether the leg takes one stream only (an RTP leg): in a
// conference of three or more it hears a mix, not a track per member.
func (l *leg) oneStream() bool { return l.rtp != nil || l.sip }

// Join puts legs into conference conf (made on first use): every member
// hears every other one. With three members or more, a WebRTC leg hears each
// other member on an outgoing track of its own, and an RTP leg (which takes
// one stream) hears the mix of the others (G.711 members only; see
// mixer.go). A WebRTC leg that has fewer tracks
// than other members gets new ones, which takes a renegotiation: the relay
// makes a new offer for the leg and hands it to LegEvents.Renegotiate; the
// peer's answer comes back through AcceptAnswer. Until then the new tracks
// are silent. A conference of two members is a plain pairing (as Connect),
// of one member a leg that hears nothing.
//
// A leg already in conf stays; a leg in another conference leaves it; a leg
// paired (Connect, Echo) is unpaired first. Tracks are never removed: when
// members leave, a leg's extra tracks fall silent and are used again for
// whoever joins next. Mute and hold apply per member: a muted member is
// heard by no one, a held member hears no one and is heard by no one.
//
// An echo leg (AddEchoLeg) cannot join. A leg that needs new tracks and has
// no LegEvents.Renegotiate is ErrNoRenegotiation; nothing changes then.
func (r *Relay) Join(conf string, names ...string) error {
	if conf == "" {
		return fmt.Errorf("media: join: %w: no conference name", ErrNoLeg)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return fmt.Errorf("media: conference %q: %w", conf, ErrClosed)
	}
	c := r.confs[conf]
	if c == nil {
		c = &conference{name: conf}
	}
	var joining []*leg
	for _, n := range names {
		l, err := r.getLocked(n)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		if l.mirror {
			r.mu.Unlock()
			return fmt.Errorf("media: leg %q is an echo leg, it cannot join a conference: %w", n, ErrNoLeg)
		}
		if l.conf != c && !containsLeg(joining, l) {
			joining = append(joining, l)
		}
	}
	// The check before any change: who would need tracks it cannot get?
	if size := len(c.members) + len(joining); size >= 3 {
		for _, l := range append(append([]*leg(nil), c.members...), joining...) {
			if !l.oneStream() && len(l.outs) < size-1 && l.ev.Renegotiate == nil {
				r.mu.Unlock()
				return fmt.Errorf("media: leg %q: %w", l.name, ErrNoRenegotiation)
			}
		}
	}
	r.confs[conf] = c
	for _, l := range joining {
		r.unlinkLocked(l)
		l.conf = c
		c.members = append(c.members, l)
	}
	adds := r.routeLocked(c)
	r.mu.Unlock()
	var errs []error
	for _, a := range adds {
		if err := a.l.addTracks(a.tracks); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leave takes a leg out of its conference: it hears no one and no one hears
// it; the others go on (two left are a pairing). A leg in no conference is
// simply disconnected.
func (r *Relay) Leave(name string) error { return r.Disconnect(name) }

// Conference lists the members of a conference in the order they joined;
// nil when it has none.
func (r *Relay) Conference(conf string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.confs[conf]
	if c == nil {
		return nil
	}
	out := make([]string, len(c.members))
	for i, l := range c.members {
		out[i] = l.name
	}
	return out
}

func containsLeg(ls []*leg, l *leg) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

// leaveConfLocked takes l out of its conference and routes the others
// again. Leaving never needs new tracks. Called with r.mu held.
func (r *Relay) leaveConfLocked(l *leg) {
	c := l.conf
	if c == nil {
		return
	}
	l.conf = nil
	l.fan.Store(nil)
	l.slots = nil
	for i, m := range c.members {
		if m == l {
			c.members = append(c.members[:i:i], c.members[i+1:]...)
			break
		}
	}
	if p := l.peer.Swap(nil); p != nil && p != l {
		p.peer.CompareAndSwap(l, nil)
	}
	if len(c.members) == 0 {
		if r.confs[c.name] == c {
			delete(r.confs, c.name)
		}
		r.stopMixLocked(c)
		return
	}
	_ = r.routeLocked(c) // fewer members: every slot needed exists already
}

// trackAdd is the new tracks one leg needs.
type trackAdd struct {
	l      *leg
	tracks []*outTrack
}

// routeLocked sets where the audio of each member of c goes, and returns the
// tracks to add to members that have too few. Called with r.mu held.
func (r *Relay) routeLocked(c *conference) []trackAdd {
	ms := c.members
	if len(ms) < 3 {
		r.stopMixLocked(c)
		for _, m := range ms {
			m.fan.Store(nil)
			m.slots = nil
		}
		switch len(ms) {
		case 1:
			ms[0].peer.Store(nil)
		case 2:
			ms[0].peer.Store(ms[1])
			ms[1].peer.Store(ms[0])
		}
		return nil
	}
	var adds []trackAdd
	var hearers []*leg
	for _, d := range ms {
		if d.oneStream() {
			hearers = append(hearers, d)
			d.slots = nil
			continue
		}
		slots := make(map[*leg]*outTrack, len(ms)-1)
		used := map[*outTrack]bool{}
		for _, s := range ms {
			if t := d.slots[s]; s != d && t != nil {
				slots[s], used[t] = t, true
			}
		}
		var added []*outTrack
		for _, s := range ms {
			if s == d || slots[s] != nil {
				continue
			}
			var free *outTrack
			for _, t := range d.outs {
				if !used[t] {
					free = t
					break
				}
			}
			if free == nil {
				free = d.newExtraTrack()
				added = append(added, free)
			}
			slots[s], used[free] = free, true
		}
		d.slots = slots
		if len(added) > 0 {
			adds = append(adds, trackAdd{l: d, tracks: added})
		}
	}
	if len(hearers) == 0 {
		r.stopMixLocked(c)
	} else {
		if c.mix == nil {
			c.mix = r.newMixerLocked()
		}
		c.mix.set(ms, hearers)
	}
	for _, s := range ms {
		routes := make([]route, 0, len(ms))
		mixed := false
		for _, d := range ms {
			switch {
			case d == s:
			case d.oneStream():
				mixed = true
			default:
				routes = append(routes, route{dst: d, track: d.slots[s]})
			}
		}
		if mixed {
			routes = append(routes, route{mix: c.mix})
		}
		s.fan.Store(&routes)
	}
	for _, m := range ms {
		m.peer.Store(nil)
	}
	return adds
}

// stopMixLocked ends the mixing of c, if any. Called with r.mu held.
func (r *Relay) stopMixLocked(c *conference) {
	if c.mix != nil {
		c.mix.close()
		c.mix = nil
	}
}

// newExtraTrack makes one more outgoing track of l (not yet on its peer
// connection): same stream as the first, so a browser that plays the
// stream plays every track of it. Called with r.mu held.
func (l *leg) newExtraTrack() *outTrack {
	l.mu.Lock()
	want := l.codec
	l.mu.Unlock()
	if want == (codecKey{}) {
		want = l.out.wantCodec()
	}
	t := newOutTrack(l.name, want)
	t.id = "audio-" + strconv.Itoa(len(l.outs))
	l.outs = append(l.outs, t)
	return t
}

// addTracks puts new tracks on the leg's peer connection and offers them to
// the peer (Renegotiate), now or as soon as the leg can take an offer.
func (l *leg) addTracks(ts []*outTrack) error {
	l.negMu.Lock()
	defer l.negMu.Unlock()
	l.pendingTracks = append(l.pendingTracks, ts...)
	return l.renegotiateLocked()
}

// renegotiateLocked makes a new offer for the tracks waiting to be added,
// when the leg can take one: its first offer/answer exchange is over and no
// offer is pending (else the answer that ends it comes back here). Called
// with negMu held.
func (l *leg) renegotiateLocked() error {
	if len(l.pendingTracks) == 0 {
		return nil
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		l.pendingTracks = nil
		return nil
	}
	if !l.negotiated || l.pc.SignalingState() != webrtc.SignalingStateStable {
		return nil // AnswerOffer or AcceptAnswer calls again
	}
	for _, t := range l.pendingTracks {
		sender, err := l.pc.AddTrack(t)
		if err != nil {
			return fmt.Errorf("media: leg %q: add track: %w", l.name, err)
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil
		}
		l.wg.Add(1)
		l.mu.Unlock()
		go drainRTCP(&l.wg, sender)
	}
	l.pendingTracks = nil
	o, err := l.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("media: leg %q: renegotiation offer: %w", l.name, err)
	}
	if err := l.pc.SetLocalDescription(o); err != nil {
		return fmt.Errorf("media: leg %q: renegotiation offer: %w", l.name, err)
	}
	offer := stripCandidates(l.pc.LocalDescription().SDP)
	if f := l.ev.Renegotiate; f != nil {
		l.q.push(func() { f(offer) })
	}
	return nil
}

// stripCandidates removes the candidate lines from a description: the
// relay's candidates trickle once, at the start (a renegotiation keeps the
// ICE session).
func stripCandidates(desc string) string {
	lines := strings.SplitAfter(desc, "\n")
	out := lines[:0]
	for _, ln := range lines {
		if strings.HasPrefix(ln, "a=candidate:") || strings.HasPrefix(ln, "a=end-of-candidates") {
			continue
		}
		out = append(out, ln)
	}
	return strings.Join(out, "")
}
