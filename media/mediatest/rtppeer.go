package mediatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callengine/callengine/media/internal/g711"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
)

// RTPPeer is a SIP phone's media in Go: a plain RTP endpoint on a UDP
// socket (127.0.0.1), SDP RTP/AVP with PCMU (0), PCMA (8) and
// telephone-event/8000 (101). It sends 20 ms G.711 packets filled with its
// marker (the first with the marker bit) to the address of the far side's
// SDP, and counts what it receives as TestPeer does (Received,
// ReceivedFrom). Its own SSRC and sequence numbers run on across Stop and
// Start. SetLevel makes it send a constant level instead of its marker,
// and Heard measures the level of what it receives: a mixer's sum.
type RTPPeer struct {
	marker string
	conn   *net.UDPConn
	wg     sync.WaitGroup
	done   chan struct{}

	mu       sync.Mutex
	remote   *net.UDPAddr
	pt, tePT uint8
	recv     Received
	byMarker map[string]uint64
	stop     chan struct{}
	ssrcs    map[uint32]bool
	tally    streamTally
	alawPT   int   // the far side's number for PCMA, -1 if none
	pcmaOnly bool  // offers and answers PCMA only
	level    int16 // sent instead of the marker when hasLevel
	hasLevel bool
	heard    int // the mean level of the newest audio packet received

	// SRTP (UseSRTP): our key, the line's tag and suite, and a context
	// each way once the far side's key is known.
	secure       bool
	key          []byte
	tag          int
	suite        string
	enc, dec     *srtp.Context
	srtpFailures uint64

	sendMu sync.Mutex
	ssrc   uint32
	seq    uint16
	ts     uint32
	first  bool
	inDTMF bool
	sent   uint64
}

// NewRTPPeer opens the peer's socket on 127.0.0.1.
func NewRTPPeer(marker string) (*RTPPeer, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	if marker == "" {
		marker = "rtp"
	}
	p := &RTPPeer{marker: marker, conn: c, done: make(chan struct{}), byMarker: map[string]uint64{}, ssrcs: map[uint32]bool{},
		pt: 0, tePT: 101, alawPT: 8, ssrc: 0x5157 + uint32(len(marker)), seq: 1000, ts: 5000, first: true}
	p.wg.Add(1)
	go p.readLoop()
	return p, nil
}

// Addr is the peer's RTP address.
func (p *RTPPeer) Addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

// UsePCMAOnly makes the peer offer PCMA only and answer with PCMA or
// not at all (a phone or carrier that speaks A-law alone).
func (p *RTPPeer) UsePCMAOnly() {
	p.mu.Lock()
	p.pcmaOnly, p.pt = true, 8
	p.mu.Unlock()
}

// UseSRTP makes the peer a phone that speaks SRTP keyed in the SDP (SDES,
// RFC 4568): its offers and answers are RTP/SAVP with a crypto line of
// AES_CM_128_HMAC_SHA1_80 (an answer takes the suite of the offer's line),
// every packet it sends is encrypted, and what it receives is
// authenticated and decrypted with the far side's key (SRTPFailures
// counts what fails). Call it before Offer, Answer or SetAnswer.
func (p *RTPPeer) UseSRTP() error {
	key := make([]byte, 30)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	p.mu.Lock()
	p.secure, p.key, p.tag, p.suite = true, key, 1, "AES_CM_128_HMAC_SHA1_80"
	p.mu.Unlock()
	return nil
}

// SetSequence sets the sequence number of the next packet the peer sends
// (near 65535, its stream wraps soon: an SRTP rollover).
func (p *RTPPeer) SetSequence(seq uint16) {
	p.sendMu.Lock()
	p.seq = seq
	p.sendMu.Unlock()
}

// SRTPFailures counts the packets received that failed SRTP
// authentication.
func (p *RTPPeer) SRTPFailures() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.srtpFailures
}

