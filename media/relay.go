package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Relay forwards RTP between the legs it is told to connect. It owns the
// sockets and the goroutines of its legs and decides nothing about calls.
type Relay struct {
	settings Settings
	se       webrtc.SettingEngine
	wg       sync.WaitGroup // the legs' event goroutines

	mu    sync.Mutex
	legs  map[string]*leg
	confs map[string]*conference
	// recordings under way, by id (recorder.go)
	recordings map[string]*recording
	serial     uint64
	closed     bool
	cert       *webrtc.Certificate

	totals relayCounters
}

// OfferOptions tune CreateOffer.
type OfferOptions struct {
	// MatchLeg: offer only the codec that leg negotiated, so that both legs
	// use the same codec and nothing needs transcoding.
	MatchLeg string
	// SRTP: an RTP leg's offer (OfferRTP) is RTP/SAVP, keyed with SDES
	// (srtp.go): a crypto line per suite the relay offers. The answer must
	// take one of them.
	SRTP bool
	// WebRTC: OfferRTP offers a WebRTC leg (ICE, DTLS-SRTP, every
	// candidate in the SDP) for a browser SIP stack, in the codec of
	// MatchLeg, else PCMU (sip_webrtc.go).
	WebRTC bool
}

// NewRelay makes a relay with the given settings.
func NewRelay(s Settings) (*Relay, error) {
	se, err := s.SettingEngine()
	if err != nil {
		return nil, fmt.Errorf("media: settings: %w", err)
	}
	return &Relay{settings: s, se: se, legs: map[string]*leg{}, confs: map[string]*conference{}}, nil
}

// Close closes every leg and waits for their goroutines. It must not be
// called from a LegEvents callback.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for _, c := range r.confs {
		r.stopMixLocked(c)
	}
	legs := make([]*leg, 0, len(r.legs))
	for _, l := range r.legs {
		legs = append(legs, l)
	}
	r.legs = map[string]*leg{}
	recs := r.stopRecordingsLocked()
	r.mu.Unlock()
	for _, rec := range recs {
		_, _ = rec.finish() // its file is complete, header and all
	}
	var wg sync.WaitGroup
	for _, l := range legs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.close()
		}()
	}
	wg.Wait()
	r.wg.Wait()
	return nil
}

// reserve adds a leg under a new name, built by mk.
func (r *Relay) reserve(name string, mk func(serial uint64) (*leg, error)) (*leg, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("media: leg %q: %w", name, ErrClosed)
	}
	if _, ok := r.legs[name]; ok {
		return nil, fmt.Errorf("media: leg %q: %w", name, ErrLegExists)
	}
	r.serial++
	l, err := mk(r.serial)
	if err != nil {
		return nil, err
	}
	r.legs[name] = l
	r.tapLocked(l) // a recorded name (recorder.go)
	return l, nil
}

// drop removes a leg that failed to set up; it sends no events.
func (r *Relay) drop(l *leg) {
	r.mu.Lock()
	if r.legs[l.name] == l {
		delete(r.legs, l.name)
	}
	r.mu.Unlock()
	l.close()
}

func (r *Relay) get(name string) (*leg, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("media: leg %q: %w", name, ErrClosed)
	}
	l, ok := r.legs[name]
	if !ok {
		return nil, fmt.Errorf("media: leg %q: %w", name, ErrNoLeg)
	}
	return l, nil
}

// awaitLeg is getConnected, waiting up to wait (or ctx) for a leg that is
// not there yet.
func (r *Relay) awaitLeg(ctx context.Context, name string, wait time.Duration) (*leg, error) {
	deadline := time.Now().Add(wait)
	for {
		l, err := r.getConnected(name)
		if !errors.Is(err, ErrNoLeg) || time.Now().After(deadline) || ctx.Err() != nil || r.isClosed() {
			return l, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// getConnected is get for what needs a peer connection: an echo leg
// (AddEchoLeg) has none.
func (r *Relay) getConnected(name string) (*leg, error) {
	l, err := r.get(name)
	if err == nil && l.mirror {
		return nil, fmt.Errorf("media: leg %q is an echo leg: %w", name, ErrNoLeg)
	}
	return l, err
}

// setRemote hands a description to pion; whatever pion refuses (or panics
// on) is ErrBadSDP.
func setRemote(pc *webrtc.PeerConnection, d webrtc.SessionDescription) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrBadSDP, p)
		}
	}()
	if err := pc.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	return nil
}

