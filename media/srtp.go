package media

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SDES-SRTP (RFC 4568, RFC 3711) on plain RTP legs: a SIP phone or trunk
// whose SDP is RTP/SAVP (or RTP/SAVPF) with a=crypto lines keys each
// direction of the leg in the SDP itself — its line holds the key it
// encrypts with, ours the key we encrypt with. The relay
//
//   - answers an offer of SRTP with SRTP: the first crypto line whose
//     suite it speaks (cryptoSuites), a fresh key of ours with the same tag
//     and suite;
//   - offers SRTP when asked (OfferOptions.SRTP): a line per suite, each
//     with a fresh key; the answer picks one by its tag, and an answer
//     without SRTP to such an offer is refused (ErrBadSDP);
//   - keeps both keys across a re-INVITE that keeps them (the streams'
//     rollover counters go on), and takes new ones when they change;
//   - decrypts and authenticates every packet before anything else reads
//     it: a packet that fails (a wrong key, a forged or replayed packet)
//     is dropped and counted (LegStats.SRTPFailures), and never moves the
//     address the leg latched onto.
//
// Lines with a master key identifier (MKI) or session parameters
// (UNENCRYPTED_SRTP, KDR …) are not taken: the relay does not honour
// them, and an offer usually has another line. A key lifetime is read and
// not enforced (the key serves the whole call, as in most SDES stacks).

// cryptoSuite is an SDES crypto suite the relay speaks.
type cryptoSuite struct {
	name    string
	profile srtp.ProtectionProfile
}

// cryptoSuites are the suites the relay speaks, in the order it offers
// them (RFC 4568 §6.2 and RFC 7714 §12).
var cryptoSuites = []cryptoSuite{
	{"AES_CM_128_HMAC_SHA1_80", srtp.ProtectionProfileAes128CmHmacSha1_80},
	{"AES_CM_128_HMAC_SHA1_32", srtp.ProtectionProfileAes128CmHmacSha1_32},
	{"AEAD_AES_128_GCM", srtp.ProtectionProfileAeadAes128Gcm},
	{"AEAD_AES_256_GCM", srtp.ProtectionProfileAeadAes256Gcm},
}

// offeredSuites are those an SRTP offer of the relay lists: what SIP
// phones commonly speak.
var offeredSuites = cryptoSuites[:2]

// ErrCryptoUnsupported is a crypto attribute that is well formed but asks
// for what the relay does not do (a suite, an MKI, session parameters).
var ErrCryptoUnsupported = errors.New("media: crypto attribute not supported")

// sdesKey is one a=crypto line: its tag, its suite, and the master key
// followed by the master salt.
type sdesKey struct {
	tag   int
	suite cryptoSuite
	key   []byte
}

// maxCryptoTag bounds a crypto line's tag (RFC 4568 §9.1: 1 to 9 digits).
const maxCryptoTag = 999999999