// Offer is the peer's SDP offer: PCMU, PCMA, telephone-event/8000 (PCMA
// and telephone-event after UsePCMAOnly); RTP/SAVP after UseSRTP.
func (p *RTPPeer) Offer() string {
	a := p.Addr()
	p.mu.Lock()
	only := p.pcmaOnly
	proto, crypto := p.mediaLocked()
	p.mu.Unlock()
	if only {
		return fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d %s 8 101\r\n"+
			"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n%sa=sendrecv\r\n",
			a.IP, a.IP, a.Port, proto, crypto)
	}
	return fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d %s 0 8 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n%sa=sendrecv\r\n",
		a.IP, a.IP, a.Port, proto, crypto)
}

// mediaLocked is the m-line's profile and the crypto line (with its
// CRLF) of the peer's SDP; p.mu is held.
func (p *RTPPeer) mediaLocked() (proto, crypto string) {
	if !p.secure {
		return "RTP/AVP", ""
	}
	return "RTP/SAVP", fmt.Sprintf("a=crypto:%d %s inline:%s\r\n", p.tag, p.suite, base64.StdEncoding.EncodeToString(p.key))
}

// srtpKeysLocked takes the far side's crypto line from the m-line m (the
// first with a suite the peer speaks) and makes the contexts; p.mu is
// held.
func (p *RTPPeer) srtpKeysLocked(m *sdp.MediaDescription) error {
	if !p.secure {
		if strings.Contains(strings.Join(m.MediaName.Protos, "/"), "SAVP") {
			return errors.New("mediatest: an SRTP description to a plain RTP peer")
		}
		return nil
	}
	for _, a := range m.Attributes {
		if a.Key != "crypto" {
			continue
		}
		f := strings.Fields(a.Value)
		if len(f) < 3 || f[1] != "AES_CM_128_HMAC_SHA1_80" && f[1] != "AES_CM_128_HMAC_SHA1_32" {
			continue
		}
		tag, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		inline, ok := strings.CutPrefix(f[2], "inline:")
		if !ok {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(strings.Split(inline, "|")[0])
		if err != nil || len(key) != 30 {
			continue
		}
		profile := srtp.ProtectionProfileAes128CmHmacSha1_80
		if f[1] == "AES_CM_128_HMAC_SHA1_32" {
			profile = srtp.ProtectionProfileAes128CmHmacSha1_32
		}
		dec, err := srtp.CreateContext(key[:16], key[16:], profile, srtp.SRTPReplayProtection(64))
		if err != nil {
			return err
		}
		enc, err := srtp.CreateContext(p.key[:16], p.key[16:], profile)
		if err != nil {
			return err
		}
		p.tag, p.suite, p.enc, p.dec = tag, f[1], enc, dec
		return nil
	}
	return errors.New("mediatest: no crypto line the peer speaks")
}

// Answer answers an offer with its first G.711 codec and telephone-event,
// and sends to the offer's address.
func (p *RTPPeer) Answer(offer string) (string, error) {
	if err := p.SetAnswer(offer); err != nil {
		return "", err
	}
	p.mu.Lock()
	pt, te := p.pt, p.tePT
	p.mu.Unlock()
	name := "PCMU/8000"
	if pt == 8 {
		name = "PCMA/8000"
	}
	a := p.Addr()
	p.mu.Lock()
	proto, crypto := p.mediaLocked()
	p.mu.Unlock()
	return fmt.Sprintf("v=0\r\no=phone 2 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d %s %d %d\r\n"+
		"a=rtpmap:%d %s\r\na=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n%sa=sendrecv\r\n",
		a.IP, a.IP, a.Port, proto, pt, te, pt, name, te, te, crypto), nil
}

// SetAnswer reads the far side's SDP (an answer to Offer, or an offer):
// its address, its first G.711 payload type, its telephone-event number.
func (p *RTPPeer) SetAnswer(desc string) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(desc); err != nil {
		return err
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		ci := m.ConnectionInformation
		if ci == nil {
			ci = sd.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return errors.New("mediatest: no c= line")
		}
		ip := net.ParseIP(ci.Address.Address)
		if ip == nil {
			return fmt.Errorf("mediatest: address %q", ci.Address.Address)
		}
		names := map[uint8]string{0: "pcmu/8000", 8: "pcma/8000"}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" {
				num, rest, _ := strings.Cut(a.Value, " ")
				if n, err := strconv.ParseUint(num, 10, 7); err == nil {
					names[uint8(n)] = strings.ToLower(rest)
				}
			}
		}
		p.mu.Lock()
		only := p.pcmaOnly
		p.mu.Unlock()
		pt, te := -1, -1
		for _, f := range m.MediaName.Formats {
			n, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				continue
			}
			switch nm := names[uint8(n)]; {
			case (nm == "pcma/8000" || nm == "pcmu/8000" && !only) && pt < 0:
				pt = int(n)
			case nm == "telephone-event/8000" && te < 0:
				te = int(n)
			}
		}
		if pt < 0 {
			return errors.New("mediatest: no G.711 in the far side's SDP")
		}
		p.mu.Lock()
		if err := p.srtpKeysLocked(m); err != nil {
			p.mu.Unlock()
			return err
		}
		p.remote = &net.UDPAddr{IP: ip, Port: m.MediaName.Port.Value}
		p.pt = uint8(pt)
		p.alawPT = -1
		for n, nm := range names {
			if nm == "pcma/8000" {
				p.alawPT = int(n)
			}
		}
		if te >= 0 {
			p.tePT = uint8(te)
		}
		p.mu.Unlock()
		return nil
	}
	return errors.New("mediatest: no audio m-line")
}

