package engine_test

import (
	"crypto/md5"
	"fmt"
	"strings"
	"testing"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

// A client registered with a password logs in with it, also after a
// restart; a wrong password, an unknown client and a client without a
// password are the same refusal and journal nothing.
func TestLoginWithPassword(t *testing.T) {
	h := newTokenHarness(t)
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "alice", Extensions: []string{"201"}, Password: "s3cret pass"}))
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "bob", Extensions: []string{"202"}}))
	h.expectEvents("ClientRegistered", "ClientPasswordSet", "ClientRegistered")
	if err := h.e.Journal().Scan(1, func(r journal.Record) error {
		if strings.Contains(string(r.Data), "s3cret") {
			t.Errorf("record %d holds the password", r.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	tk := must[engine.Tokens](t)(h.e.Login(ctx, "alice", "s3cret pass"))
	if tk.Client != "alice" || tk.Role != engine.RoleAgent || tk.Access == "" || tk.Refresh == "" {
		t.Fatalf("Login = %+v", tk)
	}
	if _, p, err := h.e.Authenticate(ctx, tk.Access); err != nil || p.Client != "alice" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	last := h.e.Journal().LastSeq()
	for _, c := range []struct{ client, password string }{
		{"alice", "s3cret pas"}, {"alice", ""}, {"alice", "S3CRET PASS"},
		{"bob", ""}, {"bob", "anything"}, {"nobody", "s3cret pass"},
		{"alice", strings.Repeat("x", engine.MaxPasswordLength+1)},
	} {
		_, err := h.e.Login(ctx, c.client, c.password)
		wantCode(t, err, errcode.InvalidCredentials)
		if errcode.CodeOf(err).Status() != 401 {
			t.Errorf("status %d", errcode.CodeOf(err).Status())
		}
	}
	if got := h.e.Journal().LastSeq(); got != last {
		t.Fatalf("refused logins journaled %d events", got-last)
	}

	h.e.Close()
	h.openWithSecret()
	must[engine.Tokens](t)(h.e.Login(ctx, "alice", "s3cret pass"))
	_, err := h.e.Login(ctx, "alice", "wrong")
	wantCode(t, err, errcode.InvalidCredentials)
}

// SetPassword changes or removes a password: the client itself may, another
// client may not; setting the same password again journals nothing; a new
// registration starts without a password.
func TestSetPassword(t *testing.T) {
	h := newTokenHarness(t)
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "alice", Extensions: []string{"201"}, Password: "one"}))
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "bob", Extensions: []string{"202"}, Password: "bob"}))
	h.events()

	bob := login(t, h.e, "bob", engine.RoleAgent)
	_, err := h.e.SetPassword(bob, "alice", "taken over")
	wantCode(t, err, errcode.Forbidden)

	alice := login(t, h.e, "alice", engine.RoleAgent)
	must[engine.Client](t)(h.e.SetPassword(alice, "alice", "two"))
	must[engine.Client](t)(h.e.SetPassword(alice, "alice", "two"))
	h.expectEvents("ClientPasswordSet")
	_, err = h.e.Login(ctx, "alice", "one")
	wantCode(t, err, errcode.InvalidCredentials)
	must[engine.Tokens](t)(h.e.Login(ctx, "alice", "two"))

	must[engine.Client](t)(h.e.SetPassword(ctx, "alice", ""))
	_, err = h.e.Login(ctx, "alice", "two")
	wantCode(t, err, errcode.InvalidCredentials)

	must[engine.Client](t)(h.e.UnregisterClient(ctx, "bob"))
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "bob", Extensions: []string{"202"}}))
	_, err = h.e.Login(ctx, "bob", "bob")
	wantCode(t, err, errcode.InvalidCredentials)
}

// The password also gives SIP digest credentials: HA1 = MD5(client:realm:
// password) in the engine's domain, kept across a restart; only the
// embedding program or a supervisor reads them; none without a password.
func TestDigestCredentials(t *testing.T) {
	h := newTokenHarness(t)
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "alice", Extensions: []string{"201"}, Password: "s3cret"}))
	must[engine.Client](t)(h.e.RegisterClient(ctx, engine.ClientSpec{ID: "bob", Extensions: []string{"202"}}))
	want := fmt.Sprintf("%x", md5.Sum([]byte("alice:example.com:s3cret")))
	realm, ha1, err := h.e.DigestCredentials(ctx, "alice")
	if err != nil || realm != "example.com" || ha1 != want {
		t.Fatalf("DigestCredentials = %q, %q, %v; want example.com, %s", realm, ha1, err, want)
	}
	_, _, err = h.e.DigestCredentials(ctx, "bob")
	wantCode(t, err, errcode.NotFound)
	_, _, err = h.e.DigestCredentials(login(t, h.e, "bob", engine.RoleAgent), "alice")
	wantCode(t, err, errcode.Forbidden)

	h.e.Close()
	h.openWithSecret()
	if _, got, err := h.e.DigestCredentials(ctx, "alice"); err != nil || got != want {
		t.Fatalf("after restart: %q, %v", got, err)
	}
}
