package mediatest

import (
	"context"
	"errors"
	"fmt"
	"github.com/callengine/callengine/media/internal/g711"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

const mimeTE = "audio/telephone-event"

// Settings shape a TestPeer. The zero value sends Opus-sized packets marked
// "peer" every 20 ms, on any interface.
type Settings struct {
	// Media gives the ICE settings (LoopbackOnly, ports).
	Media media.Settings
	// Codec is the codec the peer prefers: "opus" (default), "pcmu", "pcma".
	Codec string
	// Marker fills the payload of every packet sent (repeated), so that the
	// receiver can tell whose audio it hears; at most 8 bytes count.
	Marker string
	// Interval between packets; 0 = 20 ms.
	Interval time.Duration
}

// TestPeer is a Go WebRTC client with a microphone that sends packets of
// its marker and a speaker that counts what arrives.
type TestPeer struct {
	s     Settings
	pc    *webrtc.PeerConnection
	track *rawTrack

	connected chan struct{}
	failed    chan struct{}
	stateOnce sync.Once
	failOnce  sync.Once
	wg        sync.WaitGroup
	done      chan struct{}

	mu        sync.Mutex
	remoteSet bool
	pending   []webrtc.ICECandidateInit
	te        map[uint8]bool
	recv      Received
	byMarker  map[string]uint64
	tracks    int
	renegErr  error
	sending   bool
	stopSend  chan struct{}

	sendMu sync.Mutex // seq, ts and the DTMF pause
	seq    uint16
	ts     uint32
	inDTMF bool
	sent   uint64
	heard  int // the mean level of the newest G.711 packet received (Heard)
}

// Received are the figures of what a TestPeer heard.
type Received struct {
	Packets    uint64 // RTP packets, DTMF included
	Audio      uint64 // packets that were not telephone-events
	Lost       uint64 // sequence gaps
	MaxJump    uint16 // the largest forward step of the sequence number (1 = continuous)
	Backwards  uint64 // packets older than the newest
	SSRCs      int    // how many SSRCs were seen (1 = one stream)
	Tracks     int    // how many incoming tracks the peer has read
	DTMF       string // digits, one per event
	LastMarker string // the marker of the newest audio packet
	ssrcs      map[uint32]bool
}

var errClosedPeer = errors.New("mediatest: peer closed")

// NewTestPeer makes a peer; it dials or answers with Offer, Answer, Dial or
// Accept.
func NewTestPeer(ctx context.Context, s Settings) (*TestPeer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.Interval <= 0 {
		s.Interval = 20 * time.Millisecond
	}
	if s.Marker == "" {
		s.Marker = "peer"
	}
	if s.Codec == "" {
		s.Codec = "opus"
	}
	me := &webrtc.MediaEngine{}
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
	pcmu := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0}
	pcma := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000, Channels: 1}, PayloadType: 8}
	codecs := []webrtc.RTPCodecParameters{opus, pcmu, pcma}
	want := webrtc.MimeTypeOpus
	switch strings.ToLower(s.Codec) {
	case "pcmu":
		codecs, want = []webrtc.RTPCodecParameters{pcmu, opus, pcma}, webrtc.MimeTypePCMU
	case "pcma":
		codecs, want = []webrtc.RTPCodecParameters{pcma, opus, pcmu}, webrtc.MimeTypePCMA
	}
	// Telephone-event numbers differ from the relay's on purpose.
	codecs = append(codecs,
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTE, ClockRate: 48000, SDPFmtpLine: "0-16"}, PayloadType: 101},
		webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTE, ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 100},
	)
	for _, c := range codecs {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	se, err := s.Media.SettingEngine()
	if err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &TestPeer{
		s:         s,
		pc:        pc,
		track:     &rawTrack{want: want},
		connected: make(chan struct{}),
		failed:    make(chan struct{}),
		done:      make(chan struct{}),
		te:        map[uint8]bool{100: true, 101: true},
		byMarker:  map[string]uint64{},
		seq:       1000,
		ts:        90000,
	}
	p.recv.ssrcs = map[uint32]bool{}
	sender, err := pc.AddTrack(p.track)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			p.stateOnce.Do(func() { close(p.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			p.failOnce.Do(func() { close(p.failed) })
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.mu.Lock()
		select {
		case <-p.done:
			p.mu.Unlock()
			return
		default:
		}
		p.wg.Add(1)
		p.mu.Unlock()
		defer p.wg.Done()
		p.readLoop(t)
	})
	return p, nil
}

// Offer returns the peer's offer, candidates included.
func (p *TestPeer) Offer(ctx context.Context) (string, error) {
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	return p.setLocal(ctx, o)
}

// Answer takes an offer and returns the peer's answer, candidates included.
// It also answers a renegotiation offer on a connection that is up (the
// relay adding tracks): the new tracks are read like the first one.
func (p *TestPeer) Answer(ctx context.Context, offer string) (string, error) {
	if err := p.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	a, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	return p.setLocal(ctx, a)
}

// SetAnswer takes the answer to Offer.
func (p *TestPeer) SetAnswer(answer string) error {
	return p.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
}

func (p *TestPeer) setLocal(ctx context.Context, d webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(d); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return p.pc.LocalDescription().SDP, nil
}

func (p *TestPeer) setRemote(d webrtc.SessionDescription) error {
	if err := p.pc.SetRemoteDescription(d); err != nil {
		return err
	}
	var sd sdp.SessionDescription
	te := map[uint8]bool{}
	if sd.UnmarshalString(d.SDP) == nil {
		for _, m := range sd.MediaDescriptions {
			for _, a := range m.Attributes {
				var pt uint8
				var name string
				if a.Key == "rtpmap" {
					if _, err := fmt.Sscanf(a.Value, "%d %s", &pt, &name); err == nil && strings.HasPrefix(strings.ToLower(name), "telephone-event/") {
						te[pt] = true
					}
				}
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for pt := range te {
		p.te[pt] = true
	}
	p.remoteSet = true
	for _, c := range p.pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			return err
		}
	}
	p.pending = nil
	return nil
}

// AddICECandidate adds a candidate of the far side; before the remote
// description it waits.
func (p *TestPeer) AddICECandidate(c media.ICECandidate) error {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.remoteSet {
		p.pending = append(p.pending, init)
		return nil
	}
	return p.pc.AddICECandidate(init)
}

// Dial makes the peer dial the relay as leg (it offers, AnswerOffer
// answers). ev's Candidate also goes to the peer.
func (p *TestPeer) Dial(ctx context.Context, r *media.Relay, leg string, ev media.LegEvents) error {
	return p.DialWith(ctx, r, leg, media.AnswerOptions{}, ev)
}

// DialWith is Dial with the relay's AnswerOptions (PreferG711).
func (p *TestPeer) DialWith(ctx context.Context, r *media.Relay, leg string, opt media.AnswerOptions, ev media.LegEvents) error {
	offer, err := p.Offer(ctx)
	if err != nil {
		return err
	}
	answer, err := r.AnswerOfferWith(ctx, leg, offer, opt, p.wrap(ev, r, leg))
	if err != nil {
		return err
	}
	return p.SetAnswer(answer)
}

// Accept makes the relay offer leg to the peer (CreateOffer, the peer
// answers, AcceptAnswer).
func (p *TestPeer) Accept(ctx context.Context, r *media.Relay, leg string, opt media.OfferOptions, ev media.LegEvents) error {
	offer, err := r.CreateOffer(ctx, leg, opt, p.wrap(ev, r, leg))
	if err != nil {
		return err
	}
	answer, err := p.Answer(ctx, offer)
	if err != nil {
		return err
	}
	return r.AcceptAnswer(leg, answer)
}

// wrap makes the leg's events reach the peer: its candidates, and its
// renegotiation offers (Relay.Join), which the peer answers on the spot
// (AcceptAnswer) unless ev has a Renegotiate of its own.
func (p *TestPeer) wrap(ev media.LegEvents, r *media.Relay, leg string) media.LegEvents {
	user := ev.Candidate
	ev.Candidate = func(c media.ICECandidate) {
		_ = p.AddICECandidate(c)
		if user != nil {
			user(c)
		}
	}
	if ev.Renegotiate == nil {
		ev.Renegotiate = func(offer string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			answer, err := p.Answer(ctx, offer)
			if err != nil {
				p.renegotiationFailed(err)
				return
			}
			if err := r.AcceptAnswer(leg, answer); err != nil {
				p.renegotiationFailed(err)
			}
		}
	}
	return ev
}

func (p *TestPeer) renegotiationFailed(err error) {
	p.mu.Lock()
	p.renegErr = err
	p.mu.Unlock()
}

// RenegotiationErr is the error of the latest renegotiation the peer
// answered by itself (Dial, Accept), nil if all went well.
func (p *TestPeer) RenegotiationErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.renegErr
}

// WaitConnected waits until the peer connection is up.
func (p *TestPeer) WaitConnected(ctx context.Context) error {
	select {
	case <-p.connected:
		return nil
	case <-p.failed:
		return errors.New("mediatest: connection failed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start sends a packet of the marker every Interval until Stop.
func (p *TestPeer) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sending {
		return
	}
	p.sending = true
	p.stopSend = make(chan struct{})
	stop := p.stopSend
	p.wg.Add(1)
	go p.sendLoop(stop)
}

// Stop stops sending audio.
func (p *TestPeer) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sending {
		close(p.stopSend)
		p.sending = false
	}
}

// Sent is the number of packets sent (audio and DTMF).
func (p *TestPeer) Sent() uint64 {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.sent
}

func (p *TestPeer) sendLoop(stop chan struct{}) {
	defer p.wg.Done()
	tick := time.NewTicker(p.s.Interval)
	defer tick.Stop()
	var payload []byte
	for {
		select {
		case <-stop:
			return
		case <-p.done:
			return
		case <-tick.C:
		}
		c, _, _, _, ok := p.track.codec()
		if !ok {
			continue
		}
		samples := uint32(c.ClockRate / 50)
		if payload == nil {
			size := 160 // G.711, 20 ms
			if strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus) {
				size = 80
			}
			payload = fill(p.s.Marker, size)
		}
		p.sendMu.Lock()
		if !p.inDTMF {
			h := rtp.Header{Version: 2, PayloadType: uint8(c.PayloadType), SequenceNumber: p.seq, Timestamp: p.ts}
			if p.track.write(&h, payload) {
				p.sent++
			}
			p.seq++
		}
		p.ts += samples
		p.sendMu.Unlock()
	}
}

// fill repeats marker to size bytes.
func fill(marker string, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = marker[i%len(marker)]
	}
	return b
}

