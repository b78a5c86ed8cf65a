package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/loopback"
	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// tokenSecret signs the tokens of the engines these tests open.
var tokenSecret = []byte("callengine engine tests: a token secret of 32+ bytes")

// newTokenHarness is newHarness with Config.TokenSecret set (and whatever
// edit changes).
func newTokenHarness(t *testing.T, edit ...func(*engine.Config)) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), clock: clock.NewVirtual(start)}
	h.lb = loopback.New(h.clock)
	h.openWithSecret(edit...)
	t.Cleanup(func() { h.e.Close() })
	return h
}

// openWithSecret opens (or, after Close, opens again) the harness's engine
// with Config.TokenSecret.
func (h *harness) openWithSecret(edit ...func(*engine.Config)) {
	h.t.Helper()
	cfg := h.config()
	if h.e != nil {
		cfg.IDs = h.e.Config().IDs
	}
	cfg.TokenSecret = tokenSecret
	for _, f := range edit {
		f(&cfg)
	}
	e, err := engine.Open(context.Background(), cfg)
	if err != nil {
		h.t.Fatalf("Open: %v", err)
	}
	h.e = e
	if h.sub, err = e.Subscribe(context.Background(), engine.Filter{}); err != nil {
		h.t.Fatal(err)
	}
}

// login issues tokens for client with role and authenticates its access
// token: the context a client of that role sends its commands with.
func login(t *testing.T, e *engine.Engine, client string, role engine.Role) context.Context {
	t.Helper()
	tk, err := e.IssueTokens(ctx, client, role)
	if err != nil {
		t.Fatalf("IssueTokens(%s, %s): %v", client, role, err)
	}
	c, p, err := e.Authenticate(ctx, tk.Access)
	if err != nil {
		t.Fatalf("Authenticate(%s): %v", client, err)
	}
	if p.Client != client || p.Role != role {
		t.Fatalf("principal %+v, want %s %s", p, client, role)
	}
	return c
}

