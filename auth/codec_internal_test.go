package auth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/callengine/callengine/errcode"
)

// signRaw signs any payload with the current secret: a token only a holder of
// the secret could make, for the checks behind the signature.
func signRaw(s *Signer, payload []byte) string {
	b := b64.AppendEncode([]byte(Prefix), payload)
	mac := s.keys[0].sum(b)
	return string(b) + "." + b64.EncodeToString(mac[:])
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestLongestTokenFitsInOneKiB(t *testing.T) {
	s, _ := NewSigner(testSecret)
	tok, err := s.Sign(Claims{
		ID: strings.Repeat("i", MaxFieldLen), Client: strings.Repeat("c", MaxFieldLen),
		Role: RoleSupervisor, Kind: KindRefresh,
		Generation: -1 << 63, IssuedAt: -1 << 63, ExpiresAt: 1<<63 - 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != maxToken || maxToken > 1024 || maxToken > MaxTokenLen {
		t.Fatalf("longest token %d bytes, maxToken %d", len(tok), maxToken)
	}
}

func TestSignedPayloadsThatDoNotDecode(t *testing.T) {
	s, _ := NewSigner(testSecret)
	good := appendClaims(nil, Claims{ID: "t", Client: "alice", Role: RoleAgent, Kind: KindAccess, IssuedAt: 10, ExpiresAt: 20})
	varints := func(vs ...int64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendVarint(b, v)
		}
		return b
	}
	head := []byte{1, 1, 1, 't', 5, 'a', 'l', 'i', 'c', 'e'}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	if !bytes.Equal(cat(head, varints(0, 10, 20)), good) {
		t.Fatal("the test's layout is not the codec's")
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		msg     string
	}{
		{"empty", nil, "truncated"},
		{"one byte", []byte{1}, "truncated"},
		{"kind 0", cat([]byte{0}, good[1:]), "unknown kind"},
		{"kind 3", cat([]byte{3}, good[1:]), "unknown kind"},
		{"role 0", cat([]byte{1, 0}, good[2:]), "unknown role"},
		{"role 9", cat([]byte{1, 9}, good[2:]), "unknown role"},
		{"id cut", []byte{1, 1, 4, 't'}, "truncated in the token id"},
		{"no client", []byte{1, 1, 0}, "truncated in the client id"},
		{"client cut", []byte{1, 1, 0, 9, 'a'}, "truncated in the client id"},
		{"no numbers", head, "bad or truncated number"},
		{"varint cut", cat(head, varints(0, 10), []byte{0x80}), "bad or truncated number"},
		{"varint overflow", cat(head, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), "bad or truncated number"},
		{"trailing", cat(good, []byte{0}), "trailing bytes"},
		{"non-minimal varint", cat(head, []byte{0x80, 0x00}, varints(10, 20)), "not in canonical form"},
		{"empty client", cat([]byte{1, 1, 1, 't', 0}, varints(0, 10, 20)), "payload has no client"},
		{"client not utf8", cat([]byte{1, 1, 0, 1, 0xff}, varints(0, 10, 20)), "not UTF-8"},
		{"expires at issue", cat(head, varints(0, 10, 10)), "ExpiresAt not after IssuedAt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Verify(signRaw(s, tc.payload), 15)
			if !errors.Is(err, ErrMalformed) || errcode.CodeOf(err) != errcode.InvalidToken {
				t.Fatalf("%+v, %v", c, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("message %q does not say %q", err, tc.msg)
			}
		})
	}
	// The payload's base64 has spare bits too.
	tok := signRaw(s, good)
	p, _, _ := strings.Cut(tok[len(Prefix):], ".")
	if len(p)%4 == 0 {
		t.Fatalf("payload of %d characters has no spare bits", len(p))
	}
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", p[len(p)-1])
	bent := []byte(Prefix + p)
	bent[len(bent)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]
	mac := s.keys[0].sum(bent)
	_, err := s.Verify(string(bent)+"."+b64.EncodeToString(mac[:]), 15)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "payload is not base64url") {
		t.Fatal(err)
	}
}
