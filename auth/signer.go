package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"strconv"
	"strings"
	"sync"

	"github.com/callengine/callengine/errcode"
)

// Prefix starts every token of this format; its digit is the format version.
const Prefix = "ce1."

// MinSecretLen is the shortest secret NewSigner accepts (256 bits).
const MinSecretLen = 32

const (
	macLen     = sha256.Size                                      // 32 bytes
	macB64Len  = (macLen*8 + 5) / 6                               // 43 characters
	maxPayload = 2 + 2*(1+MaxFieldLen) + 3*binary.MaxVarintLen64  // 544 bytes
	maxToken   = len(Prefix) + (maxPayload*8+5)/6 + 1 + macB64Len // 774 bytes
)

var b64 = base64.RawURLEncoding.Strict()

// Signer signs and verifies tokens. It is immutable and safe for concurrent
// use. Make one with NewSigner.
type Signer struct {
	keys []*key // keys[0] signs; every key verifies
}

// key is one secret, with a pool of HMAC states keyed with it: an HMAC that
// is Reset skips hashing the key again, and a pooled one is not allocated.
type key struct{ macs sync.Pool }

func newKey(secret []byte) *key {
	secret = append([]byte(nil), secret...) // the caller may reuse its slice
	k := &key{}
	k.macs.New = func() any { return hmac.New(sha256.New, secret) }
	return k
}

// sum returns HMAC-SHA256(secret, signed).
func (k *key) sum(signed []byte) [macLen]byte {
	h := k.macs.Get().(hash.Hash)
	h.Write(signed)
	var out [macLen]byte
	h.Sum(out[:0])
	h.Reset()
	k.macs.Put(h)
	return out
}

// NewSigner returns a signer that signs with secret and verifies with secret
// and with each of previous: the secrets of earlier rotations, whose tokens
// stay valid until they expire, but which never sign. Each secret needs at
// least MinSecretLen bytes (errcode.InvalidParams otherwise); the signer keeps
// copies.
func NewSigner(secret []byte, previous ...[]byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, errcode.Newf(errcode.InvalidParams,
			"auth: a secret needs at least %d bytes, this one has %d", MinSecretLen, len(secret))
	}
	s := &Signer{keys: []*key{newKey(secret)}}
	for i, p := range previous {
		if len(p) < MinSecretLen {
			return nil, errcode.Newf(errcode.InvalidParams,
				"auth: a secret needs at least %d bytes, previous secret %d has %d", MinSecretLen, i+1, len(p))
		}
		s.keys = append(s.keys, newKey(p))
	}
	return s, nil
}

func (s *Signer) ready() error {
	if s == nil || len(s.keys) == 0 {
		return errcode.New(errcode.Internal, "auth: a Signer must be made by NewSigner")
	}
	return nil
}

// Sign returns the token of c, signed with the current secret. It refuses
// (errcode.InvalidParams) claims without a client, a kind or a role, with a
// kind or role it does not know, with an ID or Client longer than MaxFieldLen
// bytes or not UTF-8, and claims whose ExpiresAt is not after IssuedAt. The
// same claims always give the same token.
func (s *Signer) Sign(c Claims) (string, error) {
	if err := s.ready(); err != nil {
		return "", err
	}
	if why := c.problem(); why != "" {
		return "", errcode.New(errcode.InvalidParams, "auth: cannot sign claims with "+why)
	}
	var payload [maxPayload]byte
	p := appendClaims(payload[:0], c)
	b := make([]byte, 0, len(Prefix)+b64.EncodedLen(len(p))+1+macB64Len)
	b = append(b, Prefix...)
	b = b64.AppendEncode(b, p)
	mac := s.keys[0].sum(b)
	b = append(b, '.')
	b = b64.AppendEncode(b, mac[:])
	return string(b), nil
}

