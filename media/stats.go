package media

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Stats are the relay's totals since it started, closed legs included.
type Stats struct {
	Legs           int    // legs up now
	PacketsIn      uint64 // RTP packets received from legs
	PacketsOut     uint64 // RTP packets sent to legs (forwarded, echoed, DTMF played)
	PacketsDropped uint64 // packets not forwarded because a leg was muted or held
	Lost           uint64 // packets missing from what legs sent (sequence gaps)
	DTMFIn         uint64 // digits received
}

// LegStats describe one leg.
type LegStats struct {
	State          LegState
	Codec          string // the audio codec the peer negotiated, "audio/opus/48000"; "" until known
	Peer           string // the leg its audio goes to; its own name for echo; "" for none (or a conference of three or more)
	Conference     string // the conference it is in (Join); ""
	Tracks         int    // its outgoing tracks: 1, more after a conference of three or more
	Muted, Held    bool
	PacketsIn      uint64
	PacketsOut     uint64
	PacketsDropped uint64
	Lost           uint64
	DTMFIn         uint64
	// Jitter is the interarrival jitter of what the leg receives (RFC 3550
	// §6.4.1: the smoothed difference of arrival spacing and RTP timestamp
	// spacing); 0 until two audio packets came.
	Jitter time.Duration
	// Encryption of the leg's media: "dtls-srtp" (a WebRTC leg), "sdes"
	// followed by the crypto suite ("sdes AES_CM_128_HMAC_SHA1_80", an RTP
	// leg on SRTP), "" (plain RTP, an echo leg).
	Encryption string
	// SRTPFailures counts the packets that failed SRTP authentication
	// (dropped; a wrong key, a forged or replayed packet).
	SRTPFailures uint64
}

type legCounters struct {
	in, out, dropped, lost, dtmfIn atomic.Uint64
	jitter                         atomic.Int64 // nanoseconds (jitter.go)
}

type relayCounters struct {
	legCounters
}

// Stats returns the relay's totals.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	n := len(r.legs)
	r.mu.Unlock()
	return Stats{
		Legs:           n,
		PacketsIn:      r.totals.in.Load(),
		PacketsOut:     r.totals.out.Load(),
		PacketsDropped: r.totals.dropped.Load(),
		Lost:           r.totals.lost.Load(),
		DTMFIn:         r.totals.dtmfIn.Load(),
	}
}

// LegStats returns one leg's figures.
func (r *Relay) LegStats(name string) (LegStats, error) {
	l, err := r.get(name)
	if err != nil {
		return LegStats{}, err
	}
	s := LegStats{
		State:          l.getState(),
		Muted:          l.muted.Load(),
		Held:           l.held.Load(),
		PacketsIn:      l.stats.in.Load(),
		PacketsOut:     l.stats.out.Load(),
		PacketsDropped: l.stats.dropped.Load(),
		Lost:           l.stats.lost.Load(),
		DTMFIn:         l.stats.dtmfIn.Load(),
		Jitter:         time.Duration(l.stats.jitter.Load()),
	}
	l.mu.Lock()
	if l.codec.mime != "" {
		s.Codec = fmt.Sprintf("%s/%d", l.codec.mime, l.codec.clockRate)
	}
	l.mu.Unlock()
	switch {
	case l.pc != nil:
		s.Encryption = "dtls-srtp"
	case l.rtp != nil:
		if sess := l.rtp.srtp.Load(); sess != nil {
			s.Encryption = "sdes " + sess.local.suite.name
		}
		s.SRTPFailures = l.rtp.failures.Load()
	}
	r.mu.Lock()
	if p := l.peer.Load(); p != nil {
		s.Peer = p.name // under r.mu: RenameLeg changes names
	}
	if l.conf != nil {
		s.Conference = l.conf.name
	}
	s.Tracks = len(l.outs)
	r.mu.Unlock()
	return s, nil
}

// count adds to a leg's counter and the relay's total.
func (l *leg) countIn()      { l.stats.in.Add(1); l.r.totals.in.Add(1) }
func (l *leg) countOut()     { l.stats.out.Add(1); l.r.totals.out.Add(1) }
func (l *leg) countDropped() { l.stats.dropped.Add(1); l.r.totals.dropped.Add(1) }
func (l *leg) countDTMFIn()  { l.stats.dtmfIn.Add(1); l.r.totals.dtmfIn.Add(1) }
func (l *leg) countLost(n uint64) {
	l.stats.lost.Add(n)
	l.r.totals.lost.Add(n)
}
