package auth_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/errcode"
)

var (
	secret  = []byte("0123456789abcdef0123456789abcdef")    // 32 bytes
	secret2 = []byte("fedcba9876543210fedcba9876543210-v2") // 35 bytes
	t0      = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano()
)

func signer(t testing.TB, secret []byte, previous ...[]byte) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(secret, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func access(client string) auth.Claims {
	return auth.Claims{
		ID: "tok-1", Client: client, Role: auth.RoleAgent, Kind: auth.KindAccess,
		Generation: t0 - int64(time.Hour), IssuedAt: t0, ExpiresAt: t0 + int64(auth.DefaultAccessTTL),
	}
}

func sign(t testing.TB, s *auth.Signer, c auth.Claims) string {
	t.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// refused checks that err is an invalid_token error caused by want, and by
// none of the other sentinels.
func refused(t *testing.T, err error, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %v", want)
	}
	if code := errcode.CodeOf(err); code != errcode.InvalidToken {
		t.Fatalf("code %q, want invalid_token: %v", code, err)
	}
	if !errors.Is(err, errcode.ErrInvalidToken) {
		t.Fatalf("errors.Is(err, errcode.ErrInvalidToken) is false: %v", err)
	}
	if s := (*errcode.Error)(nil); errors.As(err, &s) && s.Status() != 401 {
		t.Fatalf("status %d, want 401", s.Status())
	}
	for _, s := range []error{auth.ErrMalformed, auth.ErrForged, auth.ErrExpired, auth.ErrNotYetValid, auth.ErrWrongKind, auth.ErrRevoked} {
		if errors.Is(err, s) != (s == want) {
			t.Fatalf("errors.Is(err, %q) = %v: %v", s, errors.Is(err, s), err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	s := signer(t, secret)
	for _, c := range []auth.Claims{
		access("alice"),
		{ID: "r-9", Client: "bob", Role: auth.RoleSupervisor, Kind: auth.KindRefresh,
			Generation: t0, IssuedAt: t0, ExpiresAt: t0 + int64(auth.DefaultRefreshTTL)},
		{Client: "zoë 🙂", Role: auth.RoleAgent, Kind: auth.KindAccess, IssuedAt: t0, ExpiresAt: t0 + 1}, // no id
		{ID: strings.Repeat("i", auth.MaxFieldLen), Client: strings.Repeat("c", auth.MaxFieldLen), Role: auth.RoleSupervisor,
			Kind: auth.KindRefresh, Generation: math.MinInt64, IssuedAt: t0 - 1, ExpiresAt: math.MaxInt64},
		{Client: "x", Role: auth.RoleAgent, Kind: auth.KindAccess, Generation: math.MaxInt64, IssuedAt: math.MinInt64, ExpiresAt: t0 + 5},
	} {
		tok := sign(t, s, c)
		if !strings.HasPrefix(tok, auth.Prefix) || len(tok) > 1024 {
			t.Fatalf("token %q", tok)
		}
		if strings.Trim(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Fatalf("token %q is not URL-safe", tok)
		}
		got, err := s.Verify(tok, t0)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if got != c {
			t.Fatalf("got %+v, want %+v", got, c)
		}
		if got, err := s.VerifyKind(tok, c.Kind, t0); err != nil || got != c {
			t.Fatalf("VerifyKind: %+v, %v", got, err)
		}
		if again := sign(t, s, got); again != tok {
			t.Fatalf("signing the same claims twice: %q then %q", tok, again)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	s := signer(t, secret)
	for name, edit := range map[string]func(*auth.Claims){
		"no client":        func(c *auth.Claims) { c.Client = "" },
		"no kind":          func(c *auth.Claims) { c.Kind = "" },
		"no role":          func(c *auth.Claims) { c.Role = "" },
		"unknown kind":     func(c *auth.Claims) { c.Kind = "id" },
		"unknown role":     func(c *auth.Claims) { c.Role = "admin" },
		"expires at issue": func(c *auth.Claims) { c.ExpiresAt = c.IssuedAt },
		"expires before":   func(c *auth.Claims) { c.ExpiresAt = c.IssuedAt - 1 },
		"long id":          func(c *auth.Claims) { c.ID = strings.Repeat("i", auth.MaxFieldLen+1) },
		"long client":      func(c *auth.Claims) { c.Client = strings.Repeat("c", auth.MaxFieldLen+1) },
		"client not utf8":  func(c *auth.Claims) { c.Client = "al\xffce" },
		"id not utf8":      func(c *auth.Claims) { c.ID = "\xc0" },
	} {
		c := access("alice")
		edit(&c)
		tok, err := s.Sign(c)
		if tok != "" || errcode.CodeOf(err) != errcode.InvalidParams {
			t.Errorf("%s: %q, %v; want invalid_params", name, tok, err)
		}
	}
}

func TestNewSignerRefusesShortSecrets(t *testing.T) {
	if _, err := auth.NewSigner(secret[:31]); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Errorf("31-byte secret: %v", err)
	}
	if _, err := auth.NewSigner(nil); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Errorf("no secret: %v", err)
	}
	if _, err := auth.NewSigner(secret, secret2, []byte("short")); errcode.CodeOf(err) != errcode.InvalidParams ||
		!strings.Contains(err.Error(), "previous secret 2 has 5") {
		t.Errorf("short previous secret: %v", err)
	}
	if _, err := auth.NewSigner(secret[:32]); err != nil {
		t.Errorf("32-byte secret: %v", err)
	}
}

func TestSignerKeepsACopyOfItsSecrets(t *testing.T) {
	key, old := bytes.Clone(secret), bytes.Clone(secret2)
	s := signer(t, key, old)
	tok := sign(t, s, access("alice"))
	oldTok := sign(t, signer(t, secret2), access("alice"))
	key[0]++
	old[0]++
	if _, err := s.Verify(tok, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(oldTok, t0); err != nil {
		t.Fatal(err)
	}
}

func TestZeroSigner(t *testing.T) {
	for _, s := range []*auth.Signer{nil, new(auth.Signer)} {
		if _, err := s.Sign(access("alice")); errcode.CodeOf(err) != errcode.Internal {
			t.Errorf("Sign: %v", err)
		}
		if _, err := s.Verify("ce1.AA.AA", t0); errcode.CodeOf(err) != errcode.Internal {
			t.Errorf("Verify: %v", err)
		}
	}
}

func TestVerifyRefusesMalformed(t *testing.T) {
	s := signer(t, secret)
	good := sign(t, s, access("alice"))
	payload, mac, _ := strings.Cut(strings.TrimPrefix(good, auth.Prefix), ".")
	for _, tc := range []struct{ name, token, msg string }{
		{"empty", "", "empty token"},
		{"too long", auth.Prefix + strings.Repeat("A", auth.MaxTokenLen), "longer than the 4096 allowed"},
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.e30.sig", `does not start with "ce1."`},
		{"no dot", "ce1", `does not start with "ce1."`},
		{"newer version", "ce2." + payload + "." + mac, `token version "ce2" is not supported`},
		{"upper-case prefix", "CE1." + payload + "." + mac, "not a callengine token"},
		{"no signature", auth.Prefix + payload, "no signature"},
		{"four parts", good + ".x", "more than 3"},
		{"padding", auth.Prefix + payload + "=." + mac, "outside base64url at byte"},
		{"standard base64", auth.Prefix + payload + "." + mac[:42] + "+", "outside base64url at byte 5"[:26]},
		{"newline", auth.Prefix + payload[:3] + "\n" + payload[3:] + "." + mac, "outside base64url at byte 7"},
		{"space", " " + good, "not a callengine token"},
		{"short signature", auth.Prefix + payload + "." + mac[:42], "signature has 42 characters, want 43"},
		{"long signature", good + "A", "signature has 44 characters, want 43"},
		{"empty signature", auth.Prefix + payload + ".", "signature has 0 characters"},
		// 43 characters hold 258 bits; the last 2 must be zero.
		{"signature tail bits", auth.Prefix + payload + "." + mac[:42] + tailBits(mac[42]), "signature is not base64url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Verify(tc.token, t0)
			refused(t, err, auth.ErrMalformed)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not say %q", err, tc.msg)
			}
			if c != (auth.Claims{}) {
				t.Errorf("claims %+v with an error", c)
			}
		})
	}
}

// tailBits returns a base64url digit with the same top 4 bits as d and a
// non-zero bottom 2.
func tailBits(d byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, d)
	return string(alphabet[i|1])
}

func TestForgedByAnotherSecret(t *testing.T) {
	mine, theirs := signer(t, secret), signer(t, secret2)
	tok := sign(t, theirs, access("alice"))
	c, err := mine.Verify(tok, t0)
	refused(t, err, auth.ErrForged)
	if c != (auth.Claims{}) || !strings.Contains(err.Error(), "signature does not match") {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestForgedClaims(t *testing.T) {
	// Someone reads alice's token, makes the payload say supervisor and keeps
	// the signature.
	s := signer(t, secret)
	tok := sign(t, s, access("alice"))
	c := access("alice")
	c.Role = auth.RoleSupervisor
	boss := sign(t, s, c)
	_, mac, _ := strings.Cut(strings.TrimPrefix(tok, auth.Prefix), ".")
	payload, _, _ := strings.Cut(strings.TrimPrefix(boss, auth.Prefix), ".")
	_, err := s.Verify(auth.Prefix+payload+"."+mac, t0)
	refused(t, err, auth.ErrForged)
}

func TestFlippedBitIsRefused(t *testing.T) {
	s := signer(t, secret)
	tok := sign(t, s, access("alice"))
	for i := range len(tok) {
		for bit := range 8 {
			b := []byte(tok)
			b[i] ^= 1 << bit
			c, err := s.Verify(string(b), t0)
			if err == nil {
				t.Fatalf("byte %d bit %d flipped: accepted %+v", i, bit, c)
			}
			if errcode.CodeOf(err) != errcode.InvalidToken {
				t.Fatalf("byte %d bit %d flipped: %v", i, bit, err)
			}
			if !errors.Is(err, auth.ErrForged) && !errors.Is(err, auth.ErrMalformed) {
				t.Fatalf("byte %d bit %d flipped: %v", i, bit, err)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	before := signer(t, secret)
	after := signer(t, secret2, secret) // new secret signs, the old one still verifies
	newOnly := signer(t, secret2)

	old := sign(t, before, access("alice"))
	if c, err := after.Verify(old, t0); err != nil || c != access("alice") {
		t.Fatalf("a token of the previous secret: %+v, %v", c, err)
	}
	fresh := sign(t, after, access("alice"))
	if fresh == old {
		t.Fatal("the previous secret signed")
	}
	if fresh != sign(t, newOnly, access("alice")) {
		t.Fatal("a signer with previous secrets signs differently")
	}
	if _, err := after.Verify(fresh, t0); err != nil {
		t.Fatal(err)
	}
	// The old secret does not know the new one; once retired, its tokens are forged.
	_, err := before.Verify(fresh, t0)
	refused(t, err, auth.ErrForged)
	_, err = newOnly.Verify(old, t0)
	refused(t, err, auth.ErrForged)

	// Several previous secrets, in any order.
	third := []byte("a third secret, long enough to sign with")
	many := signer(t, third, secret2, secret)
	for _, tok := range []string{old, fresh} {
		if _, err := many.Verify(tok, t0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExpiryBoundaries(t *testing.T) {
	s := signer(t, secret)
	c := access("alice")
	tok := sign(t, s, c)
	for _, now := range []int64{
		c.IssuedAt, c.ExpiresAt - 1, c.IssuedAt - int64(auth.MaxSkew), c.RefreshAt(),
	} {
		if _, err := s.Verify(tok, now); err != nil {
			t.Errorf("now %d: %v", now-t0, err)
		}
	}
	for _, now := range []int64{c.ExpiresAt, c.ExpiresAt + 1, math.MaxInt64} {
		_, err := s.Verify(tok, now)
		refused(t, err, auth.ErrExpired)
	}
	for _, now := range []int64{c.IssuedAt - int64(auth.MaxSkew) - 1, 0, math.MinInt64} {
		_, err := s.Verify(tok, now)
		refused(t, err, auth.ErrNotYetValid)
	}
}

func TestMessagesSayHowLong(t *testing.T) {
	s := signer(t, secret)
	c := access("alice")
	tok := sign(t, s, c)
	for _, tc := range []struct {
		now  int64
		want string
	}{
		{c.ExpiresAt + int64(3*time.Minute), "invalid_token: access token expired 3m0s ago: expired token"},
		{c.ExpiresAt + int64(3*time.Minute+400*time.Millisecond), "access token expired 3m0s ago"},
		{c.ExpiresAt, "access token expired 0s ago"},
		{c.ExpiresAt + int64(1500*time.Microsecond), "expired 2ms ago"},
		{c.IssuedAt - int64(5*time.Minute), "access token issued 5m0s in the future (more than the 1m0s of clock skew allowed): token not yet valid"},
	} {
		_, err := s.Verify(tok, tc.now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v; want %q", err, tc.want)
		}
	}
	c = access("alice")
	c.IssuedAt, c.ExpiresAt = math.MaxInt64-1, math.MaxInt64
	_, err := s.Verify(sign(t, s, c), math.MinInt64)
	refused(t, err, auth.ErrNotYetValid)
	c.IssuedAt, c.ExpiresAt = math.MinInt64, math.MinInt64+1
	_, err = s.Verify(sign(t, s, c), math.MaxInt64)
	refused(t, err, auth.ErrExpired)
	if !strings.Contains(err.Error(), "expired 2562047h47m16s ago") { // saturated, and no panic
		t.Error(err)
	}
}

func TestWrongKind(t *testing.T) {
	s := signer(t, secret)
	acc := access("alice")
	ref := acc
	ref.Kind, ref.ExpiresAt = auth.KindRefresh, t0+int64(auth.DefaultRefreshTTL)
	accTok, refTok := sign(t, s, acc), sign(t, s, ref)

	_, err := s.VerifyKind(accTok, auth.KindRefresh, t0)
	refused(t, err, auth.ErrWrongKind)
	if !strings.Contains(err.Error(), "an access token where a refresh token is needed") {
		t.Error(err)
	}
	_, err = s.VerifyKind(refTok, auth.KindAccess, t0)
	refused(t, err, auth.ErrWrongKind)
	if !strings.Contains(err.Error(), "a refresh token where an access token is needed") {
		t.Error(err)
	}
	// The kind is checked before the time: an expired access token offered
	// as a refresh token is still the wrong kind.
	_, err = s.VerifyKind(accTok, auth.KindRefresh, acc.ExpiresAt+1)
	refused(t, err, auth.ErrWrongKind)
	_, err = s.VerifyKind(accTok, auth.KindAccess, acc.ExpiresAt)
	refused(t, err, auth.ErrExpired)
	_, err = s.VerifyKind("garbage", auth.KindAccess, t0)
	refused(t, err, auth.ErrMalformed)

	if c, err := s.VerifyKind(refTok, auth.KindRefresh, acc.ExpiresAt); err != nil || c != ref {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := s.VerifyKind(accTok, "", t0); errcode.CodeOf(err) != errcode.InvalidParams {
		t.Fatalf("no kind: %v", err)
	}
}

func TestCheckGeneration(t *testing.T) {
	c := access("alice")
	if err := c.CheckGeneration(c.Generation); err != nil {
		t.Fatal(err)
	}
	err := c.CheckGeneration(c.Generation + 1)
	refused(t, err, auth.ErrRevoked)
	if !strings.Contains(err.Error(), `access token belongs to an earlier registration of client "alice"`) {
		t.Error(err)
	}
	err = c.CheckGeneration(c.Generation - 1)
	refused(t, err, auth.ErrRevoked)
	if !strings.Contains(err.Error(), "another registration") {
		t.Error(err)
	}
}

func TestLifetimeAndRefreshAt(t *testing.T) {
	c := access("alice")
	if c.Lifetime() != time.Hour {
		t.Errorf("lifetime %v", c.Lifetime())
	}
	if got := time.Duration(c.ExpiresAt - c.RefreshAt()); got != 12*time.Minute {
		t.Errorf("a 1 h token is refreshed %v before it expires", got)
	}
	c.IssuedAt, c.ExpiresAt = math.MinInt64, math.MaxInt64
	if c.Lifetime() != math.MaxInt64 {
		t.Errorf("lifetime %v", c.Lifetime())
	}
	if r := c.RefreshAt(); r <= c.IssuedAt || r >= c.ExpiresAt {
		t.Errorf("RefreshAt %d", r)
	}
	c.ExpiresAt = c.IssuedAt // not a token's claims; no panic
	if c.RefreshAt() != c.ExpiresAt || c.Lifetime() != 0 {
		t.Error(c.RefreshAt(), c.Lifetime())
	}
}

func TestKindAndRoleValid(t *testing.T) {
	for _, ok := range []bool{auth.KindAccess.Valid(), auth.KindRefresh.Valid(), auth.RoleAgent.Valid(), auth.RoleSupervisor.Valid()} {
		if !ok {
			t.Fatal("a known kind or role is not valid")
		}
	}
	if auth.Kind("Access").Valid() || auth.Role("").Valid() {
		t.Fatal("an unknown kind or role is valid")
	}
}

func TestConcurrentUse(t *testing.T) {
	s := signer(t, secret2, secret)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := access("alice")
				c.ID = string(rune('a'+w)) + string(rune('a'+i%26))
				tok, err := s.Sign(c)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Verify(tok, t0); err != nil || got != c {
					t.Error(got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