// refusedToken checks that err is invalid_token caused by cause.
func refusedToken(t *testing.T, err error, cause error) {
	t.Helper()
	if err == nil {
		t.Fatalf("token accepted, want invalid_token (%v)", cause)
	}
	if code := errcode.CodeOf(err); code != errcode.InvalidToken {
		t.Fatalf("code %q, want invalid_token: %v", code, err)
	}
	if !errors.Is(err, errcode.ErrInvalidToken) {
		t.Fatalf("errors.Is(err, errcode.ErrInvalidToken) is false: %v", err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("errors.Is(err, %q) is false: %v", cause, err)
	}
}

// refusedAuth checks Authenticate's refusal: invalid_token with cause, the
// context given back unchanged, no principal.
func refusedAuth(t *testing.T, e *engine.Engine, token string, cause error) {
	t.Helper()
	c, p, err := e.Authenticate(ctx, token)
	refusedToken(t, err, cause)
	if p != (engine.Principal{}) {
		t.Fatalf("principal %+v with an error", p)
	}
	if q, ok := engine.PrincipalOf(c); ok {
		t.Fatalf("refused Authenticate returned a context carrying %+v", q)
	}
}

func TestTokenIssueAuthenticateRefresh(t *testing.T) {
	h := newTokenHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("boss", "109", nil, "s1")
	seq := h.e.Journal().LastSeq()

	tk := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "alice", engine.RoleAgent))
	if tk.Client != "alice" || tk.Role != engine.RoleAgent {
		t.Fatalf("tokens for %s %s", tk.Client, tk.Role)
	}
	if !strings.HasPrefix(tk.Access, auth.Prefix) || !strings.HasPrefix(tk.Refresh, auth.Prefix) || tk.Access == tk.Refresh {
		t.Fatalf("tokens %q %q", tk.Access, tk.Refresh)
	}
	if !tk.AccessExpires.Equal(start.Add(time.Hour)) || !tk.RefreshExpires.Equal(start.Add(30*24*time.Hour)) ||
		!tk.RefreshAt.Equal(start.Add(48*time.Minute)) {
		t.Fatalf("times: access %v, refresh %v, refresh at %v", tk.AccessExpires, tk.RefreshExpires, tk.RefreshAt)
	}

	actx, p, err := h.e.Authenticate(ctx, tk.Access)
	if err != nil {
		t.Fatal(err)
	}
	if p.Client != "alice" || p.Role != engine.RoleAgent || p.Token == "" {
		t.Fatalf("principal %+v", p)
	}
	if q, ok := engine.PrincipalOf(actx); !ok || q != p {
		t.Fatalf("context carries %+v, %v; want %+v", q, ok, p)
	}
	if _, ok := engine.PrincipalOf(ctx); ok {
		t.Fatal("Authenticate changed the context it was given")
	}

	// The access token is no refresh token, and the reverse.
	_, err = h.e.RefreshTokens(ctx, tk.Access)
	refusedToken(t, err, auth.ErrWrongKind)
	refusedAuth(t, h.e, tk.Refresh, auth.ErrWrongKind)

	// Ten minutes later alice refreshes: new tokens, from now, that work.
	h.clock.Advance(10 * time.Minute)
	tk2 := must[engine.Tokens](t)(h.e.RefreshTokens(ctx, tk.Refresh))
	if tk2.Access == tk.Access || tk2.Refresh == tk.Refresh || tk2.Client != "alice" || tk2.Role != engine.RoleAgent {
		t.Fatalf("refreshed tokens %+v", tk2)
	}
	now := start.Add(10 * time.Minute)
	if !tk2.AccessExpires.Equal(now.Add(time.Hour)) || !tk2.RefreshExpires.Equal(now.Add(30*24*time.Hour)) ||
		!tk2.RefreshAt.Equal(now.Add(48*time.Minute)) {
		t.Fatalf("refreshed times: access %v, refresh %v, refresh at %v", tk2.AccessExpires, tk2.RefreshExpires, tk2.RefreshAt)
	}
	_, p2, err := h.e.Authenticate(ctx, tk2.Access)
	if err != nil || p2.Client != "alice" || p2.Role != engine.RoleAgent || p2.Token == p.Token {
		t.Fatalf("refreshed access token: %+v, %v (first token id %q)", p2, err, p.Token)
	}
	tk3 := must[engine.Tokens](t)(h.e.RefreshTokens(ctx, tk2.Refresh))
	if _, _, err := h.e.Authenticate(ctx, tk3.Access); err != nil {
		t.Fatalf("twice refreshed: %v", err)
	}
	// Tokens are stateless: the first pair still works until it expires.
	if _, _, err := h.e.Authenticate(ctx, tk.Access); err != nil {
		t.Fatalf("first access token after a refresh: %v", err)
	}
	_, err = h.e.RefreshTokens(ctx, tk2.Access)
	refusedToken(t, err, auth.ErrWrongKind)

	// A refresh keeps the role.
	st := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "boss", engine.RoleSupervisor))
	st = must[engine.Tokens](t)(h.e.RefreshTokens(ctx, st.Refresh))
	if _, sp, err := h.e.Authenticate(ctx, st.Access); err != nil || sp.Client != "boss" || sp.Role != engine.RoleSupervisor {
		t.Fatalf("supervisor after refresh: %+v, %v", sp, err)
	}

	// Nothing about tokens is journaled.
	if got := h.e.Journal().LastSeq(); got != seq {
		t.Fatalf("tokens journaled %d events", got-seq)
	}

	// Garbage is malformed.
	for _, bad := range []string{"", "Bearer " + tk.Access, "ce1.", tk.Access + "."} {
		refusedAuth(t, h.e, bad, auth.ErrMalformed)
	}
}

func TestTokenIssueRefusals(t *testing.T) {
	h := newTokenHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	_, err := h.e.IssueTokens(ctx, "nobody", engine.RoleAgent)
	wantCode(t, err, errcode.NotFound)
	_, err = h.e.IssueTokens(ctx, "alice", engine.Role("admin"))
	wantCode(t, err, errcode.InvalidParams)
	_, err = h.e.IssueTokens(ctx, "alice", "")
	wantCode(t, err, errcode.InvalidParams)
	must[engine.Client](t)(h.e.UnregisterClient(ctx, "bob"))
	_, err = h.e.IssueTokens(ctx, "bob", engine.RoleAgent)
	wantCode(t, err, errcode.NotFound)

	// An agent issues no tokens, not even its own; a supervisor does.
	actx := login(t, h.e, "alice", engine.RoleAgent)
	for _, who := range []string{"alice", "bob", "nobody"} {
		for _, role := range []engine.Role{engine.RoleAgent, engine.RoleSupervisor} {
			tk, err := h.e.IssueTokens(actx, who, role)
			wantCode(t, err, errcode.Forbidden)
			if tk.Access != "" || tk.Refresh != "" {
				t.Fatalf("forbidden IssueTokens returned tokens %+v", tk)
			}
		}
	}
	sctx := login(t, h.e, "alice", engine.RoleSupervisor)
	tk := must[engine.Tokens](t)(h.e.IssueTokens(sctx, "alice", engine.RoleAgent))
	if _, p, err := h.e.Authenticate(ctx, tk.Access); err != nil || p.Client != "alice" || p.Role != engine.RoleAgent {
		t.Fatalf("token a supervisor issued: %+v, %v", p, err)
	}

	// The engine closed, nothing is checked.
	h.e.Close()
	_, _, err = h.e.Authenticate(ctx, tk.Access)
	wantCode(t, err, errcode.Closed)
	_, err = h.e.IssueTokens(ctx, "alice", engine.RoleAgent)
	wantCode(t, err, errcode.Closed)
}

