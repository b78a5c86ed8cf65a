package auth

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/callengine/callengine/errcode"
)

// The causes of a refused token. Every error of Verify and VerifyKind has the
// code errcode.InvalidToken and wraps exactly one of them, so that
//
//	errors.Is(err, auth.ErrExpired)               // why
//	errcode.CodeOf(err) == errcode.InvalidToken   // what the API answers (401)
var (
	// ErrMalformed: the input is not a token of this format: too long,
	// not "ce1.<payload>.<signature>", not base64url, or a signed payload
	// that does not decode (which only a holder of the secret could make).
	ErrMalformed = errors.New("malformed token")
	// ErrForged: the signature matches none of the Signer's secrets: the
	// token was altered, signed with another secret, or with a secret that
	// has been retired.
	ErrForged = errors.New("forged token")
	// ErrExpired: now >= ExpiresAt.
	ErrExpired = errors.New("expired token")
	// ErrNotYetValid: IssuedAt is more than MaxSkew after now.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrWrongKind: an access token where a refresh token is needed, or the
	// reverse (VerifyKind).
	ErrWrongKind = errors.New("wrong kind of token")
	// ErrRevoked: the token belongs to another registration of its client
	// (Claims.CheckGeneration). Verify itself never returns it.
	ErrRevoked = errors.New("revoked token")
)

func refuse(cause error, msg string) error {
	return errcode.Wrap(errcode.InvalidToken, cause, msg)
}

func malformed(msg string) error { return refuse(ErrMalformed, msg) }

// human writes a duration for people: whole seconds from one second up,
// milliseconds below.
func human(d int64) string {
	t := time.Duration(d)
	unit := time.Duration(1)
	switch {
	case t >= time.Second:
		unit = time.Second
	case t >= time.Millisecond:
		unit = time.Millisecond
	}
	if t > math.MaxInt64-unit { // Round would saturate
		return t.Truncate(unit).String()
	}
	return t.Round(unit).String()
}

// withArticle returns "a refresh token" or "an access token".
func withArticle(k Kind) string {
	if k == KindAccess {
		return "an access token"
	}
	return "a " + string(k) + " token"
}

func quote(s string) string { return strconv.Quote(s) }
