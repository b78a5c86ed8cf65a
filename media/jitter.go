package media

import "time"

// jitter estimates the interarrival jitter of one leg's incoming RTP
// (RFC 3550 §6.4.1, A.8): for each audio packet, the transit time is its
// arrival (in RTP timestamp units) minus its RTP timestamp; the jitter J
// moves a sixteenth of the way toward |D|, the change of transit from the
// previous packet. It starts again when the source or the clock rate
// changes. It lives in the leg's read loop (not shared).
type jitter struct {
	have    bool
	ssrc    uint32
	rate    uint32
	start   time.Time
	transit int64
	j       float64 // in timestamp units
}

// add takes a packet of ssrc with RTP timestamp ts at clock rate, arrived
// at now, and returns the jitter so far.
func (e *jitter) add(ssrc, ts, rate uint32, now time.Time) time.Duration {
	if rate == 0 {
		return 0
	}
	if !e.have || ssrc != e.ssrc || rate != e.rate {
		*e = jitter{have: true, ssrc: ssrc, rate: rate, start: now, transit: -int64(ts)}
		return 0
	}
	arrival := now.Sub(e.start).Nanoseconds() * int64(rate) / int64(time.Second)
	transit := arrival - int64(ts)
	// Timestamps wrap at 2**32: the difference is taken modulo it.
	d := int64(int32(uint32(transit - e.transit)))
	e.transit = transit
	if d < 0 {
		d = -d
	}
	e.j += (float64(d) - e.j) / 16
	return time.Duration(e.j * float64(time.Second) / float64(rate))
}