// AnswerOptions tune AnswerOfferWith.
type AnswerOptions struct {
	// PreferG711: when the offer lists PCMU or PCMA, answer with the first
	// of them only (and telephone-events), whatever comes before it: the
	// leg is to be connected to an RTP leg (a SIP phone), which speaks
	// G.711, and the relay does not transcode.
	PreferG711 bool
}

// AnswerOffer takes the offer of a peer that dials (a browser) as a new leg
// and returns the answer. The leg's candidates follow through ev.Candidate.
func (r *Relay) AnswerOffer(ctx context.Context, name, offer string, ev LegEvents) (string, error) {
	return r.AnswerOfferWith(ctx, name, offer, AnswerOptions{}, ev)
}

// AnswerOfferWith is AnswerOffer with options.
func (r *Relay) AnswerOfferWith(ctx context.Context, name, offer string, opt AnswerOptions, ev LegEvents) (string, error) {
	return r.answerOffer(ctx, name, offer, opt, ev, false)
}

// answerOffer answers a WebRTC peer's offer as a new leg; with sip (a
// browser SIP stack's leg, sip_webrtc.go) the answer waits for ICE
// gathering and carries every candidate, and the leg takes one stream.
func (r *Relay) answerOffer(ctx context.Context, name, offer string, opt AnswerOptions, ev LegEvents, sip bool) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	pts, order, err := audioPayloadTypes(offer)
	if err != nil {
		return "", fmt.Errorf("media: leg %q: offer: %w", name, err)
	}
	codec, _ := firstAudioCodec(pts, order)
	var only *webrtc.RTPCodecParameters
	if opt.PreferG711 {
		if k, ok := firstG711(pts, order); ok {
			codec = k
			only = codecFor(k)
		}
	}
	l, err := r.reserve(name, func(serial uint64) (*leg, error) {
		l, err := r.newLeg(name, serial, only, codec, ev)
		if l != nil {
			l.sip = sip
		}
		return l, err
	})
	if err != nil {
		return "", err
	}
	l.negMu.Lock()
	answer, err := func() (string, error) {
		if err := setRemote(l.pc, webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
			return "", err
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		a, err := l.pc.CreateAnswer(nil)
		if err != nil {
			return "", fmt.Errorf("%w: answer: %v", ErrBadSDP, err)
		}
		if err := l.setLocal(ctx, a); err != nil {
			return "", fmt.Errorf("%w: answer: %v", ErrBadSDP, err)
		}
		if err := l.remoteDescriptionSet(pts, codec); err != nil {
			return "", err
		}
		return l.pc.LocalDescription().SDP, nil
	}()
	if err == nil {
		l.negotiated = true
		// Join came while the leg was being set up: offer its tracks now
		// (the offer is delivered after the answer is out).
		_ = l.renegotiateLocked()
	}
	l.negMu.Unlock()
	if err != nil {
		r.drop(l)
		return "", fmt.Errorf("media: leg %q: %w", name, err)
	}
	l.q.release()
	return answer, nil
}

// matchWait bounds how long CreateOffer waits for OfferOptions.MatchLeg to
// appear and negotiate its codec (the leg answering its offer at the same
// moment).
const matchWait = 3 * time.Second

// CreateOffer makes a new leg that the engine offers to a device; the
// device's answer goes to AcceptAnswer. With OfferOptions.MatchLeg it
// offers only the codec that leg negotiated, waiting a moment (matchWait)
// for a leg that is still being set up or not there yet; when it has not
// negotiated by then, the offer has every codec.
func (r *Relay) CreateOffer(ctx context.Context, name string, opt OfferOptions, ev LegEvents) (string, error) {
	return r.createOffer(ctx, name, opt, ev, false)
}

// createOffer makes a new WebRTC leg and its offer; with sip (a browser SIP
// stack's leg, sip_webrtc.go) the offer waits for ICE gathering and
// carries every candidate, and the leg takes one stream.
func (r *Relay) createOffer(ctx context.Context, name string, opt OfferOptions, ev LegEvents, sip bool) (string, error) {
	return r.createOfferOnly(ctx, name, opt, nil, ev, sip)
}

