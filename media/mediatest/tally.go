package mediatest

import "github.com/pion/rtp"

// streamTally follows one incoming stream for a peer: its sequence numbers
// and its RFC 4733 events.
type streamTally struct {
	lastSeq   uint16
	haveSeq   bool
	lastEndTS uint32
	haveEnd   bool
}

// add counts one received packet into r: ssrcs are the streams seen,
// byMarker the audio packets by marker; te says the packet is a
// telephone-event (a digit is counted once, at its first end packet).
func (s *streamTally) add(r *Received, ssrcs map[uint32]bool, byMarker map[string]uint64, h *rtp.Header, payload []byte, te bool) {
	r.Packets++
	ssrcs[h.SSRC] = true
	r.SSRCs = len(ssrcs)
	if s.haveSeq {
		d := h.SequenceNumber - s.lastSeq
		switch {
		case d == 0:
		case d < 0x8000:
			r.Lost += uint64(d - 1)
			r.MaxJump = max(r.MaxJump, d)
			s.lastSeq = h.SequenceNumber
		default:
			r.Backwards++
		}
	} else {
		s.haveSeq, s.lastSeq = true, h.SequenceNumber
	}
	if te {
		if len(payload) >= 4 && payload[1]&0x80 != 0 && (!s.haveEnd || s.lastEndTS != h.Timestamp) {
			s.haveEnd, s.lastEndTS = true, h.Timestamp
			if int(payload[0]) < 16 {
				r.DTMF += string("0123456789*#ABCD"[payload[0]])
			}
		}
		return
	}
	r.Audio++
	k := markerKey(payload)
	byMarker[k]++
	r.LastMarker = k
}