func TestTokensOffWithoutSecret(t *testing.T) {
	h := newHarness(t) // no TokenSecret
	h.register("alice", "101", nil, "a1")
	_, err := h.e.IssueTokens(ctx, "alice", engine.RoleAgent)
	wantCode(t, err, errcode.Unavailable)
	_, err = h.e.IssueTokens(ctx, "alice", engine.RoleSupervisor)
	wantCode(t, err, errcode.Unavailable)

	// A token from an engine that has a secret means nothing here.
	other := newTokenHarness(t)
	other.register("alice", "101", nil, "a1")
	tk := must[engine.Tokens](t)(other.e.IssueTokens(ctx, "alice", engine.RoleAgent))
	c, p, err := h.e.Authenticate(ctx, tk.Access)
	wantCode(t, err, errcode.Unavailable)
	if _, ok := engine.PrincipalOf(c); ok || p != (engine.Principal{}) {
		t.Fatalf("principal %+v without a secret", p)
	}
	_, err = h.e.RefreshTokens(ctx, tk.Refresh)
	wantCode(t, err, errcode.Unavailable)
}

func TestTokenExpiry(t *testing.T) {
	h := newTokenHarness(t, func(c *engine.Config) {
		c.AccessTokenTTL = 10 * time.Minute
		c.RefreshTokenTTL = time.Hour
	})
	h.register("alice", "101", nil, "a1")
	tk := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "alice", engine.RoleAgent))
	if !tk.AccessExpires.Equal(start.Add(10*time.Minute)) || !tk.RefreshExpires.Equal(start.Add(time.Hour)) ||
		!tk.RefreshAt.Equal(start.Add(8*time.Minute)) {
		t.Fatalf("times: access %v, refresh %v, refresh at %v", tk.AccessExpires, tk.RefreshExpires, tk.RefreshAt)
	}

	h.clock.Advance(10*time.Minute - time.Nanosecond)
	if _, _, err := h.e.Authenticate(ctx, tk.Access); err != nil {
		t.Fatalf("1 ns before expiry: %v", err)
	}
	h.clock.Advance(time.Nanosecond) // now == ExpiresAt: expired
	refusedAuth(t, h.e, tk.Access, auth.ErrExpired)

	// The refresh token still works, and gives tokens from now.
	tk2 := must[engine.Tokens](t)(h.e.RefreshTokens(ctx, tk.Refresh))
	if !tk2.AccessExpires.Equal(start.Add(20 * time.Minute)) {
		t.Fatalf("refreshed access expires %v", tk2.AccessExpires)
	}
	if _, _, err := h.e.Authenticate(ctx, tk2.Access); err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	h.clock.Advance(10 * time.Minute)
	refusedAuth(t, h.e, tk2.Access, auth.ErrExpired)

	// An hour after issue the first refresh token has expired; the second
	// lives an hour from its own issue.
	h.clock.Set(start.Add(time.Hour))
	_, err := h.e.RefreshTokens(ctx, tk.Refresh)
	refusedToken(t, err, auth.ErrExpired)
	tk3 := must[engine.Tokens](t)(h.e.RefreshTokens(ctx, tk2.Refresh))
	if _, _, err := h.e.Authenticate(ctx, tk3.Access); err != nil {
		t.Fatalf("access token of the second refresh: %v", err)
	}
	h.clock.Set(start.Add(70 * time.Minute))
	_, err = h.e.RefreshTokens(ctx, tk2.Refresh)
	refusedToken(t, err, auth.ErrExpired)
}