// Verify checks a token at time now (Unix ns) and returns its claims. It
// refuses, with errcode.InvalidToken wrapping the sentinel in parentheses, a
// token that is not of this format or longer than MaxTokenLen (ErrMalformed),
// whose signature matches none of the secrets (ErrForged), that has expired,
// now >= ExpiresAt (ErrExpired), or whose IssuedAt is more than MaxSkew after
// now (ErrNotYetValid). It never panics, whatever the input. On error the
// claims are zero.
func (s *Signer) Verify(token string, now int64) (Claims, error) {
	c, err := s.parse(token)
	if err != nil {
		return Claims{}, err
	}
	if err := checkTime(c, now); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// VerifyKind is Verify for a token that must be of the given kind: an access
// token presented as a refresh token, or the reverse, is refused with
// ErrWrongKind (code invalid_token). A kind other than KindAccess and
// KindRefresh is a bug of the caller: errcode.InvalidParams.
func (s *Signer) VerifyKind(token string, kind Kind, now int64) (Claims, error) {
	if !kind.Valid() {
		return Claims{}, errcode.Newf(errcode.InvalidParams, "auth: unknown token kind %q", string(kind))
	}
	c, err := s.parse(token)
	if err != nil {
		return Claims{}, err
	}
	if c.Kind != kind {
		return Claims{}, refuse(ErrWrongKind, withArticle(c.Kind)+" where "+withArticle(kind)+" is needed")
	}
	if err := checkTime(c, now); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// parse checks everything but the time.
func (s *Signer) parse(token string) (Claims, error) {
	if err := s.ready(); err != nil {
		return Claims{}, err
	}
	switch {
	case token == "":
		return Claims{}, malformed("empty token")
	case len(token) > MaxTokenLen:
		return Claims{}, malformed("a token of " + strconv.Itoa(len(token)) +
			" bytes, longer than the " + strconv.Itoa(MaxTokenLen) + " allowed")
	case !strings.HasPrefix(token, Prefix):
		if v, _, ok := strings.Cut(token, "."); ok && isVersion(v) {
			return Claims{}, malformed("token version " + quote(v) + " is not supported (want " + quote(Prefix[:len(Prefix)-1]) + ")")
		}
		return Claims{}, malformed("not a callengine token (it does not start with " + quote(Prefix) + ")")
	}
	rest := token[len(Prefix):]
	dot := -1
	for i := 0; i < len(rest); i++ {
		switch ch := rest[i]; {
		case ch == '.':
			if dot >= 0 {
				return Claims{}, malformed("token has more than 3 dot-separated parts")
			}
			dot = i
		case !isB64(ch):
			return Claims{}, malformed("token has a character outside base64url at byte " + strconv.Itoa(len(Prefix)+i))
		}
	}
	if dot < 0 {
		return Claims{}, malformed("token has no signature (want " + Prefix + "<payload>.<signature>)")
	}
	payload64, mac64 := rest[:dot], rest[dot+1:]
	if len(mac64) != macB64Len {
		return Claims{}, malformed("token signature has " + strconv.Itoa(len(mac64)) +
			" characters, want " + strconv.Itoa(macB64Len))
	}
	var mac [macLen]byte
	if n, err := b64.Decode(mac[:], []byte(mac64)); err != nil || n != macLen {
		return Claims{}, malformed("token signature is not base64url")
	}
	signed := []byte(token[:len(Prefix)+dot])
	match := 0
	for _, k := range s.keys { // no early exit: the time does not tell which key
		want := k.sum(signed)
		if hmac.Equal(mac[:], want[:]) {
			match = 1
		}
	}
	if match == 0 {
		return Claims{}, refuse(ErrForged, "token signature does not match")
	}
	p, err := b64.DecodeString(payload64)
	if err != nil {
		return Claims{}, malformed("token payload is not base64url")
	}
	c, why := decodeClaims(p)
	if why != "" {
		return Claims{}, malformed("token " + why)
	}
	return c, nil
}

func checkTime(c Claims, now int64) error {
	if now >= c.ExpiresAt {
		return refuse(ErrExpired, string(c.Kind)+" token expired "+
			human(saturate(uint64(now)-uint64(c.ExpiresAt)))+" ago")
	}
	if c.IssuedAt > now {
		if ahead := saturate(uint64(c.IssuedAt) - uint64(now)); ahead > int64(MaxSkew) {
			return refuse(ErrNotYetValid, string(c.Kind)+" token issued "+human(ahead)+
				" in the future (more than the "+MaxSkew.String()+" of clock skew allowed)")
		}
	}
	return nil
}

func isB64(ch byte) bool {
	return 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_'
}

// isVersion reports whether v looks like "ce<digits>", a version prefix.
func isVersion(v string) bool {
	d, ok := strings.CutPrefix(v, "ce")
	if !ok || d == "" || len(d) > 3 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}
