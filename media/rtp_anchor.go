package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"

	"github.com/pion/sdp/v3"
)

// Re-anchoring plain RTP legs: a SIP phone keeps its leg (its socket, its
// port, its outgoing stream) while the call it is in changes. RenameLeg
// gives the leg the name of its place in the new call; ReofferRTP offers
// the phone another codec on the same port; RestoreRTP builds the leg of a
// phone again after a restart, on the port the phone already sends to.

// ErrNotRTP: the operation is for plain RTP legs (a SIP phone's) and the
// leg is not one. Nothing changed.
var ErrNotRTP = errors.New("media: not an RTP leg")

// RenameLeg gives RTP leg old the name name (a SIP phone that goes on in
// another call: a transfer). Its socket, its pairing, its flags and its
// outgoing stream (SSRC, sequence numbers) stay; only the name changes.
// A name in use is ErrLegExists; a leg that is not an RTP leg ErrNotRTP.
func (r *Relay) RenameLeg(old, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, err := r.getLocked(old)
	if err != nil {
		return err
	}
	if old == name {
		return nil
	}
	if l.rtp == nil && !l.sip {
		return fmt.Errorf("media: leg %q: %w", old, ErrNotRTP)
	}
	if _, ok := r.legs[name]; ok {
		return fmt.Errorf("media: leg %q: %w", name, ErrLegExists)
	}
	delete(r.legs, old)
	l.name = name
	r.legs[name] = l
	r.tapLocked(l) // recorded under its new name, or no longer (recorder.go)
	return nil
}

// RTPPort is the local port of an RTP leg (where its phone sends).
func (r *Relay) RTPPort(name string) (int, error) {
	l, err := r.get(name)
	if err != nil {
		return 0, err
	}
	if l.rtp == nil {
		return 0, fmt.Errorf("media: leg %q: %w", name, ErrNotRTP)
	}
	return l.rtp.port, nil
}

// ReofferRTP makes a new offer on an RTP leg that is up, on the same port:
// with OfferOptions.MatchLeg the codec that leg has now first (a phone whose
// peer changed codec is asked to follow it; G.711's other law comes after,
// which the relay re-encodes), else PCMU, PCMA and telephone-event/8000. The phone's answer goes to
// AcceptRTPAnswer; until then the leg goes on with what it has.
func (r *Relay) ReofferRTP(name string, opt OfferOptions) (string, error) {
	l, err := r.get(name)
	if err != nil {
		return "", err
	}
	if l.rtp == nil {
		return "", fmt.Errorf("media: leg %q: %w", name, ErrNotRTP)
	}
	codecs := []codecKey{keyOf(codecPCMU.MimeType, 8000), keyOf(codecPCMA.MimeType, 8000)}
	if opt.MatchLeg != "" {
		m, err := r.get(opt.MatchLeg)
		if err != nil {
			return "", fmt.Errorf("media: offer %q: match: %w", name, err)
		}
		m.mu.Lock()
		k := m.codec
		m.mu.Unlock()
		if codecFor(k) == nil {
			return "", fmt.Errorf("media: offer %q: match %q: %w", name, opt.MatchLeg, ErrNoCodec)
		}
		codecs = matchCodecs(k)
	}
	var local []sdpFmt
	var te *sdpFmt
	for _, k := range codecs {
		fs := rtpFormats(k, nil)
		local = append(local, fs[0])
		if len(fs) > 1 && te == nil {
			te = &fs[1]
		}
	}
	if te != nil {
		local = append(local, *te)
	}
	c := l.rtp
	c.mu.Lock()
	c.local = local
	c.pending = true
	err = c.offerSRTPLocked(false) // a leg on SRTP offers the key it has
	c.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("media: offer %q: %w", name, err)
	}
	return c.sdp(), nil
}