func TestTokenForged(t *testing.T) {
	h := newTokenHarness(t)
	h.register("alice", "101", nil, "a1")
	mine := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "alice", engine.RoleAgent))

	// Another engine, another secret, the same client.
	other := newTokenHarness(t, func(c *engine.Config) {
		c.TokenSecret = []byte("another engine's secret, also 32 bytes or more")
	})
	other.register("alice", "101", nil, "a1")
	theirs := must[engine.Tokens](t)(other.e.IssueTokens(ctx, "alice", engine.RoleSupervisor))
	refusedAuth(t, h.e, theirs.Access, auth.ErrForged)
	_, err := h.e.RefreshTokens(ctx, theirs.Refresh)
	refusedToken(t, err, auth.ErrForged)

	// alice's payload with a supervisor's signature, and the reverse.
	payload, _, _ := strings.Cut(strings.TrimPrefix(mine.Access, auth.Prefix), ".")
	_, sig, _ := strings.Cut(strings.TrimPrefix(theirs.Access, auth.Prefix), ".")
	refusedAuth(t, h.e, auth.Prefix+payload+"."+sig, auth.ErrForged)
	// One character of the payload changed.
	b := []byte(mine.Access)
	i := len(auth.Prefix) + 3
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	refusedAuth(t, h.e, string(b), auth.ErrForged)

	// The genuine token still works.
	if _, _, err := h.e.Authenticate(ctx, mine.Access); err != nil {
		t.Fatal(err)
	}
}

func TestTokenRevokedWithTheRegistration(t *testing.T) {
	h := newTokenHarness(t)
	h.register("alice", "101", nil, "a1")
	h.register("bob", "102", nil, "b1")
	alice := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "alice", engine.RoleAgent))
	bob := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "bob", engine.RoleSupervisor))

	h.clock.Advance(time.Second)
	must[engine.Client](t)(h.e.UnregisterClient(ctx, "alice"))
	refusedAuth(t, h.e, alice.Access, auth.ErrRevoked)
	_, err := h.e.RefreshTokens(ctx, alice.Refresh)
	refusedToken(t, err, auth.ErrRevoked)

	// Registered again: the old tokens stay revoked, new ones work.
	h.clock.Advance(time.Second)
	h.register("alice", "101", nil, "a1")
	refusedAuth(t, h.e, alice.Access, auth.ErrRevoked)
	_, err = h.e.RefreshTokens(ctx, alice.Refresh)
	refusedToken(t, err, auth.ErrRevoked)
	again := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "alice", engine.RoleAgent))
	if _, p, err := h.e.Authenticate(ctx, again.Access); err != nil || p.Client != "alice" {
		t.Fatalf("token of the new registration: %+v, %v", p, err)
	}
	must[engine.Tokens](t)(h.e.RefreshTokens(ctx, again.Refresh))

	// bob's tokens did not change, and tokens survive a restart with the
	// same secret (they are stateless).
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	h.openWithSecret()
	if _, p, err := h.e.Authenticate(ctx, bob.Access); err != nil || p.Client != "bob" || p.Role != engine.RoleSupervisor {
		t.Fatalf("bob after restart: %+v, %v", p, err)
	}
	if _, _, err := h.e.Authenticate(ctx, again.Access); err != nil {
		t.Fatalf("alice's new token after restart: %v", err)
	}
	refusedAuth(t, h.e, alice.Access, auth.ErrRevoked)

	// A new secret revokes every token at once.
	h.e.Close()
	h.openWithSecret(func(c *engine.Config) { c.TokenSecret = []byte("a brand new secret after a leak, 32+ bytes") })
	refusedAuth(t, h.e, bob.Access, auth.ErrForged)
	refusedAuth(t, h.e, again.Access, auth.ErrForged)
}

// Registering a client again revokes the tokens of its earlier registration
// even when both registrations happen at the same clock reading (a virtual
// clock that did not move, a coarse wall clock).
func TestTokenRevokedByRegistrationAtTheSameInstant(t *testing.T) {
	h := newTokenHarness(t)
	h.register("alice", "101", nil, "a1")
	old := must[engine.Tokens](t)(h.e.IssueTokens(ctx, "alice", engine.RoleSupervisor))
	must[engine.Client](t)(h.e.UnregisterClient(ctx, "alice"))
	refusedAuth(t, h.e, old.Access, auth.ErrRevoked)
	h.register("alice", "101", nil, "a1") // the clock has not moved
	refusedAuth(t, h.e, old.Access, auth.ErrRevoked)
	_, err := h.e.RefreshTokens(ctx, old.Refresh)
	refusedToken(t, err, auth.ErrRevoked)
}
