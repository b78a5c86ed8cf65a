package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Plain RTP legs: a SIP phone's media. No ICE, no DTLS: one UDP socket on
// the relay, SDP RTP/AVP with G.711 (or the codec of the leg it is matched
// with) and telephone-event — or RTP/SAVP, SRTP keyed in the SDP (SDES,
// srtp.go). Symmetric RTP: the relay sends to
// the address of the peer's SDP (c=, m=), and from the first packet it
// receives on to the source address of the packets it receives (latching:
// a phone behind NAT is reached where its packets come from). The packets
// read from the socket go through the same readLoop as a WebRTC leg's, and
// the leg's outgoing track (outTrack) writes to the socket: Connect,
// mute, hold, echo, DTMF detection and SendDTMF, payload-type mapping and
// one continuous outgoing stream work the same for every kind of leg.

// rtpConn is the socket and the session description state of an RTP leg.
type rtpConn struct {
	conn   *net.UDPConn
	ip     string // announced in our SDP
	port   int
	sessID uint64

	remote atomic.Pointer[net.UDPAddr] // where packets go; nil: nowhere yet
	heard  atomic.Bool                 // a packet came

	// srtp: the leg's SRTP keys and contexts; nil for plain RTP.
	srtp     atomic.Pointer[srtpSession]
	failures atomic.Uint64 // SRTP packets that failed authentication

	mu      sync.Mutex
	version uint64
	ours    ptMap     // the payload types of our SDP
	offered []uint8   // our offer's, in order (OfferRTP)
	pending bool      // our offer waits for its answer
	local   []sdpFmt  // what our SDP lists
	ssrc    uint32    // our stream's SSRC when not ssrcOf(sessID): a restored SRTP leg's
	secure  bool      // our SDP is RTP/SAVP
	keys    []sdesKey // our SDP's crypto lines: the offer's, else the key in use
}

// sdpFmt is one payload type of our SDP.
type sdpFmt struct {
	pt   uint8
	key  codecKey
	name string // rtpmap encoding name and rate: "PCMU/8000"
	fmtp string
}

// rtpRemote is what the peer's SDP says.
type rtpRemote struct {
	pts   ptMap
	order []uint8
	addr  *net.UDPAddr // nil: no address (0.0.0.0, port 0)
	// secure: the m-line is RTP/SAVP (SRTP, srtp.go); keys are its
	// crypto lines the relay speaks, in order.
	secure bool
	keys   []sdesKey
}

// parseRTPSDP reads the first audio m-line of plain RTP (RTP/AVP or
// RTP/AVPF) with a codec of the relay, or of SRTP (RTP/SAVP, RTP/SAVPF)
// with a crypto line the relay speaks too.
func parseRTPSDP(desc string) (rem rtpRemote, err error) {
	if strings.TrimSpace(desc) == "" {
		return rem, fmt.Errorf("%w: empty", ErrBadSDP)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrBadSDP, p)
		}
	}()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(desc); err != nil {
		return rem, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, m := range sd.MediaDescriptions {
		if m == nil || m.MediaName.Media != "audio" {
			continue
		}
		proto := strings.ToUpper(strings.Join(m.MediaName.Protos, "/"))
		secure := proto == "RTP/SAVP" || proto == "RTP/SAVPF"
		if proto != "RTP/AVP" && proto != "RTP/AVPF" && !secure {
			continue
		}
		pts, order := mediaPayloadTypes(m)
		if !supported(pts, order) {
			continue
		}
		var keys []sdesKey
		if secure {
			for _, a := range m.Attributes {
				if a.Key != "crypto" {
					continue
				}
				if k, err := parseCrypto(a.Value); err == nil {
					keys = append(keys, k)
				}
			}
			if len(keys) == 0 {
				continue // no key the relay can use: not this line
			}
		}
		rem.secure, rem.keys = secure, keys
		ci := m.ConnectionInformation
		if ci == nil {
			ci = sd.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return rem, fmt.Errorf("%w: no connection address", ErrBadSDP)
		}
		rem.pts, rem.order = pts, order
		host := ci.Address.Address
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i] // a TTL
		}
		port := m.MediaName.Port.Value
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && port > 0 && port < 65536 {
			rem.addr = &net.UDPAddr{IP: ip, Port: port}
		} else if ip == nil && port > 0 && port < 65536 {
			if a, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
				rem.addr = a
			}
		}
		return rem, nil
	}
	return rem, fmt.Errorf("%w: no RTP/AVP (or RTP/SAVP with a crypto suite of the relay) audio m-line with a supported codec", ErrBadSDP)
}

