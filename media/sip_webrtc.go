package media

import (
	"context"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// WebRTC legs of browser SIP stacks. A SIP stack in a browser (JsSIP,
// SIP.js over SIP over WebSocket) speaks SIP like a phone but its media is
// the browser's: ICE and DTLS-SRTP (UDP/TLS/RTP/SAVPF), never plain RTP.
// The RTP-leg API that the SIP adapter uses takes such an SDP as well and
// makes a WebRTC leg of it, so that a browser SIP stack talks to a desk
// phone, a trunk or a browser on the WebSocket protocol through the relay:
//
//   - AnswerRTP given a WebRTC offer answers it with G.711 (PreferG711: its
//     peers on the relay are SIP phones and trunks, and the relay does not
//     transcode Opus);
//   - OfferRTP with OfferOptions.WebRTC offers a WebRTC leg (the codec of
//     OfferOptions.MatchLeg, else PCMU);
//   - AcceptRTPAnswer takes the answer to it; AcceptRTPEarlyAnswer ignores
//     a provisional answer (the final one is taken);
//   - UpdateRTP answers a re-INVITE's new offer on the same peer
//     connection (a hold, a resume, an ICE restart), or takes the answer
//     to the relay's pending offer (RestoreRTP's);
//   - RestoreRTP cannot bring back a DTLS session that died with the
//     process: it makes a new leg and returns its offer, not rebound, for
//     the SIP adapter to send in a re-INVITE.
//
// SIP has no trickle ICE: every SDP of such a leg waits for ICE gathering
// and carries all the candidates. The leg cannot be renegotiated from the
// relay's side (SIP carries no LegEvents.Renegotiate), so in a conference
// of three or more it takes one stream, the mix, as an RTP leg does.

// IsWebRTCSDP reports whether desc is a WebRTC peer's: an audio m-line on
// UDP/TLS/RTP/SAVP(F) (DTLS-SRTP) with an ICE username and a DTLS
// fingerprint, at the media or the session level.
func IsWebRTCSDP(desc string) (ok bool) {
	if !strings.Contains(desc, "a=fingerprint:") {
		return false // a phone's SDP, on every relayed call: no parse
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var sd sdp.SessionDescription
	if sd.UnmarshalString(desc) != nil {
		return false
	}
	has := func(attrs []sdp.Attribute, key string) bool {
		for _, a := range attrs {
			if a.Key == key && a.Value != "" {
				return true
			}
		}
		return false
	}
	for _, m := range sd.MediaDescriptions {
		if m == nil || m.MediaName.Media != "audio" {
			continue
		}
		proto := strings.ToUpper(strings.Join(m.MediaName.Protos, "/"))
		if !strings.Contains(proto, "TLS/RTP/SAVP") {
			return false
		}
		ice := has(m.Attributes, "ice-ufrag") || has(sd.Attributes, "ice-ufrag")
		dtls := has(m.Attributes, "fingerprint") || has(sd.Attributes, "fingerprint")
		return ice && dtls
	}
	return false
}

// answerSIPWebRTC is AnswerRTP for a WebRTC offer.
func (r *Relay) answerSIPWebRTC(ctx context.Context, name, offer string, ev LegEvents) (string, error) {
	a, err := r.answerOffer(ctx, name, offer, AnswerOptions{PreferG711: true}, ev, true)
	return relayOrigin(a), err
}

// offerSIPWebRTC is OfferRTP with OfferOptions.WebRTC.
func (r *Relay) offerSIPWebRTC(ctx context.Context, name string, opt OfferOptions, ev LegEvents) (string, error) {
	o, err := r.createOfferOnly(ctx, name, OfferOptions{MatchLeg: opt.MatchLeg}, codecFor(codecKeyPCMU), ev, true)
	return relayOrigin(o), err
}

// acceptSIPWebRTC is acceptRTPAnswer for a SIP leg's WebRTC answer.
func (r *Relay) acceptSIPWebRTC(name, answer string, early bool) error {
	if early {
		return nil // pion takes one answer: the final one
	}
	return r.AcceptAnswer(name, answer)
}

// updateSIPWebRTC is UpdateRTP on a SIP leg's WebRTC leg: desc answers
// the relay's pending offer, or is a new offer, answered on the same peer
// connection; it returns the relay's SDP.
func (r *Relay) updateSIPWebRTC(l *leg, desc string) (string, error) {
	l.negMu.Lock()
	pending := l.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer
	l.negMu.Unlock()
	if pending {
		if err := r.AcceptAnswer(l.name, desc); err != nil {
			return "", err
		}
		return relayOrigin(l.pc.LocalDescription().SDP), nil
	}
	pts, order, err := audioPayloadTypes(desc)
	if err != nil {
		return "", fmt.Errorf("media: leg %q: offer: %w", l.name, err)
	}
	codec, _ := firstAudioCodec(pts, order)
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if err := setRemote(l.pc, webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: desc}); err != nil {
		return "", fmt.Errorf("media: leg %q: offer: %w", l.name, err)
	}
	a, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("media: leg %q: answer: %w: %v", l.name, ErrBadSDP, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), matchWait)
	defer cancel()
	if err := l.setLocal(ctx, a); err != nil {
		return "", fmt.Errorf("media: leg %q: answer: %w: %v", l.name, ErrBadSDP, err)
	}
	if err := l.remoteDescriptionSet(pts, codec); err != nil {
		return "", err
	}
	return relayOrigin(l.pc.LocalDescription().SDP), nil
}

// restoreSIPWebRTC is RestoreRTP for a leg whose SDP we sent (local) was a
// WebRTC leg's: a new leg, offered in the codec local had.
func (r *Relay) restoreSIPWebRTC(ctx context.Context, name, local string, ev LegEvents) (string, bool, error) {
	pts, order, err := audioPayloadTypes(local)
	if err != nil {
		return "", false, fmt.Errorf("media: leg %q: local: %w", name, err)
	}
	only := codecFor(codecKeyPCMU)
	if k, ok := firstAudioCodec(pts, order); ok && codecFor(k) != nil {
		only = codecFor(k)
	}
	offer, err := r.createOfferOnly(ctx, name, OfferOptions{}, only, ev, true)
	return relayOrigin(offer), false, err
}

// relayOrigin gives a WebRTC leg's SDP the relay's o= user name, as its
// RTP legs' SDPs have: the SIP adapter tells by it that an SDP it sent (a
// dialog record's, after a restart) was the relay's and not passed
// through from another peer. pion writes "o=- ..."; a peer does not read
// the user name.
func relayOrigin(desc string) string {
	if rest, ok := strings.CutPrefix(desc, "v=0\r\no=- "); ok {
		return "v=0\r\no=callengine " + rest
	}
	return desc
}
