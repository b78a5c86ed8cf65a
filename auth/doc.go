// Package auth makes and checks the tokens a client connects with (FEATURES
// CL3): short-lived access tokens, long-lived refresh tokens that buy new
// ones, both bound to one client and signed with HMAC-SHA256. Expired, forged
// and misused tokens are refused with errcode.InvalidToken (401) and a cause
// that errors.Is can tell apart: ErrMalformed, ErrForged, ErrExpired,
// ErrNotYetValid, ErrWrongKind, and ErrRevoked from Claims.CheckGeneration.
//
// The package is pure: it reads no clock and draws no randomness. The caller
// passes the time (Unix ns) to Verify and the token id in Claims.ID, so that
// the simulator's virtual clock and seeded ids give the same tokens every
// run.
//
// # Format
//
// A token is URL-safe text in three dot-separated parts:
//
//	ce1.<payload>.<signature>
//
// "ce1" names the format and its version. The payload is the claims in a
// compact binary form (kind and role as one byte each, token id and client id
// with a length byte, generation and both times as zig-zag varints), encoded
// with base64url without padding. The signature is
// HMAC-SHA256(secret, "ce1." + payload), base64url as well (43 characters).
// The claims are signed, not encrypted: anyone holding a token can read them.
// A token is at most a few hundred bytes; Verify refuses anything longer than
// MaxTokenLen before decoding it, checks the signature (in constant time,
// with hmac.Equal) before it parses the payload, and accepts only the one
// canonical encoding of the claims, so a token that verifies signs again to
// the same string.
//
// # Rotation
//
// NewSigner takes the current secret and any number of previous ones. Only
// the current secret signs; all of them verify. To rotate, restart the engine
// with a new secret and the old one as previous: tokens already handed out
// keep working until they expire or are refreshed, and new tokens use the new
// secret. Once the longest lifetime (the refresh token's) has passed, drop
// the old secret; its tokens are then refused as forged. A secret needs at
// least 32 bytes from a good random source.
//
// # Generation
//
// Claims.Generation is the registration generation of the client: the engine
// passes the version of the client's stream at its current registration
// (every registration has its own, even two at one instant). A token is only as good as the
// registration it was issued for: after Verify, the engine looks up the
// client and calls Claims.CheckGeneration with the generation of its current
// registration, so that unregistering a client (or registering it anew)
// revokes every token issued before, without a revocation list.
//
// See docs/tokens.md for lifetimes and how a client refreshes.
package auth
