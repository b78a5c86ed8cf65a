package sip

import (
	"crypto/md5"
	"encoding/hex"
	"flag"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/clock"
)

// destination never panics, whatever Request-URI a phone sends. The other
// SIP decoders and their fuzz targets live in internal/sipsyntax, whose
// test binary is small; destination stays here, as it applies fsm's rules
// for numbers, extensions and destinations. Its seed corpus lives under
// testdata/fuzz/.
//
// While fuzzing, inputs over maxFuzzInput bytes are skipped: the minimiser
// is quadratic in an input's length, and an exec in this package costs
// ≈ 190 µs (its tests link sipgo, pion and the engine: 117 KiB of coverage
// counters to scan after every exec). The URIs destination branches on are
// shorter; a plain go test runs every seed and corpus entry.
const maxFuzzInput = 192

// tooLong reports whether go test -fuzz runs and n exceeds maxFuzzInput.
func tooLong(n int) bool {
	return n > maxFuzzInput && fuzzingNow()
}

var fuzzingNow = sync.OnceValue(func() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
})

// The digest check accepts what a client computes from the password and
// refuses anything else; nonces expire and cannot be forged.
func TestDigestAndNonces(t *testing.T) {
	clk := clock.NewVirtual(time.Unix(1800000000, 0))
	n := nonces{secret: []byte("0123456789abcdef0123456789abcdef"), clock: clk, ttl: time.Minute}
	sum := md5.Sum([]byte("alice:callengine:secret"))
	ha1 := hex.EncodeToString(sum[:])
	chal, err := digest.ParseChallenge(n.challenge("callengine", false))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: "alice", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sipsyntax.ParseCredentials(cred.String())
	if err != nil {
		t.Fatal(err)
	}
	if !digestMatches(c, "REGISTER", "callengine", ha1) {
		t.Fatal("the right password does not match")
	}
	if digestMatches(c, "INVITE", "callengine", ha1) || digestMatches(c, "REGISTER", "callengine", hex.EncodeToString(make([]byte, 16))) {
		t.Fatal("a wrong method or HA1 matches")
	}
	if valid, fresh := n.check(c.Nonce); !valid || !fresh {
		t.Fatalf("own nonce: valid %v fresh %v", valid, fresh)
	}
	clk.Advance(2 * time.Minute)
	if valid, fresh := n.check(c.Nonce); !valid || fresh {
		t.Fatalf("old nonce: valid %v fresh %v", valid, fresh)
	}
	forged := []byte(c.Nonce)
	forged[3] ^= 1
	if valid, _ := n.check(string(forged)); valid {
		t.Fatal("a forged nonce is valid")
	}
}