// rtpName is the rtpmap name of a codec: "PCMU/8000", "opus/48000/2".
func rtpName(k codecKey) string {
	switch k {
	case keyOf(codecOpus.MimeType, codecOpus.ClockRate):
		return "opus/48000/2"
	case keyOf(codecPCMU.MimeType, 8000):
		return "PCMU/8000"
	case keyOf(codecPCMA.MimeType, 8000):
		return "PCMA/8000"
	}
	return strings.TrimPrefix(k.mime, "audio/") + "/" + strconv.FormatUint(uint64(k.clockRate), 10)
}

func teKey(rate uint32) codecKey { return codecKey{mime: mimeTelephoneEvent, clockRate: rate} }

// sdp writes our session description, version bumped.
func (c *rtpConn) sdp() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=callengine %d %d IN IP4 %s\r\ns=callengine\r\nc=IN IP4 %s\r\nt=0 0\r\n", c.sessID, c.version, c.ip, c.ip)
	proto := "RTP/AVP"
	if c.secure {
		proto = "RTP/SAVP"
	}
	fmt.Fprintf(&b, "m=audio %d %s", c.port, proto)
	for _, f := range c.local {
		fmt.Fprintf(&b, " %d", f.pt)
	}
	b.WriteString("\r\n")
	for _, f := range c.local {
		fmt.Fprintf(&b, "a=rtpmap:%d %s\r\n", f.pt, f.name)
		if f.fmtp != "" {
			fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", f.pt, f.fmtp)
		}
	}
	if c.secure {
		for _, k := range c.keys {
			fmt.Fprintf(&b, "a=crypto:%s\r\n", k.attr())
		}
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return b.String()
}

// udpWriter is the outgoing track's writer of an RTP leg; outTrack calls it
// under its lock, one packet at a time (so one SRTP context encrypts).
type udpWriter struct {
	c      *rtpConn
	buf    [1500]byte
	sealed []byte       // an SRTP packet: the payload, plus its tag (made for SRTP legs only)
	sess   *srtpSession // the session of the last packet sealed
}

var errNoRemote = errors.New("media: no remote RTP address yet")

func (w *udpWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	dst := w.c.remote.Load()
	if dst == nil {
		return 0, errNoRemote
	}
	n, err := h.MarshalTo(w.buf[:])
	if err != nil {
		return 0, err
	}
	if n+len(payload) > len(w.buf) {
		return 0, errors.New("media: packet too large")
	}
	n += copy(w.buf[n:], payload)
	return w.send(w.buf[:n], h, dst)
}

// Write sends one marshalled RTP packet (encrypted on an SRTP leg).
func (w *udpWriter) Write(b []byte) (int, error) {
	dst := w.c.remote.Load()
	if dst == nil {
		return 0, errNoRemote
	}
	return w.send(b, nil, dst)
}

// send writes packet to dst, sealed first on an SRTP leg (h: its header,
// or nil to read it from packet).
func (w *udpWriter) send(packet []byte, h *rtp.Header, dst *net.UDPAddr) (int, error) {
	if s := w.c.srtp.Load(); s != nil {
		var hdr rtp.Header
		if h == nil {
			if _, err := hdr.Unmarshal(packet); err != nil {
				return 0, err
			}
			h = &hdr
		}
		if s != w.sess {
			s.followFrom(w.sess, h.SSRC) // new keys, the same stream
			w.sess = s
		}
		if w.sealed == nil {
			w.sealed = make([]byte, 0, len(w.buf)+32)
		}
		sealed, err := s.seal(w.sealed[:0], packet, h)
		if err != nil {
			return 0, err
		}
		packet = sealed
	}
	return w.c.conn.WriteToUDP(packet, dst)
}