// parseCrypto reads the value of an a=crypto attribute ("1
// AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>[|lifetime]"). A line
// that is not one is ErrBadSDP; one the relay does not do is
// ErrCryptoUnsupported.
func parseCrypto(v string) (sdesKey, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return sdesKey{}, fmt.Errorf("%w: crypto %q", ErrBadSDP, v)
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > maxCryptoTag || len(f[0]) > 9 {
		return sdesKey{}, fmt.Errorf("%w: crypto tag %q", ErrBadSDP, f[0])
	}
	k := sdesKey{tag: tag}
	found := false
	for _, s := range cryptoSuites {
		if s.name == f[1] {
			k.suite, found = s, true
		}
	}
	if !found {
		return sdesKey{}, fmt.Errorf("%w: suite %q", ErrCryptoUnsupported, f[1])
	}
	if len(f) > 3 {
		return sdesKey{}, fmt.Errorf("%w: session parameters %q", ErrCryptoUnsupported, strings.Join(f[3:], " "))
	}
	params := strings.Split(f[2], ";")
	if len(params) > 1 {
		return sdesKey{}, fmt.Errorf("%w: %d keys in one line", ErrCryptoUnsupported, len(params))
	}
	inline, ok := strings.CutPrefix(params[0], "inline:")
	if !ok {
		return sdesKey{}, fmt.Errorf("%w: key method of %q", ErrBadSDP, params[0])
	}
	parts := strings.Split(inline, "|")
	switch {
	case len(parts) > 3:
		return sdesKey{}, fmt.Errorf("%w: key parameters %q", ErrBadSDP, inline)
	case len(parts) == 3 || len(parts) == 2 && strings.Contains(parts[1], ":"):
		return sdesKey{}, fmt.Errorf("%w: a master key identifier", ErrCryptoUnsupported)
	case len(parts) == 2 && !validLifetime(parts[1]):
		return sdesKey{}, fmt.Errorf("%w: key lifetime %q", ErrBadSDP, parts[1])
	}
	raw, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		// Some phones leave the padding out.
		if raw, err = base64.RawStdEncoding.DecodeString(parts[0]); err != nil {
			return sdesKey{}, fmt.Errorf("%w: crypto key: %v", ErrBadSDP, err)
		}
	}
	if want := k.suite.keyLen(); len(raw) != want {
		return sdesKey{}, fmt.Errorf("%w: crypto key of %d bytes for %s (%d)", ErrBadSDP, len(raw), k.suite.name, want)
	}
	k.key = raw
	return k, nil
}

// validLifetime reports whether s is a key lifetime ("2^31", "1048576").
// The relay does not re-key: like most SDES implementations it uses the
// key for the whole call whatever lifetime the line gives.
func validLifetime(s string) bool {
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := strconv.Atoi(exp)
		return err == nil && n >= 1 && n <= 64
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n > 0
}

// keyLen is the length of the suite's master key and salt together.
func (s cryptoSuite) keyLen() int {
	k, _ := s.profile.KeyLen()
	salt, _ := s.profile.SaltLen()
	return k + salt
}

// newSDESKey makes a fresh key of suite s for a line with tag.
func newSDESKey(tag int, s cryptoSuite) (sdesKey, error) {
	k := sdesKey{tag: tag, suite: s, key: make([]byte, s.keyLen())}
	if _, err := rand.Read(k.key); err != nil {
		return sdesKey{}, fmt.Errorf("media: srtp key: %w", err)
	}
	return k, nil
}

// attr is the value of k's a=crypto line.
func (k sdesKey) attr() string {
	return strconv.Itoa(k.tag) + " " + k.suite.name + " inline:" + base64.StdEncoding.EncodeToString(k.key)
}

// equal reports whether k and o are the same line.
func (k sdesKey) equal(o sdesKey) bool {
	return k.tag == o.tag && k.suite == o.suite && string(k.key) == string(o.key)
}

// srtpSession is the SRTP state of a leg: the key we encrypt with (our
// line), the peer's, and a context for each direction (the writer's and
// the reader's; pion's contexts are not safe for concurrent use).
type srtpSession struct {
	local, remote sdesKey
	enc, dec      *srtp.Context
	// probe: the session was restored (RestoreRTP) and the peer's stream
	// has an unknown rollover counter (it may have wrapped before the
	// restart): until a packet authenticates, each is tried under the
	// counters 0 … maxProbeROC, for at most probeBudget packets. Read and
	// written by the reader only.
	probe       bool
	probeBudget int
}

// maxProbeROC bounds the rollover counters a restored session tries: a
// wrap every 65,536 packets, 21.8 minutes at 20 ms — 64 cover 23 hours.
const maxProbeROC = 64

// probePackets is how many packets a restored session tries the counters
// on before it gives up (a peer that never authenticates: a forger, a
// wrong key) and reads as any session.
const probePackets = 200

// srtpReplayWindow is the replay window of the decrypting context, in
// packets (RFC 3711 §3.3.2 asks for at least 64).
const srtpReplayWindow = 128

