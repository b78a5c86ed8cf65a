package media

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// The mixer gives a conference member that takes one stream (an RTP leg: a
// SIP phone or trunk, which cannot be given a track per member) the sum of
// the others. Every mixFrame it takes one frame of each member's queued
// audio, and for each such member adds up the frames of the others, clips
// the sum and encodes it in the member's codec, sent on its one outgoing
// track (one stream: its SSRC and numbering go on, as for any source).
//
// Only G.711 (PCMU, PCMA) is decoded: a member sending another codec (a
// browser on Opus) is not in the mixes; members that take a track per
// member (browsers) still hear everyone, each on a track of its own.

// mixFrame is the mixer's tick and the length of what it sends: 20 ms,
// 160 samples at 8 kHz.
const (
	mixFrame   = 20 * time.Millisecond
	mixSamples = 160
	// mixQueue bounds the audio waiting per member (100 ms): a member that
	// sends faster than the mixer takes loses its oldest samples.
	mixQueue = 5 * mixSamples
)

// mixer is the mixing of one conference. hearers and queues change under
// mu (routeLocked, with Relay.mu held); the rest is the tick goroutine's.
type mixer struct {
	serial uint64 // the source of its packets, as a leg's serial
	stop   chan struct{}

	mu      sync.Mutex
	queues  map[*leg][]int16 // each member's decoded audio, oldest first
	hearers []*leg           // the members that hear a mix

	frames  map[*leg][]int16 // this tick's frame of each member
	streams map[*leg]*mixStream
	sum     [mixSamples]int32
	pcm     [mixSamples]int16
	payload []byte
}

// mixStream numbers the packets of one hearer's mix.
type mixStream struct {
	seq uint16
	ts  uint32
}

// newMixerLocked starts the mixing of a conference. Called with r.mu held.
func (r *Relay) newMixerLocked() *mixer {
	r.serial++
	m := &mixer{
		serial:  r.serial,
		stop:    make(chan struct{}),
		queues:  map[*leg][]int16{},
		frames:  map[*leg][]int16{},
		streams: map[*leg]*mixStream{},
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		m.run()
	}()
	return m
}

// close stops the mixing. Called with r.mu held.
func (m *mixer) close() { close(m.stop) }

// set names the members (each gets a queue) and those of them that hear a
// mix.
func (m *mixer) set(members, hearers []*leg) {
	m.mu.Lock()
	defer m.mu.Unlock()
	queues := make(map[*leg][]int16, len(members))
	for _, l := range members {
		queues[l] = m.queues[l]
	}
	m.queues = queues
	m.hearers = append(m.hearers[:0:0], hearers...)
}

// push queues a packet of member l, if it is G.711 (the only codec the
// mixer decodes).
func (m *mixer) push(l *leg, k codecKey, payload []byte) {
	if !isG711(k) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q, ok := m.queues[l]
	if !ok {
		return
	}
	q = decodeG711(q, k, payload)
	if over := len(q) - mixQueue; over > 0 {
		q = q[:copy(q, q[over:])]
	}
	m.queues[l] = q
}

func (m *mixer) run() {
	tick := time.NewTicker(mixFrame)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.tick()
		}
	}
}

// tick takes a frame of each member and sends each hearer its mix.
func (m *mixer) tick() {
	m.mu.Lock()
	for l, f := range m.frames {
		if _, ok := m.queues[l]; ok {
			m.frames[l] = f[:0]
		} else {
			delete(m.frames, l)
		}
	}
	for l, q := range m.queues {
		if len(q) == 0 {
			continue
		}
		n := min(len(q), mixSamples)
		f := append(m.frames[l][:0], q[:n]...)
		m.frames[l] = f
		m.queues[l] = q[:copy(q, q[n:])]
	}
	hearers := m.hearers
	m.mu.Unlock()
	for _, d := range hearers {
		st := m.streams[d]
		if st == nil {
			st = &mixStream{}
			m.streams[d] = st
		}
		st.ts += mixSamples // time goes on, sent or not
		if m.mixFor(d) {
			m.send(d, st)
		}
	}
	for d := range m.streams {
		if !containsLeg(hearers, d) {
			delete(m.streams, d)
		}
	}
}

// mixFor adds up the frames of every member but d into m.pcm; false when
// there is nothing for d to hear.
func (m *mixer) mixFor(d *leg) bool {
	if d.held.Load() {
		return false
	}
	clear(m.sum[:])
	heard := false
	for l, f := range m.frames {
		if l == d || len(f) == 0 {
			continue
		}
		heard = true
		for i, s := range f {
			m.sum[i] += int32(s)
		}
	}
	if !heard {
		return false
	}
	for i, s := range m.sum {
		m.pcm[i] = int16(max(-32768, min(32767, s)))
	}
	return true
}

// send encodes m.pcm in d's codec and writes it on d's track.
func (m *mixer) send(d *leg, st *mixStream) {
	k, ok := d.out.mixCodec()
	if !ok {
		return
	}
	m.payload = encodeG711(m.payload[:0], k, m.pcm[:])
	st.seq++
	h := rtp.Header{SequenceNumber: st.seq, Timestamp: st.ts}
	if d.out.forward(m.serial, k, &h, m.payload) {
		d.countOut()
	}
}

// mixCodec is the codec a mix is sent to this track with: its own, if the
// track is bound and it is G.711.
func (t *outTrack) mixCodec() (codecKey, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.primary, t.bound && isG711(t.primary)
}