// rtpReader reads the leg's socket for readLoop: RTP packets only (RTCP
// multiplexed on the port is skipped), latching onto their source.
//
// On an SRTP leg a packet is authenticated and decrypted first; one that
// fails is dropped before it can move the latch.
func (l *leg) rtpReader() func([]byte) (int, error) {
	c := l.rtp
	var plain []byte
	return func(b []byte) (int, error) {
		for {
			n, src, err := c.conn.ReadFromUDP(b)
			if err != nil {
				return 0, err
			}
			if n < 12 || b[0]>>6 != 2 {
				continue
			}
			if pt := b[1] & 0x7f; pt >= 64 && pt <= 95 {
				continue // RTCP (RFC 5761)
			}
			if s := c.srtp.Load(); s != nil {
				out, err := s.open(plain[:0], b[:n])
				if err != nil {
					c.failures.Add(1)
					continue
				}
				plain = out
				n = copy(b, out)
			}
			if cur := c.remote.Load(); cur == nil || cur.Port != src.Port || !cur.IP.Equal(src.IP) {
				c.remote.Store(src)
			}
			if !c.heard.Swap(true) {
				l.setState(LegConnected)
			}
			return n, nil
		}
	}
}

// rtpAddresses are the IP the RTP sockets bind to and the one our SDP
// announces.
func (s Settings) rtpAddresses() (bind, announce string) {
	switch {
	case s.RTPAddress != "":
		bind, announce = s.RTPAddress, s.RTPAddress
	case s.LoopbackOnly:
		return "127.0.0.1", "127.0.0.1"
	default:
		bind, announce = "0.0.0.0", hostIPv4()
	}
	if len(s.NAT1To1IPs) > 0 {
		announce = s.NAT1To1IPs[0]
	}
	return bind, announce
}

// hostIPv4 is the first IPv4 address of the host that is not loopback,
// else 127.0.0.1.
func hostIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// listenRTP opens an RTP socket: an even port of Settings' range
// (PortMin-PortMax), else any.
func (r *Relay) listenRTP() (*rtpConn, error) {
	bind, announce := r.settings.rtpAddresses()
	ip := net.ParseIP(bind)
	if ip == nil {
		return nil, fmt.Errorf("media: RTP address %q is not an IP address", bind)
	}
	lo, hi := int(r.settings.PortMin), int(r.settings.PortMax)
	if lo == 0 && hi == 0 {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, err
		}
		return newRTPConn(conn, announce), nil
	}
	if lo == 0 {
		lo = 1024
	}
	if hi == 0 {
		hi = 65535
	}
	var last error
	for range 64 {
		p := lo + rand.IntN(hi-lo+1)
		if p%2 == 1 && p > lo {
			p-- // RTP on an even port (RFC 3550)
		}
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: p})
		if err == nil {
			return newRTPConn(conn, announce), nil
		}
		last = err
	}
	return nil, fmt.Errorf("media: no free RTP port in %d-%d: %w", lo, hi, last)
}

func newRTPConn(conn *net.UDPConn, announce string) *rtpConn {
	return &rtpConn{conn: conn, ip: announce, port: conn.LocalAddr().(*net.UDPAddr).Port, sessID: rand.Uint64() >> 1}
}

// newRTPLeg makes an RTP leg with its socket and event goroutine; called
// with r.mu held.
func (r *Relay) newRTPLeg(name string, serial uint64, want codecKey, ev LegEvents) (*leg, error) {
	c, err := r.listenRTP()
	if err != nil {
		return nil, fmt.Errorf("media: leg %q: %w", name, err)
	}
	return r.newRTPLegOn(name, serial, want, ev, c), nil
}

// newRTPLegOn is newRTPLeg on socket c.
func (r *Relay) newRTPLegOn(name string, serial uint64, want codecKey, ev LegEvents, c *rtpConn) *leg {
	l := &leg{r: r, name: name, serial: serial, rtp: c, out: newOutTrack(name, want), ev: ev, q: newEventQueue(), done: make(chan struct{})}
	l.outs = []*outTrack{l.out}
	l.negotiated = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		l.q.run()
	}()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.readLoop(l.rtpReader())
	}()
	return l
}

