package engine

import (
	"context"
	"time"

	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/errcode"
)

// Tokens (FEATURES CL3). With Config.TokenSecret set, IssueTokens gives a
// registered client an access token (Config.AccessTokenTTL, 1 h by default)
// and a refresh token (RefreshTokenTTL, 30 days). Authenticate checks an
// access token and returns a context that carries its Principal; every
// command given that context is access-controlled (see authz.go). A client
// refreshes before the access token expires (Tokens.RefreshAt) with
// RefreshTokens. A token that is expired, forged, malformed, of the wrong
// kind, or of a client that is not registered or was registered again
// since, is refused with code invalid_token. Tokens are stateless: nothing
// about them is journaled.

// Tokens is an access token and the refresh token that renews it.
type Tokens struct {
	Access, Refresh               string
	AccessExpires, RefreshExpires time.Time
	// RefreshAt is when the holder should refresh: four fifths into the
	// access token's life.
	RefreshAt time.Time
	Client    string
	Role      Role
}

func (e *Engine) signer() (*auth.Signer, error) {
	e.tokenOnce.Do(func() {
		if e.cfg.TokenSecret == nil {
			e.tokenErr = errcode.New(errcode.Unavailable, "tokens are off: Config.TokenSecret is not set")
			return
		}
		e.tokens, e.tokenErr = auth.NewSigner(e.cfg.TokenSecret, e.cfg.PreviousTokenSecrets...)
	})
	return e.tokens, e.tokenErr
}

// IssueTokens issues tokens for a registered client with a role. Only the
// embedding program or a supervisor issues tokens.
func (e *Engine) IssueTokens(ctx context.Context, clientID string, role Role) (Tokens, error) {
	if err := e.checkOpen(); err != nil {
		return Tokens{}, err
	}
	if err := e.authorizeAdmin(ctx, "issue tokens"); err != nil {
		return Tokens{}, err
	}
	if !role.Valid() {
		return Tokens{}, errcode.Newf(errcode.InvalidParams, "unknown role %q", string(role))
	}
	c := e.dir.get(clientID)
	if c == nil || !c.Registered() {
		return Tokens{}, errcode.Newf(errcode.NotFound, "no client %s is registered", clientID)
	}
	return e.issue(clientID, role, c.Generation)
}

func (e *Engine) issue(client string, role Role, gen int64) (Tokens, error) {
	s, err := e.signer()
	if err != nil {
		return Tokens{}, err
	}
	now := e.now()
	id := e.cfg.IDs.NewID()
	access := auth.Claims{ID: id, Client: client, Role: role, Kind: auth.KindAccess, Generation: gen,
		IssuedAt: now, ExpiresAt: now + int64(e.cfg.AccessTokenTTL)}
	refresh := access
	refresh.ID, refresh.Kind, refresh.ExpiresAt = id+".r", auth.KindRefresh, now+int64(e.cfg.RefreshTokenTTL)
	t := Tokens{Client: client, Role: role, AccessExpires: timeOf(access.ExpiresAt),
		RefreshExpires: timeOf(refresh.ExpiresAt), RefreshAt: timeOf(access.RefreshAt())}
	if t.Access, err = s.Sign(access); err != nil {
		return Tokens{}, err
	}
	if t.Refresh, err = s.Sign(refresh); err != nil {
		return Tokens{}, err
	}
	return t, nil
}

// verify checks a token of the given kind against the signer, the clock and
// the directory.
func (e *Engine) verify(token string, kind auth.Kind) (auth.Claims, error) {
	if err := e.checkOpen(); err != nil {
		return auth.Claims{}, err
	}
	s, err := e.signer()
	if err != nil {
		return auth.Claims{}, err
	}
	cl, err := s.VerifyKind(token, kind, e.now())
	if err != nil {
		return auth.Claims{}, err
	}
	c := e.dir.get(cl.Client)
	if c == nil || !c.Registered() {
		return auth.Claims{}, errcode.Wrap(errcode.InvalidToken, auth.ErrRevoked, "token of unknown client "+cl.Client)
	}
	if err := cl.CheckGeneration(c.Generation); err != nil {
		return auth.Claims{}, err
	}
	return cl, nil
}

// RefreshTokens exchanges a valid refresh token for new tokens.
func (e *Engine) RefreshTokens(ctx context.Context, refresh string) (Tokens, error) {
	cl, err := e.verify(refresh, auth.KindRefresh)
	if err != nil {
		return Tokens{}, err
	}
	return e.issue(cl.Client, cl.Role, cl.Generation)
}

// Authenticate checks an access token and returns ctx carrying the
// Principal it names: commands given the returned context act as that
// client, under its role.
func (e *Engine) Authenticate(ctx context.Context, access string) (context.Context, Principal, error) {
	cl, err := e.verify(access, auth.KindAccess)
	if err != nil {
		return ctx, Principal{}, err
	}
	p := Principal{Client: cl.Client, Role: cl.Role, Token: cl.ID}
	return WithPrincipal(ctx, p), p, nil
}
