package auth

import (
	"errors"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// FuzzVerify holds Verify to its contract: whatever the input, it does not
// panic, it refuses with invalid_token and exactly one cause, and a token it
// accepts signs again to the very same string and claims. Each input is also
// signed as a raw payload, so that the decoder behind the signature is
// searched too (the fuzzer cannot forge a MAC). `go test` runs the seeds
// below and the corpus in testdata/fuzz/FuzzVerify; `go test -fuzz
// '^FuzzVerify$'` searches for more.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner(fuzzSecret)
	if err != nil {
		f.Fatal(err)
	}
	const t0 = 1_772_355_600_000_000_000 // 2026-03-01 09:00 UTC
	c := Claims{ID: "tok-1", Client: "alice", Role: RoleAgent, Kind: KindAccess,
		Generation: t0 - 3_600_000_000_000, IssuedAt: t0, ExpiresAt: t0 + int64(DefaultAccessTTL)}
	tok, err := s.Sign(c)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok, int64(t0))
	f.Add(string(appendClaims(nil, c)), int64(t0))
	f.Add("", int64(0))

	f.Fuzz(func(t *testing.T, token string, now int64) {
		c, err := s.Verify(token, now)
		check(t, s, token, now, c, err, "")
		for _, k := range []Kind{KindAccess, KindRefresh} {
			c, err := s.VerifyKind(token, k, now)
			check(t, s, token, now, c, err, k)
		}

		// Behind a valid signature: the input as a payload.
		if len(token) > maxPayload {
			return
		}
		raw := signRaw(s, []byte(token))
		c, err = s.parse(raw)
		if err == nil {
			err = checkTime(c, now)
			if err != nil {
				c = Claims{}
			}
		}
		check(t, s, raw, now, c, err, "")
	})
}

var fuzzSecret = []byte("callengine auth fuzz secret, 32+ bytes")

func check(t *testing.T, s *Signer, token string, now int64, c Claims, err error, kind Kind) {
	t.Helper()
	if err != nil {
		if code := errcode.CodeOf(err); code != errcode.InvalidToken {
			t.Fatalf("code %q: %v", code, err)
		}
		causes := 0
		for _, cause := range []error{ErrMalformed, ErrForged, ErrExpired, ErrNotYetValid, ErrWrongKind} {
			if errors.Is(err, cause) {
				causes++
			}
		}
		if causes != 1 {
			t.Fatalf("%d causes: %v", causes, err)
		}
		if c != (Claims{}) {
			t.Fatalf("claims %+v with %v", c, err)
		}
		return
	}
	if why := c.problem(); why != "" {
		t.Fatalf("accepted claims with %s: %+v", why, c)
	}
	if kind != "" && c.Kind != kind {
		t.Fatalf("VerifyKind(%s) accepted a %s token", kind, c.Kind)
	}
	if now >= c.ExpiresAt || c.IssuedAt > now && uint64(c.IssuedAt)-uint64(now) > uint64(MaxSkew) {
		t.Fatalf("accepted at %d claims %+v", now, c)
	}
	again, err := s.Sign(c)
	if err != nil {
		t.Fatalf("accepted claims do not sign: %v", err)
	}
	if again != token {
		t.Fatalf("accepted %q, which signs again as %q", token, again)
	}
	if c2, err := s.Verify(again, now); err != nil || c2 != c {
		t.Fatalf("signed again: %+v, %v; want %+v", c2, err, c)
	}
}
