package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// RFC 4733 events 0-15 as digits.
const dtmfDigits = "0123456789*#ABCD"

func digitEvent(d rune) (byte, bool) {
	for i, c := range dtmfDigits {
		if c == d || (d >= 'a' && d <= 'd' && c == d-'a'+'A') {
			return byte(i), true
		}
	}
	return 0, false
}

// dtmfReader turns the telephone-event packets of one stream into digits:
// one per event, at its first end packet (the end is sent three times; an
// event is known by its timestamp).
type dtmfReader struct {
	have   bool
	lastTS uint32
}

func (r *dtmfReader) read(ts uint32, payload []byte) (rune, bool) {
	if len(payload) < 4 || payload[1]&0x80 == 0 {
		return 0, false
	}
	if r.have && r.lastTS == ts {
		return 0, false
	}
	r.have, r.lastTS = true, ts
	if int(payload[0]) >= len(dtmfDigits) {
		return 0, false
	}
	return rune(dtmfDigits[payload[0]]), true
}

// eventPayload is one RFC 4733 payload: event, end bit, volume 10, duration.
func eventPayload(ev byte, end bool, duration uint16) []byte {
	p := make([]byte, 4)
	p[0] = ev
	p[1] = 10
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], duration)
	return p
}

// SendDTMF plays digits (0-9 * # A-D) to a leg as RFC 4733 telephone-events
// on its outgoing track, with the telephone-event payload type it
// negotiated: Settings.DTMFDuration per digit (packets every 20 ms, three end
// packets), Settings.DTMFGap between digits. Forwarded audio to the leg
// pauses during each digit. It returns at once; digits queue behind those
// still playing. They play whether the leg is held or not.
func (r *Relay) SendDTMF(name, digits string) error {
	events := make([]byte, 0, len(digits))
	for _, d := range digits {
		ev, ok := digitEvent(d)
		if !ok {
			return fmt.Errorf("media: leg %q: %w: %q", name, ErrBadDigit, d)
		}
		events = append(events, ev)
	}
	l, err := r.get(name)
	if err != nil {
		return err
	}
	if l.mirror {
		return nil // an echo leg hears the digits and plays them back to no one
	}
	if _, _, ok := l.out.telephoneEvent(); !ok {
		return fmt.Errorf("media: leg %q: telephone-event: %w", name, ErrNoCodec)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("media: leg %q: %w", name, ErrNoLeg)
	}
	for _, ev := range events {
		l.dtmfQueue = append(l.dtmfQueue, rune(ev))
	}
	if !l.dtmfPlaying {
		l.dtmfPlaying = true
		l.wg.Add(1)
		go l.playDTMF()
	}
	return nil
}

// playDTMF plays the queued digits, then ends.
func (l *leg) playDTMF() {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		if len(l.dtmfQueue) == 0 || l.closed {
			l.dtmfPlaying = false
			l.dtmfQueue = nil
			l.mu.Unlock()
			return
		}
		ev := byte(l.dtmfQueue[0])
		l.dtmfQueue = l.dtmfQueue[1:]
		l.mu.Unlock()
		if !l.playEvent(ev) {
			continue
		}
		select {
		case <-l.done:
		case <-time.After(l.r.settings.dtmfGap()):
		}
	}
}

// playEvent sends one event: a packet every 20 ms with the growing duration,
// the first with the marker bit, then three end packets.
func (l *leg) playEvent(ev byte) bool {
	pt, rate, ok := l.out.telephoneEvent()
	if !ok {
		return false
	}
	const step = 20 * time.Millisecond
	total := l.r.settings.dtmfDuration()
	ts := l.out.beginEvent()
	units := func(d time.Duration) uint16 {
		u := d.Seconds() * float64(rate)
		if u > 0xffff {
			u = 0xffff
		}
		return uint16(u)
	}
	tick := time.NewTicker(step)
	defer tick.Stop()
	for el := step; ; el += step {
		if el > total {
			el = total
		}
		if l.out.writeEvent(pt, el == step, ts, eventPayload(ev, false, units(el))) {
			l.countOut()
		}
		if el >= total {
			break
		}
		select {
		case <-l.done:
			l.out.endEvent(ts + uint32(units(el)))
			return false
		case <-tick.C:
		}
	}
	for range 3 {
		if l.out.writeEvent(pt, false, ts, eventPayload(ev, true, units(total))) {
			l.countOut()
		}
	}
	l.out.endEvent(ts + uint32(units(total)))
	return true
}
