package engine

import (
	"context"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/fsm"
)

// Passwords for network logins (M2): a device that connects over the
// network (a browser on the WebSocket protocol) logs in with its client id
// and password and gets tokens. The journal keeps only a salted PBKDF2-SHA256
// hash, in the ClientPasswordSet event, so a restored engine checks the
// same passwords.

// passwordIterations is the PBKDF2 work factor of new hashes; a stored hash
// names its own, so it can grow without breaking old ones.
const passwordIterations = 100_000

// MaxPasswordLength bounds a password, so that a login cannot make the
// engine hash megabytes.
const MaxPasswordLength = 1024

const passwordScheme = "pbkdf2-sha256"

// passwordCommand returns the command that stores client's password: its
// PBKDF2 form (scheme, iterations, salt and key) for Login, and its SIP
// digest HA1 in the engine's realm for a registrar. The salt comes from the
// engine's id source, so a simulated engine writes the same journal on
// every run. An empty password clears them.
func (e *Engine) passwordCommand(client, password string) (fsm.SetPassword, error) {
	if password == "" {
		return fsm.SetPassword{}, nil
	}
	if len(password) > MaxPasswordLength {
		return fsm.SetPassword{}, errcode.Newf(errcode.InvalidParams, "a password is longer than %d bytes", MaxPasswordLength)
	}
	salt := []byte(e.cfg.IDs.NewID())
	key, err := pbkdf2.Key(sha256.New, password, salt, passwordIterations, 32)
	if err != nil {
		return fsm.SetPassword{}, errcode.Wrap(errcode.Internal, err, "cannot hash the password")
	}
	enc := base64.RawStdEncoding
	realm := e.realm()
	ha1 := md5.Sum([]byte(client + ":" + realm + ":" + password))
	return fsm.SetPassword{
		Hash:  fmt.Sprintf("%s$%d$%s$%s", passwordScheme, passwordIterations, enc.EncodeToString(salt), enc.EncodeToString(key)),
		Realm: realm, DigestHA1: hex.EncodeToString(ha1[:]),
	}, nil
}

// realm is the SIP digest realm: the engine's domain, or "callengine".
func (e *Engine) realm() string {
	if e.cfg.Domain != "" {
		return e.cfg.Domain
	}
	return "callengine"
}

// DigestCredentials returns a client's SIP digest credentials (M3): the
// realm and HA1 = MD5(client ":" realm ":" password), as a registrar checks
// a REGISTER or an INVITE with. Only the embedding program and supervisors
// read them; a client without a password is not_found.
func (e *Engine) DigestCredentials(ctx context.Context, clientID string) (realm, ha1 string, err error) {
	if err := e.checkOpen(); err != nil {
		return "", "", err
	}
	if err := e.authorizeAdmin(ctx, "read digest credentials"); err != nil {
		return "", "", err
	}
	c := e.dir.get(clientID)
	if c == nil || !c.Registered() || c.DigestHA1 == "" {
		return "", "", errcode.Newf(errcode.NotFound, "client %s has no password", clientID)
	}
	return c.DigestRealm, c.DigestHA1, nil
}

// passwordMatches reports whether password hashes to stored. A stored form
// it cannot read matches nothing.
func passwordMatches(stored, password string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != passwordScheme || len(password) > MaxPasswordLength {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10*passwordIterations {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// decoyHash is hashed against when a login names no client with a
// password, so that the answer takes as long as a wrong password's.
const decoyHash = passwordScheme + "$100000$ZGVjb3k$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// SetPassword sets a client's password for network logins, or removes it
// with "" (then the client cannot log in over the network, only get tokens
// from IssueTokens). The client itself or a supervisor may set it.
func (e *Engine) SetPassword(ctx context.Context, clientID, password string) (Client, error) {
	if err := e.authorizeClient(ctx, clientID); err != nil {
		return Client{}, err
	}
	if c := e.dir.get(clientID); c != nil && c.Registered() && password != "" && passwordMatches(c.PasswordHash, password) && c.DigestRealm == e.realm() {
		return e.viewClient(c), nil // unchanged: nothing is journaled
	}
	cmd, err := e.passwordCommand(clientID, password)
	if err != nil {
		return Client{}, err
	}
	return e.clientCommand(ctx, clientID, false, cmd)
}

// Login checks a client's password and issues it tokens with the agent
// role, as IssueTokens does. A wrong password, an unknown client and a
// client without a password are the same error, invalid_credentials
// (status 401), and take the same time.
func (e *Engine) Login(ctx context.Context, clientID, password string) (Tokens, error) {
	if err := e.checkOpen(); err != nil {
		return Tokens{}, err
	}
	c := e.dir.get(clientID)
	stored := decoyHash
	if c != nil && c.Registered() && c.PasswordHash != "" {
		stored = c.PasswordHash
	}
	if !passwordMatches(stored, password) || stored == decoyHash {
		return Tokens{}, errcode.New(errcode.InvalidCredentials, "wrong client id or password")
	}
	return e.issue(clientID, RoleAgent, c.Generation)
}