func newSRTPSession(local, remote sdesKey) (*srtpSession, error) {
	if local.suite != remote.suite {
		return nil, fmt.Errorf("%w: suites %s and %s", ErrBadSDP, local.suite.name, remote.suite.name)
	}
	s := &srtpSession{local: local, remote: remote}
	var err error
	if s.enc, err = contextOf(local, nil); err != nil {
		return nil, err
	}
	if s.dec, err = contextOf(remote, []srtp.ContextOption{srtp.SRTPReplayProtection(srtpReplayWindow)}); err != nil {
		return nil, err
	}
	return s, nil
}

func contextOf(k sdesKey, opts []srtp.ContextOption) (*srtp.Context, error) {
	n, _ := k.suite.profile.KeyLen()
	c, err := srtp.CreateContext(k.key[:n], k.key[n:], k.suite.profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("media: srtp %s: %w", k.suite.name, err)
	}
	return c, nil
}

// sameKeys reports whether s runs with exactly these keys (a re-INVITE
// that kept them: the session, with its rollover counters, goes on).
func (s *srtpSession) sameKeys(local, remote sdesKey) bool {
	return s != nil && s.local.equal(local) && s.remote.equal(remote)
}

// followFrom carries the rollover counter of our stream ssrc from prev,
// the session that sealed it so far, to s (new keys on the same stream:
// RFC 3711 keeps the counter across a re-key). Called by the writer only,
// which alone uses the sealing contexts.
func (s *srtpSession) followFrom(prev *srtpSession, ssrc uint32) {
	if prev == nil {
		return
	}
	if roc, ok := prev.enc.ROC(ssrc); ok && roc > 0 {
		s.enc.SetROC(ssrc, roc)
	}
}

// seal encrypts the RTP packet plain (its header h already read from it)
// into dst.
func (s *srtpSession) seal(dst, plain []byte, h *rtp.Header) ([]byte, error) {
	return s.enc.EncryptRTP(dst, plain, h)
}

// open authenticates and decrypts the SRTP packet sealed into dst.
func (s *srtpSession) open(dst, sealed []byte) ([]byte, error) {
	var h rtp.Header
	out, err := s.dec.DecryptRTP(dst, sealed, &h)
	if err == nil || !s.probe {
		s.probe = s.probe && err != nil
		return out, err
	}
	// A restored session: the peer's stream may be past a wrap.
	if s.probeBudget--; s.probeBudget <= 0 {
		s.probe = false
	}
	for roc := uint32(1); roc <= maxProbeROC; roc++ {
		s.dec.SetROC(h.SSRC, roc)
		if out, err2 := s.dec.DecryptRTP(dst, sealed, &h); err2 == nil {
			s.probe = false
			return out, nil
		}
	}
	s.dec.SetROC(h.SSRC, 0) // the next packet tries from 0 again
	return nil, err
}

// answerKey picks the line of an offer the relay answers (the first, the
// offer listing them in its preference) and makes our key for it.
func answerKey(offered []sdesKey) (local, remote sdesKey, err error) {
	if len(offered) == 0 {
		return sdesKey{}, sdesKey{}, fmt.Errorf("%w: no crypto line the relay speaks", ErrBadSDP)
	}
	remote = offered[0]
	local, err = newSDESKey(remote.tag, remote.suite)
	return local, remote, err
}