// rtpFormats lists codec k and the telephone-event at its rate, with the
// payload type numbers of pts when it has them (an answer uses the
// offer's), else the relay's own.
func rtpFormats(k codecKey, pts ptMap) []sdpFmt {
	c := codecFor(k)
	pt, tpt := uint8(c.PayloadType), uint8(codecTE8.PayloadType)
	if k.clockRate != 8000 {
		tpt = uint8(codecTE48.PayloadType)
	}
	if k.clockRate == 8000 && pts == nil {
		tpt = 101 // the number SIP phones use
	}
	haveTE := pts == nil
	for n, kk := range pts {
		if kk == k {
			pt = n
		}
	}
	for n, kk := range pts {
		if kk == teKey(k.clockRate) {
			tpt, haveTE = n, true
		}
	}
	out := []sdpFmt{{pt: pt, key: k, name: rtpName(k), fmtp: c.SDPFmtpLine}}
	if haveTE {
		out = append(out, sdpFmt{pt: tpt, key: teKey(k.clockRate), name: fmt.Sprintf("telephone-event/%d", k.clockRate), fmtp: "0-16"})
	}
	return out
}

// bindRTP makes the outgoing track send with the peer's payload types for
// what our SDP lists.
func (l *leg) bindRTP(local []sdpFmt, peer ptMap, codec codecKey) {
	out := map[codecKey]uint8{}
	for _, f := range local {
		out[f.key] = f.pt
	}
	for n, k := range peer {
		if _, ok := out[k]; ok {
			out[k] = n
		}
	}
	// The peer's numbers win, but a number it lists twice keeps the first.
	in := ptMap{}
	for _, f := range local {
		in[f.pt] = f.key
	}
	for n, k := range peer {
		if _, ok := out[k]; ok {
			in[n] = k
		}
	}
	l.inPTs.Store(&in)
	l.rtp.mu.Lock()
	ssrc := ssrcOf(l.rtp.sessID)
	if l.rtp.ssrc != 0 {
		ssrc = l.rtp.ssrc
	}
	l.rtp.mu.Unlock()
	l.out.bindWriter(out, codec, &udpWriter{c: l.rtp}, ssrc)
	l.mu.Lock()
	l.codec = codec
	l.remoteSet = true
	l.mu.Unlock()
}

// AnswerRTP takes a SIP phone's SDP offer (RTP/AVP) as a new plain RTP leg
// and returns the relay's answer: the first codec of the offer that the
// relay speaks (PCMU, PCMA, Opus) and telephone-event at its rate when
// offered, with the offer's payload type numbers. The leg has no
// candidates; ev.State reports "connected" at the first packet received,
// ev.DTMF the digits the phone sends as RFC 4733 events.
func (r *Relay) AnswerRTP(ctx context.Context, name, offer string, ev LegEvents) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if IsWebRTCSDP(offer) {
		return r.answerSIPWebRTC(ctx, name, offer, ev)
	}
	rem, err := parseRTPSDP(offer)
	if err != nil {
		return "", fmt.Errorf("media: leg %q: offer: %w", name, err)
	}
	codec, _ := firstAudioCodec(rem.pts, rem.order)
	sess, err := (&rtpConn{}).answerSession(rem)
	if err != nil {
		return "", fmt.Errorf("media: leg %q: offer: %w", name, err)
	}
	l, err := r.reserve(name, func(serial uint64) (*leg, error) {
		return r.newRTPLeg(name, serial, codec, ev)
	})
	if err != nil {
		return "", err
	}
	local := rtpFormats(codec, rem.pts)
	l.rtp.setSRTP(sess)
	l.rtp.mu.Lock()
	l.rtp.local = local
	l.rtp.mu.Unlock()
	if rem.addr != nil {
		l.rtp.remote.Store(rem.addr)
	}
	l.bindRTP(local, rem.pts, codec)
	answer := l.rtp.sdp()
	l.q.release()
	return answer, nil
}