// Start sends a packet every 20 ms until Stop.
func (p *RTPPeer) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		return
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go p.sendLoop(p.stop)
}

// Stop stops sending.
func (p *RTPPeer) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

// Sent is how many packets the peer sent.
func (p *RTPPeer) Sent() uint64 {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.sent
}

func (p *RTPPeer) sendLoop(stop chan struct{}) {
	defer p.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := fill(p.marker, 160)
	for {
		select {
		case <-stop:
			return
		case <-p.done:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		pt, out := p.pt, payload
		if p.hasLevel {
			out = g711.Encode(nil, int(pt) == p.alawPT, level(p.level))
		}
		p.mu.Unlock()
		p.sendMu.Lock()
		if !p.inDTMF {
			p.write(pt, p.first, p.ts, out)
			p.first = false
		}
		p.ts += 160
		p.sendMu.Unlock()
	}
}

// write sends one packet; sendMu is held.
func (p *RTPPeer) write(pt uint8, marker bool, ts uint32, payload []byte) {
	p.mu.Lock()
	dst := p.remote
	p.mu.Unlock()
	if dst == nil {
		return
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		return
	}
	p.mu.Lock()
	enc := p.enc
	p.mu.Unlock()
	if enc != nil {
		if b, err = enc.EncryptRTP(nil, b, nil); err != nil {
			return
		}
	}
	if _, err := p.conn.WriteToUDP(b, dst); err == nil {
		p.sent++
	}
	p.seq++
}

// SendDTMF plays digits as RFC 4733 events (telephone-event/8000), each
// for dur, 40 ms apart; audio pauses meanwhile.
func (p *RTPPeer) SendDTMF(ctx context.Context, digits string, dur time.Duration) error {
	const events = "0123456789*#ABCD"
	p.mu.Lock()
	pt := p.tePT
	p.mu.Unlock()
	units := func(d time.Duration) uint16 { return uint16(d.Seconds() * 8000) }
	send := func(marker bool, ts uint32, ev byte, end bool, d uint16) {
		payload := []byte{ev, 10, byte(d >> 8), byte(d)}
		if end {
			payload[1] |= 0x80
		}
		p.sendMu.Lock()
		p.write(pt, marker, ts, payload)
		p.sendMu.Unlock()
	}
	for _, d := range digits {
		ev := strings.IndexRune(events, d)
		if ev < 0 {
			return fmt.Errorf("mediatest: bad digit %q", d)
		}
		p.sendMu.Lock()
		p.inDTMF = true
		start := p.ts
		p.sendMu.Unlock()
		for el := 20 * time.Millisecond; ; el += 20 * time.Millisecond {
			el = min(el, dur)
			send(el == 20*time.Millisecond, start, byte(ev), false, units(el))
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
			send(false, start, byte(ev), true, units(dur))
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

func (p *RTPPeer) readLoop() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		dec := p.dec
		p.mu.Unlock()
		if dec != nil {
			plain, err := dec.DecryptRTP(nil, buf[:n], nil)
			if err != nil {
				p.mu.Lock()
				p.srtpFailures++
				p.mu.Unlock()
				continue
			}
			n = copy(buf, plain)
		}
		hl, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		payload := buf[hl:n]
		p.mu.Lock()
		te := h.PayloadType == p.tePT || h.PayloadType == 101
		p.tally.add(&p.recv, p.ssrcs, p.byMarker, &h, payload, te)
		if !te && len(payload) > 0 {
			p.heard = mean(g711.Decode(nil, int(h.PayloadType) == p.alawPT, payload))
		}
		p.mu.Unlock()
	}
}

// SetLevel makes the peer send 20 ms of the constant sample v in every
// packet from now on, instead of its marker.
func (p *RTPPeer) SetLevel(v int16) {
	p.mu.Lock()
	p.level, p.hasLevel = v, true
	p.mu.Unlock()
}

// Heard is the mean sample of the newest audio packet the peer received,
// decoded (G.711).
func (p *RTPPeer) Heard() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heard
}

// MarkerLevel is the level (the mean sample) a peer's packets of marker
// carry when decoded as PCMU: what a mixer adds up for that peer.
func MarkerLevel(marker string) int { return mean(g711.Decode(nil, false, fill(marker, 160))) }

func level(v int16) []int16 {
	s := make([]int16, 160)
	for i := range s {
		s[i] = v
	}
	return s
}

func mean(s []int16) int {
	var sum int
	for _, v := range s {
		sum += int(v)
	}
	return sum / len(s)
}

// Received returns what the peer heard so far.
func (p *RTPPeer) Received() Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recv
}

