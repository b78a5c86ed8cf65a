package sip

import (
	"encoding/base64"
	"sync"
	"time"

	"github.com/callengine/callengine/clock"
)

// Replay protection of digest credentials. The nonce is stateless
// (auth_digest.go), so without more a captured Proxy-Authorization could be
// sent again, on a new INVITE, for as long as its nonce lives — a call
// to a number outside paid by somebody else. The nonce count closes it
// (RFC 7616 §3.4.5): the adapter remembers, for every nonce a request
// authenticated with, the highest nc it carried, and a request whose nc is
// not higher is a replay, answered with a new challenge (stale=true: a
// phone that counted right is never bothered; sipgo absorbs a
// retransmission before it reaches the handler). The count is inside the
// digest: nobody without the password can raise it. A client that ignores
// qop=auth sends no nc: its nonce is then good for one request.
//
// The digest's uri is not compared with the Request-URI (RFC 2617
// §3.2.2.5 says SHOULD): sipp, and phones behind some proxies, put the
// server's address there (sip:host:port), not the Request-URI, and with
// the count checked a replay fails whatever its uri.
//
// What the adapter remembers is bounded in time, not by a count: an entry
// lives between one and two nonce lifetimes (two generations of maps,
// swapped every NonceTTL), 20 bytes and no pointer each (the collector
// does not scan them): at 1,000 authenticated requests a second and the
// 5 min default, about 25 MB. After a restart it is empty: each nonce
// given out before may then be replayed once.

// nonceCounts is the highest nonce count seen per nonce.
type nonceCounts struct {
	clock clock.Clock
	ttl   time.Duration

	mu        sync.Mutex
	rotated   time.Time
	cur, prev map[nonceKey]uint32
}

// nonceKey names a nonce by its HMAC (auth_digest.go: unique per nonce).
type nonceKey [16]byte

func newNonceCounts(c clock.Clock, ttl time.Duration) *nonceCounts {
	return &nonceCounts{clock: c, ttl: ttl, rotated: c.Now(), cur: map[nonceKey]uint32{}}
}

// advance records that nonce was used with count nc (0: no qop, a count
// of one) and reports whether nc is higher than any count it was used
// with before: false is a replay.
func (n *nonceCounts) advance(nonce string, nc int) bool {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 24 || nc < 0 || nc > 0xffffffff {
		return false
	}
	var k nonceKey
	copy(k[:], raw[8:])
	count := uint32(max(nc, 1))
	n.mu.Lock()
	defer n.mu.Unlock()
	if now := n.clock.Now(); now.Sub(n.rotated) >= n.ttl {
		n.prev, n.cur, n.rotated = n.cur, make(map[nonceKey]uint32, len(n.cur)), now
	}
	last, ok := n.cur[k]
	if !ok {
		last, ok = n.prev[k]
	}
	if ok && count <= last {
		return false
	}
	n.cur[k] = count
	return true
}