// markerKey is how received payloads are counted: their first 8 bytes.
func markerKey(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return string(b)
}

// SendDTMF plays digits as RFC 4733 events on the telephone-event payload
// type, each for dur (packets every 20 ms, three end packets), 40 ms apart;
// audio pauses meanwhile. It returns when the last digit is sent.
func (p *TestPeer) SendDTMF(ctx context.Context, digits string, dur time.Duration) error {
	_, pt, rate, ok, bound := p.track.codec()
	if !bound || !ok {
		return errors.New("mediatest: no telephone-event negotiated")
	}
	const events = "0123456789*#ABCD"
	for _, d := range digits {
		ev := strings.IndexRune(events, d)
		if ev < 0 {
			return fmt.Errorf("mediatest: bad digit %q", d)
		}
		p.sendMu.Lock()
		p.inDTMF = true
		start := p.ts
		p.sendMu.Unlock()
		units := func(d time.Duration) uint16 { return uint16(d.Seconds() * float64(rate)) }
		for el := 20 * time.Millisecond; ; el += 20 * time.Millisecond {
			if el > dur {
				el = dur
			}
			p.sendEvent(pt, el == 20*time.Millisecond, start, byte(ev), false, units(el))
			if el >= dur {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		for range 3 {
			p.sendEvent(pt, false, start, byte(ev), true, units(dur))
		}
		p.sendMu.Lock()
		p.inDTMF = false
		p.sendMu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(40 * time.Millisecond):
		}
	}
	return nil
}

func (p *TestPeer) sendEvent(pt uint8, marker bool, ts uint32, ev byte, end bool, duration uint16) {
	payload := []byte{ev, 10, byte(duration >> 8), byte(duration)}
	if end {
		payload[1] |= 0x80
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	h := rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: p.seq, Timestamp: ts}
	if p.track.write(&h, payload) {
		p.sent++
	}
	p.seq++
}

// readLoop reads one incoming track: the sequence numbers and the DTMF
// events are followed per track, the markers counted over all of them.
func (p *TestPeer) readLoop(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var (
		h     rtp.Header
		tally streamTally
	)
	p.mu.Lock()
	p.tracks++
	p.recv.Tracks = p.tracks
	p.mu.Unlock()
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			if n == 0 {
				return
			}
			continue
		}
		hl, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		payload := buf[hl:n]
		p.mu.Lock()
		te := p.te[h.PayloadType]
		tally.add(&p.recv, p.recv.ssrcs, p.byMarker, &h, payload, te)
		if mime := strings.ToLower(t.Codec().MimeType); !te && len(payload) > 0 && (mime == "audio/pcmu" || mime == "audio/pcma") {
			p.heard = mean(g711.Decode(nil, mime == "audio/pcma", payload))
		}
		p.mu.Unlock()
	}
}

// Heard is the mean sample of the newest G.711 packet the peer received,
// decoded: a constant level sent to it (see MarkerLevel, RTPPeer.SetLevel).
func (p *TestPeer) Heard() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heard
}

// Received returns what the peer heard so far.
func (p *TestPeer) Received() Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.recv
	r.ssrcs = nil
	return r
}

// ReceivedFrom counts the audio packets received with a marker (as a
// Settings.Marker).
func (p *TestPeer) ReceivedFrom(marker string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byMarker[markerKey(fill(marker, 8))]
}

// Close hangs up and waits for the peer's goroutines.
func (p *TestPeer) Close() error {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		return errClosedPeer
	default:
	}
	close(p.done)
	p.mu.Unlock()
	err := p.pc.Close()
	p.wg.Wait()
	return err
}
