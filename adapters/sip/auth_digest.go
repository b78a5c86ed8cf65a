package sip

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/clock"
)

// Digest authentication (RFC 2617 / RFC 7616 with MD5, qop auth) on the
// server side. REGISTER is challenged with 401 WWW-Authenticate, INVITE with
// 407 Proxy-Authenticate. The nonce is stateless: a timestamp from the
// clock and an HMAC of it, so a restarted engine with the same NonceSecret
// accepts the nonces it gave out.

// Accounts gives the digest credentials of a client: the realm and HA1 =
// MD5(client:realm:password). *engine.Engine implements it; an error (the
// client has no password, or does not exist) fails the authentication.
type Accounts interface {
	DigestCredentials(ctx context.Context, clientID string) (realm, ha1 string, err error)
}

// nonces issues and checks stateless nonces.
type nonces struct {
	secret []byte
	clock  clock.Clock
	ttl    time.Duration
	// last, when set, is the timestamp of the last nonce issued: each
	// nonce gets a later one, so that no two are the same (a nonce count
	// is kept per nonce, auth_replay.go).
	last *atomic.Uint64
}

func (n nonces) sum(ts []byte) []byte {
	m := hmac.New(sha256.New, n.secret)
	m.Write(ts)
	return m.Sum(nil)[:16]
}

// issue returns a new nonce: base64url(timestamp || HMAC(timestamp)).
func (n nonces) issue() string {
	var ts [8]byte
	now := uint64(n.clock.Now().UnixNano())
	if n.last != nil {
		for {
			last := n.last.Load()
			now = max(now, last+1)
			if n.last.CompareAndSwap(last, now) {
				break
			}
		}
	}
	binary.BigEndian.PutUint64(ts[:], now)
	return base64.RawURLEncoding.EncodeToString(append(ts[:], n.sum(ts[:])...))
}

// check reports whether nonce is one of ours (valid) and still within its
// time to live (fresh).
func (n nonces) check(nonce string) (valid, fresh bool) {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 24 {
		return false, false
	}
	if !hmac.Equal(raw[8:], n.sum(raw[:8])) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	age := n.clock.Now().Sub(issued)
	return true, age >= -time.Minute && age <= n.ttl
}

// challenge is the WWW-Authenticate / Proxy-Authenticate value.
func (n nonces) challenge(realm string, stale bool) string {
	c := digest.Challenge{Realm: realm, Nonce: n.issue(), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return c.String()
}

// digestMatches reports whether c answers the challenge for method with the
// client's HA1.
func digestMatches(c *digest.Credentials, method, realm, ha1 string) bool {
	chal := &digest.Challenge{Realm: realm, Nonce: c.Nonce, Opaque: c.Opaque, Algorithm: c.Algorithm}
	if c.QOP != "" {
		chal.QOP = []string{c.QOP} // never []string{""}: see DEPENDENCIES
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: method, URI: c.URI, Username: c.Username, A1: ha1, Cnonce: c.Cnonce, Count: c.Nc,
	})
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(want.Response)), []byte(strings.ToLower(c.Response))) == 1
}

// authResult is what authenticate found.
type authResult struct {
	client string // the authenticated client; "" when not
	stale  bool   // the credentials were right but the nonce expired
}

// authenticate checks the request's Authorization (proxy false) or
// Proxy-Authorization (proxy true) header against the client's
// credentials.
func (a *Adapter) authenticate(ctx context.Context, req *sip.Request, proxy bool) authResult {
	name := "Authorization"
	if proxy {
		name = "Proxy-Authorization"
	}
	failed := false
	for _, h := range req.GetHeaders(name) {
		c, err := sipsyntax.ParseCredentials(h.Value())
		if err != nil || c.Realm != a.set.Realm {
			failed = true
			continue
		}
		valid, fresh := a.nonces.check(c.Nonce)
		if !valid {
			failed = true
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, a.set.CommandTimeout)
		realm, ha1, err := a.accounts.DigestCredentials(cctx, c.Username)
		cancel()
		if err != nil || realm != c.Realm || !digestMatches(c, string(req.Method), realm, ha1) {
			failed = true
			continue
		}
		if !fresh {
			return authResult{stale: true}
		}
		if !a.nonceCounts.advance(c.Nonce, c.Nc) {
			a.stats.digestReplays.Add(1)
			return authResult{stale: true} // a replay, or a count gone back: challenged again
		}
		return authResult{client: c.Username}
	}
	if failed {
		a.stats.authFailures.Add(1)
	}
	return authResult{}
}

// challenge answers req with 401 (REGISTER) or 407 (INVITE) and a fresh
// challenge.
func (a *Adapter) challenge(req *sip.Request, tx sip.ServerTransaction, proxy, stale bool) {
	st, hdr := statusUnauthorized, "WWW-Authenticate"
	if proxy {
		st, hdr = statusProxyAuth, "Proxy-Authenticate"
	}
	res := a.response(req, st)
	res.AppendHeader(sip.NewHeader(hdr, a.nonces.challenge(a.set.Realm, stale)))
	a.respond(tx, res)
}