// offerKeys makes the lines of an SRTP offer: one per offered suite, tags
// from 1.
func offerKeys() ([]sdesKey, error) {
	keys := make([]sdesKey, 0, len(offeredSuites))
	for i, s := range offeredSuites {
		k, err := newSDESKey(i+1, s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// answeredKeys matches the line of an answer to our offer's lines: our key
// is the offered one with the answer's tag and suite.
func answeredKeys(offered, answered []sdesKey) (local, remote sdesKey, err error) {
	if len(answered) != 1 {
		return sdesKey{}, sdesKey{}, fmt.Errorf("%w: an SRTP answer has %d crypto lines the relay speaks, want 1", ErrBadSDP, len(answered))
	}
	remote = answered[0]
	for _, k := range offered {
		if k.tag == remote.tag && k.suite == remote.suite {
			return k, remote, nil
		}
	}
	return sdesKey{}, sdesKey{}, fmt.Errorf("%w: the answer's crypto tag %d (%s) was not offered", ErrBadSDP, remote.tag, remote.suite.name)
}

// restoredKeys finds the pair of lines a leg ran with from the two SDPs of
// its last exchange (RestoreRTP): ours and the peer's with the same tag
// and suite — one side's answer has one line, the other's offer may have
// several.
func restoredKeys(mine, theirs []sdesKey) (local, remote sdesKey, ok bool) {
	for _, m := range mine {
		for _, t := range theirs {
			if m.tag == t.tag && m.suite == t.suite {
				return m, t, true
			}
		}
	}
	return sdesKey{}, sdesKey{}, false
}

// setSRTP makes the leg run with s (nil: plain RTP) and our SDP announce
// s's key. A session with the keys the leg has already is kept as it is,
// rollover counters included.
func (c *rtpConn) setSRTP(s *srtpSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secure = s != nil
	c.keys = nil
	if s == nil {
		c.srtp.Store(nil)
		return
	}
	c.keys = []sdesKey{s.local}
	if cur := c.srtp.Load(); cur.sameKeys(s.local, s.remote) {
		return
	}
	c.srtp.Store(s)
}

// answerSession is the SRTP session of the relay's answer to rem, an offer
// (nil for plain RTP): the session the leg has when the offer keeps the
// peer's key (a re-INVITE), else a fresh key of ours for its first line.
func (c *rtpConn) answerSession(rem rtpRemote) (*srtpSession, error) {
	if !rem.secure {
		return nil, nil
	}
	if cur := c.srtp.Load(); cur != nil {
		for _, k := range rem.keys {
			if k.equal(cur.remote) {
				return cur, nil
			}
		}
	}
	local, remote, err := answerKey(rem.keys)
	if err != nil {
		return nil, err
	}
	s, err := newSRTPSession(local, remote)
	if err == nil && c.srtp.Load() != nil {
		s.rekeyed() // the phone's stream goes on under new keys
	}
	return s, err
}

// rekeyed marks s as new keys of a leg that ran SRTP: the peer's stream
// keeps its rollover counter, which s does not know — it is found as after
// a restore (open).
func (s *srtpSession) rekeyed() { s.probe, s.probeBudget = true, probePackets }

// answeredSession is the SRTP session an answer rem to our pending offer
// sets (nil for plain RTP); an answer whose profile is not the offer's is
// ErrBadSDP. c.mu is held.
func (c *rtpConn) answeredSessionLocked(rem rtpRemote) (*srtpSession, error) {
	switch {
	case c.secure && !rem.secure:
		return nil, fmt.Errorf("%w: an RTP/AVP answer to an SRTP offer", ErrBadSDP)
	case !c.secure && rem.secure:
		return nil, fmt.Errorf("%w: an SRTP answer to an RTP/AVP offer", ErrBadSDP)
	case !c.secure:
		return nil, nil
	}
	local, remote, err := answeredKeys(c.keys, rem.keys)
	if err != nil {
		return nil, err
	}
	cur := c.srtp.Load()
	if cur.sameKeys(local, remote) {
		return cur, nil
	}
	s, err := newSRTPSession(local, remote)
	if err == nil && cur != nil {
		s.rekeyed()
	}
	return s, err
}

// offerSRTPLocked makes our next SDP an offer: of SRTP with fresh lines
// (fresh true), of SRTP with the key in use (a re-offer of a leg that runs
// SRTP), or of plain RTP. c.mu is held.
func (c *rtpConn) offerSRTPLocked(fresh bool) error {
	if fresh {
		keys, err := offerKeys()
		if err != nil {
			return err
		}
		c.secure, c.keys = true, keys
		return nil
	}
	if cur := c.srtp.Load(); cur != nil {
		c.secure, c.keys = true, []sdesKey{cur.local}
		return nil
	}
	c.secure, c.keys = false, nil
	return nil
}
