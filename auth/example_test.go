package auth_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/callengine/callengine/auth"
	"github.com/callengine/callengine/errcode"
)

// The engine signs an access token for alice when she connects; she presents
// it, refreshes it before it expires, and once it has expired it is refused.
func ExampleSigner() {
	signer, err := auth.NewSigner([]byte("a secret of at least 32 bytes, from crypto/rand"))
	if err != nil {
		fmt.Println(err)
		return
	}
	registered := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	now := registered.Add(time.Hour)
	token, err := signer.Sign(auth.Claims{
		ID:         "tok-1",
		Client:     "alice",
		Role:       auth.RoleAgent,
		Kind:       auth.KindAccess,
		Generation: registered.UnixNano(),
		IssuedAt:   now.UnixNano(),
		ExpiresAt:  now.Add(auth.DefaultAccessTTL).UnixNano(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(token)

	// Half an hour later alice connects with it.
	c, err := signer.VerifyKind(token, auth.KindAccess, now.Add(30*time.Minute).UnixNano())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Client, c.Role, c.Kind, "valid for", c.Lifetime())
	fmt.Println("refresh at", time.Unix(0, c.RefreshAt()).UTC().Format(time.TimeOnly))
	fmt.Println(c.CheckGeneration(registered.UnixNano())) // still the same registration

	// An access token is no refresh token.
	_, err = signer.VerifyKind(token, auth.KindRefresh, now.UnixNano())
	fmt.Println(err)

	// Three minutes after it expired.
	_, err = signer.Verify(token, now.Add(auth.DefaultAccessTTL+3*time.Minute).UnixNano())
	fmt.Println(err)
	fmt.Println(errors.Is(err, auth.ErrExpired), errcode.CodeOf(err), errcode.CodeOf(err).Status())

	// Output:
	// ce1.AQEFdG9rLTEFYWxpY2WAgKCPnrDUmDGAgOWa5IHWmDGAgKqmqtPXmDE.Cp6dNqa9paS8Gy9ZgGPFtbGOyN-DrxVp26h5U2xpcv4
	// alice agent access valid for 1h0m0s
	// refresh at 09:48:00
	// <nil>
	// invalid_token: an access token where a refresh token is needed: wrong kind of token
	// invalid_token: access token expired 3m0s ago: expired token
	// true invalid_token 401
}