// createOfferOnly is createOffer offering codec only (when not nil, and no
// MatchLeg is given).
func (r *Relay) createOfferOnly(ctx context.Context, name string, opt OfferOptions, only *webrtc.RTPCodecParameters, ev LegEvents, sip bool) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	want := keyOf(codecOpus.MimeType, codecOpus.ClockRate)
	if only != nil {
		want = keyOf(only.MimeType, only.ClockRate)
	}
	if opt.MatchLeg != "" {
		m, err := r.awaitLeg(ctx, opt.MatchLeg, matchWait)
		if err != nil && !errors.Is(err, ErrNoLeg) {
			return "", fmt.Errorf("media: offer %q: match: %w", name, err)
		}
		var k codecKey
		if m != nil {
			k = m.negotiatedCodec(ctx, matchWait)
		}
		if c := codecFor(k); c != nil {
			only, want = c, k
		}
		// Else the leg is still being set up after matchWait: offer every
		// codec, the first (Opus) being the browsers' first choice too
		// (or only's, when given).
	}
	l, err := r.reserve(name, func(serial uint64) (*leg, error) {
		l, err := r.newLeg(name, serial, only, want, ev)
		if l != nil {
			l.sip = sip
		}
		return l, err
	})
	if err != nil {
		return "", err
	}
	l.negMu.Lock()
	offer, err := func() (string, error) {
		o, err := l.pc.CreateOffer(nil)
		if err != nil {
			return "", err
		}
		if err := l.setLocal(ctx, o); err != nil {
			return "", err
		}
		return l.pc.LocalDescription().SDP, nil
	}()
	l.negMu.Unlock()
	if err != nil {
		r.drop(l)
		return "", fmt.Errorf("media: leg %q: offer: %w", name, err)
	}
	l.q.release()
	return offer, nil
}

// AcceptAnswer takes the device's answer to CreateOffer, or to a
// renegotiation offer of a leg that is up (LegEvents.Renegotiate). A bad
// answer, or an answer when no offer is pending, changes nothing
// (ErrBadSDP): the leg waits for a good one.
func (r *Relay) AcceptAnswer(name, answer string) error {
	l, err := r.getConnected(name)
	if err != nil {
		return err
	}
	if l.rtp != nil {
		return fmt.Errorf("media: leg %q is an RTP leg (AcceptRTPAnswer): %w", name, ErrBadSDP)
	}
	pts, order, err := audioPayloadTypes(answer)
	if err != nil {
		return fmt.Errorf("media: leg %q: answer: %w", name, err)
	}
	codec, _ := firstAudioCodec(pts, order)
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if st := l.pc.SignalingState(); st != webrtc.SignalingStateHaveLocalOffer {
		return fmt.Errorf("media: leg %q: answer: %w: no offer pending (%s)", name, ErrBadSDP, st)
	}
	if !l.negotiated {
		l.out.setWant(codec)
	}
	if err := setRemote(l.pc, webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("media: leg %q: answer: %w", name, err)
	}
	err = l.remoteDescriptionSet(pts, codec)
	l.negotiated = true
	return errors.Join(err, l.renegotiateLocked())
}

// AddICECandidate adds a remote candidate of a leg; one that arrives before
// the remote description waits for it.
func (r *Relay) AddICECandidate(name string, c ICECandidate) error {
	if err := checkCandidate(c); err != nil {
		return fmt.Errorf("media: leg %q: %w", name, err)
	}
	l, err := r.getConnected(name)
	if err != nil {
		return err
	}
	if l.rtp != nil {
		return fmt.Errorf("media: leg %q is an RTP leg: %w", name, ErrBadCandidate)
	}
	return l.addCandidate(c)
}

// HasLeg tells whether a leg of that name is up (or being set up).
func (r *Relay) HasLeg(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.legs[name]
	return ok
}

// CloseLeg closes a leg: its peers stop hearing it, its goroutines end, its
// last event is the state "closed".
func (r *Relay) CloseLeg(name string) error {
	r.mu.Lock()
	l, ok := r.legs[name]
	if !ok {
		r.mu.Unlock()
		if r.isClosed() {
			return fmt.Errorf("media: leg %q: %w", name, ErrClosed)
		}
		return fmt.Errorf("media: leg %q: %w", name, ErrNoLeg)
	}
	delete(r.legs, name)
	r.unlinkLocked(l)
	r.mu.Unlock()
	l.close()
	return nil
}

func (r *Relay) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
