package media

import "fmt"

// Connect forwards a's audio to b and b's to a. Earlier peers of a and b stop
// hearing them (and stop being heard). Connect(a, a) is Echo(a).
func (r *Relay) Connect(a, b string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	la, err := r.getLocked(a)
	if err != nil {
		return err
	}
	lb, err := r.getLocked(b)
	if err != nil {
		return err
	}
	r.unlinkLocked(la)
	r.unlinkLocked(lb)
	la.peer.Store(lb)
	lb.peer.Store(la)
	return nil
}

// Disconnect stops forwarding to and from a leg; the leg stays up.
func (r *Relay) Disconnect(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, err := r.getLocked(name)
	if err != nil {
		return err
	}
	r.unlinkLocked(l)
	return nil
}

// SetMuted: audio (and DTMF) from a muted leg is not forwarded, whatever its
// peer sends. DTMF from it is still reported.
func (r *Relay) SetMuted(name string, muted bool) error {
	l, err := r.get(name)
	if err != nil {
		return err
	}
	l.muted.Store(muted)
	return nil
}

// SetHeld: nothing is forwarded to or from a held leg. The connection stays
// up, and so does the pairing: unhold and audio flows again.
func (r *Relay) SetHeld(name string, held bool) error {
	l, err := r.get(name)
	if err != nil {
		return err
	}
	l.held.Store(held)
	return nil
}

func (r *Relay) getLocked(name string) (*leg, error) {
	if r.closed {
		return nil, fmt.Errorf("media: leg %q: %w", name, ErrClosed)
	}
	l, ok := r.legs[name]
	if !ok {
		return nil, fmt.Errorf("media: leg %q: %w", name, ErrNoLeg)
	}
	return l, nil
}

// unlinkLocked ends l's pairing or takes it out of its conference: l sends
// to no one, and whoever l was paired with no longer sends to l. Called with
// r.mu held.
func (r *Relay) unlinkLocked(l *leg) {
	if l.conf != nil {
		r.leaveConfLocked(l)
		return
	}
	old := l.peer.Swap(nil)
	if old != nil && old != l {
		old.peer.CompareAndSwap(l, nil)
	}
}
