package sipsyntax

import (
	"errors"
	"strings"

	"github.com/icholy/digest"
)

// maxDigestField bounds every field of a credentials header we accept.
const maxDigestField = 512

// ErrBadCredentials refuses an Authorization value ParseCredentials cannot use.
var ErrBadCredentials = errors.New("sip: malformed digest credentials")

// ParseCredentials decodes an Authorization / Proxy-Authorization value and
// checks the fields we rely on: a username, a nonce, a URI, a 32-digit hex
// response, algorithm MD5 (or none) and qop auth (or none). It never
// panics on any input (FuzzParseCredentials).
func ParseCredentials(h string) (*digest.Credentials, error) {
	if len(h) > 4*maxDigestField {
		return nil, ErrBadCredentials
	}
	c, err := digest.ParseCredentials(h)
	if err != nil {
		return nil, ErrBadCredentials
	}
	for _, f := range []string{c.Username, c.Realm, c.Nonce, c.URI, c.Response, c.Cnonce, c.Opaque} {
		if len(f) > maxDigestField {
			return nil, ErrBadCredentials
		}
	}
	if c.Username == "" || c.Nonce == "" || c.URI == "" || len(c.Response) != 32 || !isHex(c.Response) {
		return nil, ErrBadCredentials
	}
	if a := strings.ToUpper(c.Algorithm); a != "" && a != "MD5" {
		return nil, ErrBadCredentials
	}
	switch c.QOP {
	case "":
	case "auth":
		if c.Cnonce == "" || c.Nc <= 0 {
			return nil, ErrBadCredentials
		}
	default:
		return nil, ErrBadCredentials
	}
	return c, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
