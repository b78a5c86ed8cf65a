package sip

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/callengine/callengine/clock"
)

// Our own SIP-facing decoders never panic, whatever a phone sends. Seed
// corpora live under testdata/fuzz/.
//
// While fuzzing, inputs over maxFuzzInput bytes are skipped: the minimiser,
// quadratic in an input's length and ≈ 190 µs an exec in this package (its
// tests link sipgo, pion and the engine: 117 KiB of coverage counters to
// scan after every exec), spent 54 s of a one-minute FuzzParseCredentials
// run on one long input (19k execs), and FuzzReferTo 55 s on one of under
// 512 bytes (3k execs). The headers and bodies the parsers branch on are
// shorter (the longest seed, a Digest header, is 170 bytes); a plain go
// test runs every seed and corpus entry.
const maxFuzzInput = 192

// tooLong reports whether go test -fuzz runs and n exceeds maxFuzzInput.
func tooLong(n int) bool {
	return n > maxFuzzInput && fuzzingNow()
}

var fuzzingNow = sync.OnceValue(func() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
})

func FuzzParseCredentials(f *testing.F) {
	f.Add(`Digest username="alice", realm="callengine", nonce="abc", uri="sip:127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`)
	f.Add(`Digest username="", response=zz`)
	f.Add(`Basic YWxpY2U6c2VjcmV0`)
	f.Fuzz(func(t *testing.T, h string) {
		if tooLong(len(h)) {
			return
		}
		c, err := parseCredentials(h)
		if err == nil && (c.Username == "" || len(c.Response) != 32) {
			t.Fatalf("accepted %q as %+v", h, c)
		}
	})
}

func FuzzDestination(f *testing.F) {
	for _, s := range []string{"sip:1002@127.0.0.1:5060", "sip:+441234567890@example.com", "tel:+441234567890;phone-context=x",
		"sip:bob@callengine", "sips:alice;x=y@h", "sip:0044@h", "mailto:x@y", "sip:@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tooLong(len(s)) {
			return
		}
		var u sip.Uri
		func() {
			defer func() { recover() }() // sipgo's parser is not under test
			if sip.ParseUri(s, &u) != nil {
				u = sip.Uri{}
			}
		}()
		if d, err := destination(&u, "callengine"); err == nil && d == "" {
			t.Fatalf("empty destination from %q", s)
		}
	})
}

func FuzzParseBinding(f *testing.F) {
	f.Add(bindingContact("sip:alice@127.0.0.1:5062;transport=udp", time.Unix(1800000000, 0)))
	f.Add("<sip:alice@h>;expires-at=nope")
	f.Add("<>;expires-at=")
	f.Fuzz(func(t *testing.T, s string) {
		if tooLong(len(s)) {
			return
		}
		b, err := parseBinding(s)
		if err != nil {
			return
		}
		again, err := parseBinding(bindingContact(b.Raw, b.ExpiresAt))
		if err != nil || again.Raw != b.Raw || !again.ExpiresAt.Equal(b.ExpiresAt) {
			t.Fatalf("%q: no round trip: %+v %v", s, again, err)
		}
	})
}

func FuzzRequestedExpiry(f *testing.F) {
	f.Add("3600", true, "", false)
	f.Add("", false, "0", true)
	f.Add("-1", true, "99999999999", true)
	f.Fuzz(func(t *testing.T, p string, hasP bool, h string, hasH bool) {
		if tooLong(len(p) + len(h)) {
			return
		}
		d, err := requestedExpiry(p, hasP, h, hasH, time.Hour)
		if err == nil && d < 0 {
			t.Fatalf("negative expiry %v", d)
		}
	})
}

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
	c, err := parseCredentials(cred.String())
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

func FuzzDTMFRelay(f *testing.F) {
	for _, s := range []string{"Signal=5\r\nDuration=160\r\n", "Signal=11\nDuration=100", "signal = #", "Signal=Z", "Signal=5\nSignal=6",
		"Duration=160", "Signal=5\r\nDuration=0", "Signal=*\r\nDuration=99999999999999999999", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if tooLong(len(b)) {
			return
		}
		d, dur, err := parseDTMFRelay(b)
		if err != nil {
			return
		}
		if !strings.ContainsRune("0123456789*#ABCD", rune(d)) || dur < 0 || dur > 10*time.Second {
			t.Fatalf("accepted %q as %q %v", b, d, dur)
		}
	})
}

func FuzzReferTo(f *testing.F) {
	for _, s := range []string{"<sip:1003@127.0.0.1>", "sip:carol@callengine;method=INVITE", "\"Carol\" <sip:+441234567890@h>;x=y",
		"<sip:1003@h?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>", "<tel:+441234567890>", "<not a uri", "<mailto:x@y>", "<sip:>", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tooLong(len(s)) {
			return
		}
		u, _, err := parseReferTo(s)
		if err != nil {
			return
		}
		if u.Scheme != "sip" && u.Scheme != "sips" && u.Scheme != "tel" {
			t.Fatalf("accepted %q with scheme %q", s, u.Scheme)
		}
	})
}

func FuzzSDPDirection(f *testing.F) {
	f.Add([]byte("v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"), "recvonly")
	f.Add([]byte("a=inactive\nm=audio 1 RTP/AVP 0\nc=IN IP4 0.0.0.0"), "sendrecv")
	f.Fuzz(func(t *testing.T, b []byte, dir string) {
		if tooLong(len(b) + len(dir)) {
			return
		}
		d := sdpDirection(b)
		if !isDirection(d) {
			t.Fatalf("direction %q of %q", d, b)
		}
		if isDirection(dir) && sdpDirection(setDirection(b, dir)) != dir && (bytes.HasPrefix(b, []byte("m=")) || bytes.Contains(b, []byte("\nm="))) && !bytes.Contains(b, []byte("0.0.0.0")) && !bytes.Contains(b, []byte(" ::")) {
			t.Fatalf("setDirection(%q, %s) reads as %s", b, dir, sdpDirection(setDirection(b, dir)))
		}
		if next, ok := nextOrigin(originLine(b)); ok && !strings.HasPrefix(next, "o=") {
			t.Fatalf("origin %q", next)
		}
	})
}