// OfferRTP makes a new plain RTP leg that the engine offers to a SIP phone
// and returns the relay's offer (RTP/AVP): PCMU, PCMA and
// telephone-event/8000; with OfferOptions.MatchLeg the codec that leg
// negotiated first (waiting for it as CreateOffer does), then the other
// G.711 law if it is G.711 (the relay re-encodes one law to the other),
// else that codec only. The phone's answer goes to AcceptRTPAnswer.
func (r *Relay) OfferRTP(ctx context.Context, name string, opt OfferOptions, ev LegEvents) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if opt.WebRTC {
		return r.offerSIPWebRTC(ctx, name, opt, ev)
	}
	var codecs []codecKey
	if opt.MatchLeg != "" {
		m, err := r.awaitLeg(ctx, opt.MatchLeg, matchWait)
		if err != nil && !errors.Is(err, ErrNoLeg) {
			return "", fmt.Errorf("media: offer %q: match: %w", name, err)
		}
		if m != nil {
			if k := m.negotiatedCodec(ctx, matchWait); codecFor(k) != nil {
				codecs = matchCodecs(k)
			}
		}
	}
	if codecs == nil {
		codecs = []codecKey{keyOf(codecPCMU.MimeType, 8000), keyOf(codecPCMA.MimeType, 8000)}
	}
	l, err := r.reserve(name, func(serial uint64) (*leg, error) {
		return r.newRTPLeg(name, serial, codecs[0], ev)
	})
	if err != nil {
		return "", err
	}
	var local []sdpFmt
	var te *sdpFmt
	for _, k := range codecs {
		fs := rtpFormats(k, nil)
		local = append(local, fs[0])
		if len(fs) > 1 && (te == nil || te.key != fs[1].key) {
			te = &fs[1]
		}
	}
	if te != nil {
		local = append(local, *te)
	}
	in := ptMap{}
	for _, f := range local {
		in[f.pt] = f.key
	}
	l.inPTs.Store(&in)
	l.rtp.mu.Lock()
	l.rtp.local = local
	l.rtp.pending = true
	err = l.rtp.offerSRTPLocked(opt.SRTP)
	l.rtp.mu.Unlock()
	if err != nil {
		r.drop(l)
		return "", fmt.Errorf("media: offer %q: %w", name, err)
	}
	offer := l.rtp.sdp()
	l.q.release()
	return offer, nil
}

// matchCodecs is what an RTP offer matching a leg of codec k offers: k,
// and the other law after it for G.711.
func matchCodecs(k codecKey) []codecKey {
	switch k {
	case codecKeyPCMU:
		return []codecKey{codecKeyPCMU, codecKeyPCMA}
	case codecKeyPCMA:
		return []codecKey{codecKeyPCMA, codecKeyPCMU}
	}
	return []codecKey{k}
}

// AcceptRTPAnswer takes the phone's answer to OfferRTP: the codec is the
// first of the answer that was offered; packets go to the answer's
// address (until packets from the phone come from elsewhere). A bad
// answer, or one when no offer is pending, changes nothing (ErrBadSDP).
func (r *Relay) AcceptRTPAnswer(name, answer string) error {
	return r.acceptRTPAnswer(name, answer, false)
}

// AcceptRTPEarlyAnswer takes the SDP of a provisional response (a 183's:
// early media, such as a network's ringback or announcement) as the
// phone's answer for now: the leg sends to its address with its codec, and
// its packets are forwarded. The offer stays pending: the final answer
// (the 200's) still goes to AcceptRTPAnswer, and may differ. Errors as
// AcceptRTPAnswer's.
func (r *Relay) AcceptRTPEarlyAnswer(name, answer string) error {
	return r.acceptRTPAnswer(name, answer, true)
}

