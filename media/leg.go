package media

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// leg is one peer connection ending on the relay: one incoming audio track
// (the peer's), one outgoing (outTrack).
type leg struct {
	r      *Relay
	name   string
	serial uint64
	pc     *webrtc.PeerConnection
	sender *webrtc.RTPSender
	out    *outTrack
	ev     LegEvents
	q      *eventQueue
	done   chan struct{} // closed when the leg closes

	mu          sync.Mutex
	remoteSet   bool
	pending     []webrtc.ICECandidateInit
	closed      bool
	state       LegState // "" until pion reports one
	codec       codecKey
	wg          sync.WaitGroup // read loop, RTCP loop, DTMF player
	dtmfQueue   []rune
	dtmfPlaying bool
	music       chan struct{} // closed to stop the hold music; nil: none plays (hold_music.go)

	// rtp: a plain RTP leg (a SIP phone's, rtp.go): no peer connection,
	// a UDP socket.
	rtp *rtpConn

	// mirror: an echo leg (AddEchoLeg): no peer connection; what is
	// forwarded to it goes back to its sender.
	mirror bool

	// sip: a WebRTC leg of a browser SIP stack (sip_webrtc.go): its SDPs
	// carry every candidate (no trickle), and it takes one stream in a
	// conference, as an RTP leg (SIP cannot renegotiate it).
	sip bool

	// Conferences (Join), guarded by Relay.mu: the conference the leg is
	// in, all its outgoing tracks (outs[0] is out), and in a conference of
	// three or more which of them carries which member.
	conf  *conference
	outs  []*outTrack
	slots map[*leg]*outTrack

	// negMu orders the offers and answers of the leg's peer connection.
	negMu         sync.Mutex
	negotiated    bool        // the first offer/answer exchange is over
	pendingTracks []*outTrack // tracks waiting for the next renegotiation

	inPTs atomic.Pointer[ptMap]   // the peer's payload types
	peer  atomic.Pointer[leg]     // where this leg's audio goes; itself for echo
	fan   atomic.Pointer[[]route] // in a conference of three or more: where it goes instead
	muted atomic.Bool
	held  atomic.Bool
	rec   atomic.Pointer[recTap] // a recording of what it sends (recorder.go)
	stats legCounters
}

// newLeg builds the peer connection of a leg, with its outgoing track and its
// callbacks; called with r.mu held. only restricts the codecs offered (OfferOptions.MatchLeg).
func (r *Relay) newLeg(name string, serial uint64, only *webrtc.RTPCodecParameters, want codecKey, ev LegEvents) (*leg, error) {
	api, err := r.newAPI(only)
	if err != nil {
		return nil, fmt.Errorf("media: leg %q: %w", name, err)
	}
	certs, err := r.certificateLocked()
	if err != nil {
		return nil, fmt.Errorf("media: leg %q: certificate: %w", name, err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: certs})
	if err != nil {
		return nil, fmt.Errorf("media: leg %q: %w", name, err)
	}
	l := &leg{
		r:      r,
		name:   name,
		serial: serial,
		pc:     pc,
		out:    newOutTrack(name, want),
		ev:     ev,
		q:      newEventQueue(),
		done:   make(chan struct{}),
	}
	l.outs = []*outTrack{l.out}
	l.sender, err = pc.AddTrack(l.out)
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("media: leg %q: add track: %w", name, err)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		l.q.run()
	}()
	l.wg.Add(1)
	go drainRTCP(&l.wg, l.sender)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			if ev.GatheringDone != nil {
				l.q.push(ev.GatheringDone)
			}
			return
		}
		if ev.Candidate != nil {
			init := c.ToJSON()
			cand := ICECandidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}
			l.q.push(func() { ev.Candidate(cand) })
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			l.setState(LegConnected)
		case webrtc.PeerConnectionStateDisconnected:
			l.setState(LegDisconnected)
		case webrtc.PeerConnectionStateFailed:
			l.setState(LegFailed)
		case webrtc.PeerConnectionStateClosed:
			l.setState(LegClosed)
		case webrtc.PeerConnectionStateConnecting:
			l.setState(LegConnecting)
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if t.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return
		}
		l.wg.Add(1)
		l.mu.Unlock()
		defer l.wg.Done()
		l.readLoop(trackReader(t))
	})
	return l, nil
}