// RestoreRTP builds an RTP leg again after a restart, from the session
// descriptions of its last exchange: local is the relay's SDP the phone
// has (its port, payload types, origin), remote the phone's. The socket
// binds local's port again when it is free (rebound true: the phone needs
// to be told nothing); else another port, and the returned SDP (the
// version moved on) must reach the phone in a re-INVITE. Its outgoing
// stream goes on: the SSRC comes from local's session id, and the
// sequence numbers and timestamps from the wall clock (see ssrcOf).
func (r *Relay) RestoreRTP(ctx context.Context, name, local, remote string, ev LegEvents) (desc string, rebound bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	if IsWebRTCSDP(local) {
		return r.restoreSIPWebRTC(ctx, name, local, ev)
	}
	mine, err := parseRTPSDP(local)
	if err != nil {
		return "", false, fmt.Errorf("media: leg %q: local: %w", name, err)
	}
	rem, err := parseRTPSDP(remote)
	if err != nil {
		return "", false, fmt.Errorf("media: leg %q: remote: %w", name, err)
	}
	codec, ok := codecKey{}, false
	for _, pt := range mine.order {
		k := mine.pts[pt]
		if k.telephoneEvent() || codecFor(k) == nil {
			continue
		}
		for _, rk := range rem.pts {
			if rk == k {
				codec, ok = k, true
				break
			}
		}
		if ok {
			break
		}
	}
	if !ok {
		return "", false, fmt.Errorf("media: leg %q: %w: no codec in common", name, ErrBadSDP)
	}
	var sess *srtpSession
	if mine.secure || rem.secure {
		localKey, remoteKey, ok := restoredKeys(mine.keys, rem.keys)
		if !ok || !mine.secure || !rem.secure {
			return "", false, fmt.Errorf("media: leg %q: %w: no SRTP keys in common", name, ErrBadSDP)
		}
		if sess, err = newSRTPSession(localKey, remoteKey); err != nil {
			return "", false, fmt.Errorf("media: leg %q: %w", name, err)
		}
		sess.rekeyed() // the phone's counter is not known after a restart
	}
	port := 0
	if mine.addr != nil {
		port = mine.addr.Port
	}
	l, err := r.reserve(name, func(serial uint64) (*leg, error) {
		c, err := r.listenRTPPort(port)
		if err != nil {
			if c, err = r.listenRTP(); err != nil {
				return nil, fmt.Errorf("media: leg %q: %w", name, err)
			}
		}
		return r.newRTPLegOn(name, serial, codec, ev, c), nil
	})
	if err != nil {
		return "", false, err
	}
	fs := rtpFormats(codec, mine.pts)
	c := l.rtp
	c.setSRTP(sess)
	c.mu.Lock()
	c.local = fs
	if id, ver, ok := sdpOrigin(local); ok {
		c.sessID, c.version = id, ver
	}
	if sess != nil {
		// The phone's rollover counter of our stream is lost with the
		// process: a new SSRC starts a new stream at counter 0 (RFC 3711
		// §3.3.1), where the old one would not decrypt past a wrap.
		c.ssrc = ssrcOf(c.sessID) ^ (rand.Uint32() | 1)
	}
	c.mu.Unlock()
	if rem.addr != nil {
		c.remote.Store(rem.addr)
	}
	l.bindRTP(fs, rem.pts, codec)
	desc = c.sdp()
	l.q.release()
	return desc, port != 0 && c.port == port, nil
}

// listenRTPPort opens an RTP socket on one port.
func (r *Relay) listenRTPPort(port int) (*rtpConn, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("media: RTP port %d", port)
	}
	bind, announce := r.settings.rtpAddresses()
	ip := net.ParseIP(bind)
	if ip == nil {
		return nil, fmt.Errorf("media: RTP address %q is not an IP address", bind)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, err
	}
	return newRTPConn(conn, announce), nil
}

// sdpOrigin reads the session id and version of an SDP's o= line.
func sdpOrigin(desc string) (id, version uint64, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(desc); err != nil {
		return 0, 0, false
	}
	return sd.Origin.SessionID, sd.Origin.SessionVersion, true
}
