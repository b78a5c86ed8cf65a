package media

import (
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// outTrack is a leg's one outgoing audio track. Unlike pion's
// TrackLocalStaticRTP it keeps the payload type of what it is given (mapped to
// this leg's numbers), so telephone-events forward as DTMF; and it keeps one
// stream: whoever the packets come from (a peer, the leg itself for echo, the
// DTMF player), the receiver sees one SSRC with continuous sequence numbers
// and timestamps.
type outTrack struct {
	id, streamID string

	mu        sync.Mutex
	want      codecKey // the codec to send with, if negotiated
	bound     bool
	ssrc      uint32
	w         webrtc.TrackLocalWriter
	pts       map[codecKey]uint8 // this leg's payload types
	primary   codecKey
	clockRate uint32

	started bool      // a packet went out
	nextSeq uint16    // sequence number of the next packet
	lastTS  uint32    // timestamp of the newest packet out
	lastAt  time.Time // when it went out
	src     source    // the source the offsets below belong to; zero: none
	seqOff  uint16
	tsOff   uint32
	dtmf    bool // SendDTMF is playing: forwarded packets wait
	// wallClock: the stream starts where the wall clock says (an RTP
	// leg's, see bindWriter), not at random numbers.
	wallClock bool
	hdr       rtp.Header
	transcode []byte // a G.711 payload in the other law (forward)
}

func newOutTrack(leg string, want codecKey) *outTrack {
	return &outTrack{
		id:       "audio",
		streamID: "callengine-" + leg,
		want:     want,
		nextSeq:  uint16(rand.Uint32()),
		lastTS:   rand.Uint32(),
	}
}

// ID, RID, StreamID and Kind make outTrack a webrtc.TrackLocal.
func (t *outTrack) ID() string                { return t.id }
func (t *outTrack) RID() string               { return "" }
func (t *outTrack) StreamID() string          { return t.streamID }
func (t *outTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// Bind picks the codec to send with among those negotiated: the wanted one,
// else the first audio codec.
func (t *outTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	codecs := ctx.CodecParameters()
	pts := make(map[codecKey]uint8, len(codecs))
	var chosen *webrtc.RTPCodecParameters
	for i := range codecs {
		c := &codecs[i]
		k := keyOf(c.MimeType, c.ClockRate)
		if _, dup := pts[k]; !dup {
			pts[k] = uint8(c.PayloadType)
		}
		if k.telephoneEvent() || strings.EqualFold(c.MimeType, "audio/rtx") {
			continue
		}
		if chosen == nil || (k == t.want && keyOf(chosen.MimeType, chosen.ClockRate) != t.want) {
			chosen = c
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.pts = pts
	t.primary = keyOf(chosen.MimeType, chosen.ClockRate)
	t.clockRate = chosen.ClockRate
	t.ssrc = uint32(ctx.SSRC())
	t.w = ctx.WriteStream()
	t.bound = true
	return *chosen, nil
}

// Unbind stops the track's writes.
func (t *outTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.bound = false
	t.w = nil
	t.mu.Unlock()
	return nil
}

func (t *outTrack) wantCodec() codecKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.want
}

func (t *outTrack) setWant(k codecKey) {
	t.mu.Lock()
	t.want = k
	t.mu.Unlock()
}

// position is the timestamp "now" in the outgoing stream: the newest one
// sent, moved on by the time since. Called with mu held.
func (t *outTrack) position(now time.Time) uint32 {
	if !t.started {
		if t.wallClock && t.clockRate > 0 {
			return wallTS(now, t.clockRate)
		}
		return t.lastTS
	}
	adv := uint32(now.Sub(t.lastAt).Seconds() * float64(t.clockRate))
	if adv == 0 {
		adv = 1
	}
	return t.lastTS + adv
}

// source is where forwarded packets come from: a leg (its serial) and the
// SSRC of the stream it receives — a phone's new stream on the same leg
// (another phone taking the leg over, a phone that restarts its stream)
// is a new source.
type source struct {
	leg  uint64
	ssrc uint32
}

// forward writes a packet from leg src (its serial). A new source (another
// leg, or a new SSRC from the same one) gets new offsets, so the stream goes
// on where it was. It reports whether the packet went out.
func (t *outTrack) forward(src uint64, k codecKey, h *rtp.Header, payload []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound || t.dtmf {
		return false
	}
	pt, ok := t.pts[k]
	if !ok {
		// PCMU to a leg that has PCMA only, or the other way: re-encoded.
		if pt, ok = t.pts[t.primary]; !ok || !isG711(k) || !isG711(t.primary) {
			return false
		}
		t.transcode = transcodeG711(t.transcode[:0], k, payload)
		payload = t.transcode
	}
	now := time.Now()
	marker := h.Marker
	if s := (source{leg: src, ssrc: h.SSRC}); s != t.src {
		t.src = s
		t.seqOff = t.nextSeq - h.SequenceNumber
		t.tsOff = t.position(now) - h.Timestamp
		marker = true
	}
	return t.write(now, pt, marker, h.SequenceNumber+t.seqOff, h.Timestamp+t.tsOff, payload)
}

// write sends one packet. Called with mu held.
func (t *outTrack) write(now time.Time, pt uint8, marker bool, seq uint16, ts uint32, payload []byte) bool {
	t.hdr = rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    pt,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           t.ssrc,
	}
	if _, err := t.w.WriteRTP(&t.hdr, payload); err != nil {
		return false
	}
	if !t.started || int16(seq-t.nextSeq) >= 0 {
		t.nextSeq = seq + 1
		t.lastTS = ts
		t.lastAt = now
	}
	t.started = true
	return true
}

// telephoneEvent is the payload type and clock rate to send DTMF with: the
// telephone-event at the audio codec's rate, else any.
func (t *outTrack) telephoneEvent() (uint8, uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound {
		return 0, 0, false
	}
	if pt, ok := t.pts[codecKey{mimeTelephoneEvent, t.clockRate}]; ok {
		return pt, t.clockRate, true
	}
	for k, pt := range t.pts {
		if k.telephoneEvent() {
			return pt, k.clockRate, true
		}
	}
	return 0, 0, false
}

// beginEvent holds forwarded packets back and returns the timestamp of a
// telephone-event starting now.
func (t *outTrack) beginEvent() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dtmf = true
	return t.position(time.Now())
}

// writeEvent sends one telephone-event packet at timestamp ts.
func (t *outTrack) writeEvent(pt uint8, marker bool, ts uint32, payload []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound {
		return false
	}
	return t.write(time.Now(), pt, marker, t.nextSeq, ts, payload)
}

// endEvent lets forwarded packets through again; they continue after the
// event (new offsets).
func (t *outTrack) endEvent(ts uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dtmf = false
	t.src = source{}
	t.lastTS = ts
	t.lastAt = time.Now()
}

// The line an RTP leg's stream starts on. A leg built again after a
// restart has the SSRC it had (ssrcOf its SDP's session id, which the
// phone's record keeps) and starts where this line is then: its timestamps
// go on as if it had been sending all along (a stream's timestamps follow
// the wall clock, see position), and its sequence numbers by a 20 ms
// packet clock, the usual G.711 packetization — a stream that sent fewer
// packets (a hold, silence) is behind the line and steps forward, as after
// a loss. A phone sending every 10 ms runs ahead of it and sees the
// sequence numbers step back once after a restart: a receiver takes that
// as a new start of the same source (RFC 3550 A.1).

// ssrcOf is the SSRC of the stream of the RTP leg whose SDP session id is
// sessID.
func ssrcOf(sessID uint64) uint32 {
	if s := uint32(sessID) ^ uint32(sessID>>32); s != 0 {
		return s
	}
	return 1
}

// wallSeq is the sequence number the packet clock gives at now.
func wallSeq(now time.Time) uint16 { return uint16(now.UnixMilli() / 20) }

// wallTS is the RTP timestamp at rate the wall clock gives at now.
func wallTS(now time.Time, rate uint32) uint32 {
	ns := now.UnixNano()
	sec, frac := uint64(ns/1e9), uint64(ns%1e9)
	return uint32(sec*uint64(rate) + frac*uint64(rate)/1e9)
}