// setLocal sets the leg's local description; a SIP leg's waits for ICE
// gathering to end (or ctx), so that the SDP carries every candidate.
func (l *leg) setLocal(ctx context.Context, d webrtc.SessionDescription) error {
	if !l.sip {
		return l.pc.SetLocalDescription(d)
	}
	gathered := webrtc.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(d); err != nil {
		return err
	}
	select {
	case <-gathered:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setState records and reports a state change (once per change).
func (l *leg) setState(s LegState) {
	l.mu.Lock()
	if l.state == s || l.state == LegClosed {
		l.mu.Unlock()
		return
	}
	l.state = s
	l.mu.Unlock()
	if l.ev.State != nil {
		f := l.ev.State
		l.q.push(func() { f(s) })
	}
}

func (l *leg) getState() LegState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == "" {
		return LegConnecting
	}
	return l.state
}

// drainRTCP reads the RTCP the peer sends about one of our tracks, so that
// the interceptors see it; it ends when the leg closes.
func drainRTCP(wg *sync.WaitGroup, sender *webrtc.RTPSender) {
	defer wg.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := sender.Read(buf); err != nil {
			return
		}
	}
}

// remoteDescriptionSet records the peer's payload types and codec and adds
// the candidates that were waiting for it.
func (l *leg) remoteDescriptionSet(pts ptMap, codec codecKey) error {
	l.inPTs.Store(&pts)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codec = codec
	l.remoteSet = true
	pending := l.pending
	l.pending = nil
	var first error
	for _, c := range pending {
		if err := l.pc.AddICECandidate(c); err != nil && first == nil {
			first = fmt.Errorf("media: leg %q: buffered candidate: %w: %v", l.name, ErrBadCandidate, err)
		}
	}
	return first
}

// addCandidate adds a remote candidate, or keeps it until the remote
// description is set.
func (l *leg) addCandidate(c ICECandidate) error {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	if init.SDPMid == nil && init.SDPMLineIndex == nil {
		zero := uint16(0)
		init.SDPMLineIndex = &zero
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("media: leg %q: %w", l.name, ErrNoLeg)
	}
	if !l.remoteSet {
		l.pending = append(l.pending, init)
		return nil
	}
	if err := l.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("media: leg %q: %w: %v", l.name, ErrBadCandidate, err)
	}
	return nil
}

// checkCandidate parses a candidate line before anyone keeps it.
func checkCandidate(c ICECandidate) error {
	s := strings.TrimPrefix(c.Candidate, "candidate:")
	if s == "" {
		return nil
	}
	if _, err := ice.UnmarshalCandidate(s); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

// close stops the leg: its peer connection, then its goroutines. The "closed"
// state is its last event.
func (l *leg) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	if l.pc != nil {
		_ = l.pc.Close()
	}
	if l.rtp != nil {
		_ = l.rtp.conn.Close()
	}
	l.wg.Wait()
	l.setState(LegClosed)
	l.q.close()
}

// negotiatedCodec is the codec the leg negotiated, waiting up to wait (or
// ctx) while its offer or answer is still being set; zero when none.
func (l *leg) negotiatedCodec(ctx context.Context, wait time.Duration) codecKey {
	deadline := time.Now().Add(wait)
	for {
		l.mu.Lock()
		k, closed := l.codec, l.closed
		l.mu.Unlock()
		if k != (codecKey{}) || closed || time.Now().After(deadline) || ctx.Err() != nil {
			return k
		}
		time.Sleep(5 * time.Millisecond)
	}
}