func (r *Relay) acceptRTPAnswer(name, answer string, early bool) error {
	l, err := r.get(name)
	if err != nil {
		return err
	}
	if l.sip {
		return r.acceptSIPWebRTC(name, answer, early)
	}
	if l.rtp == nil {
		return fmt.Errorf("media: leg %q is not an RTP leg: %w", name, ErrBadSDP)
	}
	rem, err := parseRTPSDP(answer)
	if err != nil {
		return fmt.Errorf("media: leg %q: answer: %w", name, err)
	}
	c := l.rtp
	c.mu.Lock()
	if !c.pending {
		c.mu.Unlock()
		return fmt.Errorf("media: leg %q: answer: %w: no offer pending", name, ErrBadSDP)
	}
	var codec codecKey
	for _, pt := range rem.order {
		k := rem.pts[pt]
		if k.telephoneEvent() {
			continue
		}
		for _, f := range c.local {
			if f.key == k && codec == (codecKey{}) {
				codec = k
			}
		}
	}
	if codec == (codecKey{}) {
		c.mu.Unlock()
		return fmt.Errorf("media: leg %q: answer: %w: no codec offered", name, ErrBadSDP)
	}
	sess, err := c.answeredSessionLocked(rem)
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("media: leg %q: answer: %w", name, err)
	}
	c.pending = early
	var local []sdpFmt
	for _, f := range c.local {
		if f.key == codec || f.key == teKey(codec.clockRate) {
			local = append(local, f)
		}
	}
	c.mu.Unlock()
	c.setSRTP(sess)
	if rem.addr != nil && !c.heard.Load() {
		c.remote.Store(rem.addr)
	}
	l.out.setWant(codec)
	l.bindRTP(local, rem.pts, codec)
	return nil
}

// UpdateRTP takes a new offer from the phone of an RTP leg that is up (a
// re-INVITE: a hold, a new address, another codec) and returns the relay's
// answer: the same port, the SDP version moved on, a=sendrecv (the caller
// fits the direction). The new address is used until packets come from
// another. The codec is the first of the new offer the relay speaks, with
// the offer's payload type numbers; when it is not the leg's codec any
// more, the leg sends and takes the new one (no transcoding: its peer
// hears it only if it speaks that codec too, see ReofferRTP). A bad offer
// changes nothing (ErrBadSDP).
func (r *Relay) UpdateRTP(name, offer string) (string, error) {
	l, err := r.get(name)
	if err != nil {
		return "", err
	}
	if l.sip {
		return r.updateSIPWebRTC(l, offer)
	}
	if l.rtp == nil {
		return "", fmt.Errorf("media: leg %q is not an RTP leg: %w", name, ErrBadSDP)
	}
	rem, err := parseRTPSDP(offer)
	if err != nil {
		return "", fmt.Errorf("media: leg %q: offer: %w", name, err)
	}
	codec, _ := firstAudioCodec(rem.pts, rem.order)
	sess, err := l.rtp.answerSession(rem)
	if err != nil {
		return "", fmt.Errorf("media: leg %q: offer: %w", name, err)
	}
	local := rtpFormats(codec, rem.pts)
	l.rtp.setSRTP(sess)
	l.rtp.mu.Lock()
	l.rtp.local = local
	l.rtp.pending = false
	l.rtp.mu.Unlock()
	if rem.addr != nil {
		l.rtp.remote.Store(rem.addr)
	}
	l.out.setWant(codec)
	l.bindRTP(local, rem.pts, codec)
	return l.rtp.sdp(), nil
}

// bindWriter binds the track to a writer of its own (an RTP leg's socket):
// pts are the payload types to send with, primary the audio codec, ssrc
// the stream's SSRC, kept from the first bind on (see ssrcOf). Such a
// stream starts on the wall clock's line (wallSeq, wallTS), so that the
// same leg built again after a restart (RestoreRTP) goes on with the same
// SSRC and sequence numbers and timestamps further on: to the phone, the
// restart looks like packets lost.
func (t *outTrack) bindWriter(pts map[codecKey]uint8, primary codecKey, w interface {
	WriteRTP(*rtp.Header, []byte) (int, error)
	Write([]byte) (int, error)
}, ssrc uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pts = pts
	t.primary = primary
	t.clockRate = primary.clockRate
	if t.ssrc == 0 {
		t.ssrc = ssrc
		t.wallClock = true
		if !t.started {
			t.nextSeq = wallSeq(time.Now())
		}
	}
	t.w = w
	t.bound = true
}
