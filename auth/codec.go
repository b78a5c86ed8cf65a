package auth

import (
	"bytes"
	"encoding/binary"
)

// The payload of a ce1 token, before base64url:
//
//	byte     kind: 1 access, 2 refresh
//	byte     role: 1 agent, 2 supervisor
//	byte     len(ID), then ID
//	byte     len(Client), then Client
//	varint   Generation  (zig-zag, as encoding/binary.AppendVarint)
//	varint   IssuedAt
//	varint   ExpiresAt
//
// Nothing may follow. A payload decodes only if it is the one encoding of its
// claims, so that a token that verifies signs again to the same string.

func kindCode(k Kind) byte {
	switch k {
	case KindAccess:
		return 1
	case KindRefresh:
		return 2
	}
	return 0
}

func roleCode(r Role) byte {
	switch r {
	case RoleAgent:
		return 1
	case RoleSupervisor:
		return 2
	}
	return 0
}

var (
	kinds = [...]Kind{1: KindAccess, 2: KindRefresh}
	roles = [...]Role{1: RoleAgent, 2: RoleSupervisor}
)

// appendClaims appends the payload of c, which must have no problem.
func appendClaims(b []byte, c Claims) []byte {
	b = append(b, kindCode(c.Kind), roleCode(c.Role))
	b = append(b, byte(len(c.ID)))
	b = append(b, c.ID...)
	b = append(b, byte(len(c.Client)))
	b = append(b, c.Client...)
	b = binary.AppendVarint(b, c.Generation)
	b = binary.AppendVarint(b, c.IssuedAt)
	b = binary.AppendVarint(b, c.ExpiresAt)
	return b
}

// decodeClaims reads a payload. On failure it returns why, for the message
// of an ErrMalformed.
func decodeClaims(p []byte) (Claims, string) {
	var c Claims
	if len(p) < 2 {
		return c, "payload is truncated"
	}
	if int(p[0]) >= len(kinds) || p[0] == 0 {
		return c, "payload has an unknown kind"
	}
	if int(p[1]) >= len(roles) || p[1] == 0 {
		return c, "payload has an unknown role"
	}
	c.Kind, c.Role = kinds[p[0]], roles[p[1]]
	rest := p[2:]
	var ok bool
	if c.ID, rest, ok = readString(rest); !ok {
		return Claims{}, "payload is truncated in the token id"
	}
	if c.Client, rest, ok = readString(rest); !ok {
		return Claims{}, "payload is truncated in the client id"
	}
	for _, f := range []*int64{&c.Generation, &c.IssuedAt, &c.ExpiresAt} {
		v, n := binary.Varint(rest)
		if n <= 0 {
			return Claims{}, "payload has a bad or truncated number"
		}
		*f, rest = v, rest[n:]
	}
	if len(rest) != 0 {
		return Claims{}, "payload has trailing bytes"
	}
	if why := c.problem(); why != "" {
		return Claims{}, "payload has " + why
	}
	if !bytes.Equal(appendClaims(make([]byte, 0, len(p)), c), p) {
		return Claims{}, "payload is not in canonical form"
	}
	return c, ""
}

func readString(b []byte) (string, []byte, bool) {
	if len(b) < 1 || len(b)-1 < int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}
