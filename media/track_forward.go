package media

import (
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// packetBufs are the read buffers of the forwarding loops.
var packetBufs = sync.Pool{New: func() any { b := make([]byte, 1500); return &b }}

// readLoop forwards the peer's packets until the leg closes: read, count,
// look for sequence gaps and DTMF, then hand the packet to the leg this one
// is connected to, unless muted or held. read is the leg's source of RTP
// packets: the WebRTC track (trackReader) or the UDP socket of an RTP leg
// (rtp.go); an error with no bytes ends the loop.
func (l *leg) readLoop(read func([]byte) (int, error)) {
	bp := packetBufs.Get().(*[]byte)
	defer packetBufs.Put(bp)
	buf := *bp
	var (
		h          rtp.Header
		haveSeq    bool
		lastSeq    uint16
		dtmf       dtmfReader
		readErrors int
		jit        jitter
	)
	for {
		n, err := read(buf)
		if err != nil {
			// A packet of a payload type pion does not know comes with an
			// error and its bytes; anything else ends the loop.
			readErrors++
			if n == 0 || readErrors > 1000 {
				return
			}
			continue
		}
		readErrors = 0
		hl, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		end := n
		if h.Padding && end > hl {
			pad := int(buf[end-1])
			if pad > end-hl {
				continue
			}
			end -= pad
		}
		payload := buf[hl:end]
		l.countIn()
		if haveSeq {
			d := h.SequenceNumber - lastSeq
			if d != 0 && d < 0x8000 {
				if d > 1 {
					l.countLost(uint64(d - 1))
				}
				lastSeq = h.SequenceNumber
			}
		} else {
			haveSeq, lastSeq = true, h.SequenceNumber
		}
		pts := l.inPTs.Load()
		if pts == nil {
			continue
		}
		k, ok := (*pts)[h.PayloadType]
		if !ok {
			continue
		}
		if !k.telephoneEvent() {
			l.stats.jitter.Store(int64(jit.add(h.SSRC, h.Timestamp, k.clockRate, time.Now())))
		}
		if k.telephoneEvent() {
			if d, ok := dtmf.read(h.Timestamp, payload); ok {
				l.countDTMFIn()
				if f := l.ev.DTMF; f != nil {
					l.q.push(func() { f(d) })
				}
			}
			if !l.r.settings.ForwardDTMF {
				continue // reported; the engine's event plays it on
			}
		}
		if t := l.rec.Load(); t != nil && !l.muted.Load() && !l.held.Load() && !k.telephoneEvent() {
			t.feed(k, payload) // recorder.go
		}
		if f := l.fan.Load(); f != nil {
			l.forwardFan(*f, k, &h, payload)
			continue
		}
		dst := l.peer.Load()
		if dst == nil {
			continue
		}
		if l.muted.Load() || l.held.Load() || dst.held.Load() {
			l.countDropped()
			continue
		}
		if dst.mirror {
			dst = l // an echo leg plays back what it hears
		}
		if dst.out.forward(l.serial, k, &h, payload) {
			dst.countOut()
		}
	}
}

// trackReader reads a WebRTC track for readLoop.
func trackReader(t *webrtc.TrackRemote) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		n, _, err := t.Read(b)
		return n, err
	}
}

// forwardFan sends a packet of a conference member to every other member,
// each on the track of that member that carries this one.
func (l *leg) forwardFan(routes []route, k codecKey, h *rtp.Header, payload []byte) {
	if l.muted.Load() || l.held.Load() {
		l.countDropped()
		return
	}
	for _, rt := range routes {
		if rt.mix != nil {
			rt.mix.push(l, k, payload)
			continue
		}
		if rt.dst.held.Load() {
			l.countDropped()
			continue
		}
		if rt.track.forward(l.serial, k, h, payload) {
			rt.dst.countOut()
		}
	}
}
