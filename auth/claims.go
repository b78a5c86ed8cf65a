package auth

import (
	"time"
	"unicode/utf8"

	"github.com/callengine/callengine/errcode"
)

// Role is what the holder of a token may do.
type Role string

// The roles.
const (
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
)

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool { return roleCode(r) != 0 }

// Kind tells an access token from a refresh token.
type Kind string

// The kinds. An access token opens a connection; a refresh token only buys a
// new pair of tokens.
const (
	KindAccess  Kind = "access"
	KindRefresh Kind = "refresh"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { return kindCode(k) != 0 }

// Lifetimes and limits.
const (
	// DefaultAccessTTL and DefaultRefreshTTL are the lifetimes the engine
	// gives its tokens unless configured otherwise.
	DefaultAccessTTL  = time.Hour
	DefaultRefreshTTL = 30 * 24 * time.Hour

	// MaxSkew is how far in the future a token's IssuedAt may lie before
	// Verify refuses it as not yet valid: room for the clocks of two engines
	// that share a secret to disagree.
	MaxSkew = time.Minute

	// MaxTokenLen bounds the tokens Verify reads; longer input is refused
	// before it is decoded. Sign never makes a token longer than 1 KiB.
	MaxTokenLen = 4096

	// MaxFieldLen bounds Claims.ID and Claims.Client, in bytes.
	MaxFieldLen = 255
)

// Claims is what a token says. A token carries its claims in the clear (they
// are signed, not encrypted): put nothing secret in them.
type Claims struct {
	ID     string `json:"id"`     // token id, given by the caller; may be empty
	Client string `json:"client"` // the client the token is bound to
	Role   Role   `json:"role"`
	Kind   Kind   `json:"kind"`
	// Generation is the client's registration generation: the engine passes
	// the stream version of the client's registration, and refuses a token of
	// another registration (see CheckGeneration).
	Generation int64 `json:"generation"`
	IssuedAt   int64 `json:"issued_at"`  // Unix ns
	ExpiresAt  int64 `json:"expires_at"` // Unix ns, after IssuedAt
}

// problem returns why c cannot be a token's claims, or "" if it can.
func (c Claims) problem() string {
	switch {
	case c.Client == "":
		return "no client"
	case len(c.Client) > MaxFieldLen:
		return "a client id longer than 255 bytes"
	case !utf8.ValidString(c.Client):
		return "a client id that is not UTF-8"
	case len(c.ID) > MaxFieldLen:
		return "a token id longer than 255 bytes"
	case !utf8.ValidString(c.ID):
		return "a token id that is not UTF-8"
	case c.Kind == "":
		return "no kind"
	case !c.Kind.Valid():
		return "an unknown kind"
	case c.Role == "":
		return "no role"
	case !c.Role.Valid():
		return "an unknown role"
	case c.ExpiresAt <= c.IssuedAt:
		return "ExpiresAt not after IssuedAt"
	}
	return ""
}

// Lifetime is how long the token is valid: ExpiresAt - IssuedAt.
func (c Claims) Lifetime() time.Duration {
	return time.Duration(saturate(uint64(c.ExpiresAt) - uint64(c.IssuedAt)))
}

// RefreshAt is when the holder of a token should get a new one: after four
// fifths of its lifetime, so that a 1 h access token is refreshed 12 minutes
// before it expires. Claims that Verify accepted always have
// IssuedAt < RefreshAt < ExpiresAt unless the lifetime is under 5 ns.
func (c Claims) RefreshAt() int64 {
	if c.ExpiresAt <= c.IssuedAt {
		return c.ExpiresAt
	}
	life := uint64(c.ExpiresAt) - uint64(c.IssuedAt)
	return c.ExpiresAt - int64(life/5)
}

// CheckGeneration returns nil if the token belongs to the client's current
// registration, whose generation is current, and otherwise an invalid_token
// error that wraps ErrRevoked. The engine calls it after Verify, with the
// generation of the registration it knows for c.Client: unregistering a
// client and registering it again revokes every token issued before.
func (c Claims) CheckGeneration(current int64) error {
	if c.Generation == current {
		return nil
	}
	which := "another"
	if c.Generation < current {
		which = "an earlier"
	}
	return errcode.Wrap(errcode.InvalidToken, ErrRevoked,
		string(c.Kind)+" token belongs to "+which+" registration of client "+quote(c.Client))
}

// saturate turns a difference computed in uint64 into a non-negative int64.
func saturate(d uint64) int64 {
	if d > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(d)
}