// ReceivedFrom counts the audio packets received with a marker.
func (p *RTPPeer) ReceivedFrom(marker string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byMarker[markerKey(fill(marker, 8))]
}

// Close stops the peer and closes its socket.
func (p *RTPPeer) Close() error {
	select {
	case <-p.done:
		return errClosedPeer
	default:
	}
	close(p.done)
	err := p.conn.Close()
	p.wg.Wait()
	return err
}

// Holds reports whether linear samples (a recording's channel) hold the
// audio of an RTPPeer with marker: encoded back to PCMU, which is lossless
// for what PCMU decoded, they contain its marker's bytes.
func Holds(samples []int16, marker string) bool {
	return bytes.Contains(g711.Encode(nil, false, samples), []byte(marker+marker))
}

// WAV is a recording read back (media.Relay.StartRecording's files).
type WAV struct {
	Channels, Rate, Bits int
	Complete             bool      // the header's sizes are the file's: the recording was completed
	Samples              [][]int16 // by channel
}

// ReadWAV reads a recording's file: its header's fields and each
// channel's samples. A file that is not a PCM WAV is an error.
func ReadWAV(path string) (WAV, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return WAV{}, err
	}
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		return WAV{}, fmt.Errorf("mediatest: %s: not a PCM WAV file (%d bytes)", path, len(b))
	}
	le := binary.LittleEndian
	w := WAV{Channels: int(le.Uint16(b[22:])), Rate: int(le.Uint32(b[24:])), Bits: int(le.Uint16(b[34:]))}
	w.Complete = int(le.Uint32(b[40:])) == len(b)-44 && int(le.Uint32(b[4:])) == len(b)-8
	if w.Channels < 1 || w.Bits != 16 {
		return WAV{}, fmt.Errorf("mediatest: %s: %d channels of %d bits", path, w.Channels, w.Bits)
	}
	w.Samples = make([][]int16, w.Channels)
	for i := 44; i+2*w.Channels <= len(b); i += 2 * w.Channels {
		for ch := range w.Channels {
			w.Samples[ch] = append(w.Samples[ch], int16(le.Uint16(b[i+2*ch:])))
		}
	}
	return w, nil
}
