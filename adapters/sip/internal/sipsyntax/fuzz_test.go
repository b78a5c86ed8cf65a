package sipsyntax

import (
	"bytes"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The decoders never panic, whatever a phone sends. Seed corpora live
// under testdata/fuzz/. This package's test binary links only sipgo's sip
// package and the digest parser (≈ 20 KiB of coverage counters to scan
// after every exec, against 117 KiB in adapters/sip).
//
// While fuzzing, inputs over maxFuzzInput bytes are skipped: the minimiser
// is quadratic in an input's length (in adapters/sip, at ≈ 190 µs an exec,
// it spent 54 s of a one-minute FuzzParseCredentials run on one long input,
// and FuzzReferTo 55 s on one of under 512 bytes). The headers and bodies
// the parsers branch on are shorter (the longest seed, a Digest header, is
// 170 bytes); a plain go test runs every seed and corpus entry.
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
		c, err := ParseCredentials(h)
		if err == nil && (c.Username == "" || len(c.Response) != 32) {
			t.Fatalf("accepted %q as %+v", h, c)
		}
	})
}

func FuzzParseBinding(f *testing.F) {
	f.Add(BindingContact("sip:alice@127.0.0.1:5062;transport=udp", time.Unix(1800000000, 0), false))
	f.Add(BindingContact("sip:k3c8@df7jal23ls0d.invalid;transport=ws", time.Unix(1800000000, 0), true))
	f.Add("<sip:alice@h>;expires-at=nope")
	f.Add("<>;expires-at=")
	f.Fuzz(func(t *testing.T, s string) {
		if tooLong(len(s)) {
			return
		}
		b, err := ParseBinding(s)
		if err != nil {
			return
		}
		again, err := ParseBinding(BindingContact(b.Raw, b.ExpiresAt, b.ICE))
		if err != nil || again.Raw != b.Raw || !again.ExpiresAt.Equal(b.ExpiresAt) || again.ICE != b.ICE {
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
		d, err := RequestedExpiry(p, hasP, h, hasH, time.Hour)
		if err == nil && d < 0 {
			t.Fatalf("negative expiry %v", d)
		}
	})
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
		d, dur, err := ParseDTMFRelay(b)
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
		u, _, err := ParseReferTo(s)
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
		d := SDPDirection(b)
		if !IsDirection(d) {
			t.Fatalf("direction %q of %q", d, b)
		}
		if IsDirection(dir) && SDPDirection(SetDirection(b, dir)) != dir && (bytes.HasPrefix(b, []byte("m=")) || bytes.Contains(b, []byte("\nm="))) && !bytes.Contains(b, []byte("0.0.0.0")) && !bytes.Contains(b, []byte(" ::")) {
			t.Fatalf("SetDirection(%q, %s) reads as %s", b, dir, SDPDirection(SetDirection(b, dir)))
		}
		if next, ok := NextOrigin(OriginLine(b)); ok && !strings.HasPrefix(next, "o=") {
			t.Fatalf("origin %q", next)
		}
	})
}

func TestParseReplaces(t *testing.T) {
	good := map[string]Replaces{
		"<sip:carol@x?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>":                    {CallID: "abc@host", ToTag: "t1", FromTag: "f1"},
		"<sip:carol@x?Require=replaces&Replaces=a%3Bfrom-tag%3Df%3Bto-tag%3Dt%3Bearly-only>": {CallID: "a", ToTag: "t", FromTag: "f", EarlyOnly: true},
		"sip:carol@x?replaces=a;to-tag=t;from-tag=f":                                         {CallID: "a", ToTag: "t", FromTag: "f"},
	}
	for in, want := range good {
		got, err := ReferToReplaces(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"<sip:carol@x>", "<sip:carol@x?Replaces=abc>", "<sip:carol@x?Replaces=abc%3Bto-tag%3D>",
		"<sip:carol@x?Replaces=%3Bto-tag%3Dt%3Bfrom-tag%3Df>", "<sip:carol@x?Replaces=a%ZZ>", "<sip:carol@x?Replaces=a",
	} {
		if _, err := ReferToReplaces(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func FuzzReplaces(f *testing.F) {
	f.Add("<sip:carol@x?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>")
	f.Add("sip:c@x?replaces=a;to-tag=;from-tag=f")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ReferToReplaces(s)
		if err == nil && (r.CallID == "" || r.ToTag == "" || r.FromTag == "") {
			t.Fatalf("%q: %+v", s, r)
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
		if d, err := Destination(&u, "callengine"); err == nil && d == "" {
			t.Fatalf("empty destination from %q", s)
		}
	})
}

func FuzzOptionTags(f *testing.F) {
	for _, s := range []string{"100rel", "replaces, timer", "100rel,,  Timer ,REPLACES", "precondition\t, sec-agree", "a b", "x,\"y\"", ",", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tooLong(len(s)) {
			return
		}
		tags, err := OptionTags([]string{s, s})
		if err != nil {
			return
		}
		if len(tags) > maxOptionTags {
			t.Fatalf("%q: %d tags", s, len(tags))
		}
		seen := map[string]bool{}
		for _, tag := range tags {
			if tag == "" || tag != strings.ToLower(tag) || !isToken(tag) || seen[tag] {
				t.Fatalf("%q: tag %q of %q", s, tag, tags)
			}
			seen[tag] = true
		}
		if u := Unsupported(tags, tags); len(u) != 0 {
			t.Fatalf("%q: %q unsupported by itself", s, u)
		}
	})
}

func FuzzRAck(f *testing.F) {
	for _, s := range []string{"776656 1 INVITE", "1 2 invite", " 4294967295\t7 INVITE ", "0 1 INVITE", "1 1", "1 1 IN VITE", "-1 2 INVITE", "+1 2 INVITE", "99999999999 1 INVITE", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tooLong(len(s)) {
			return
		}
		r, err := ParseRAck(s)
		if err != nil {
			return
		}
		if r.RSeq == 0 || r.CSeq == 0 || !isToken(r.Method) || r.Method != strings.ToUpper(r.Method) {
			t.Fatalf("%q: %+v", s, r)
		}
		again, err := ParseRAck(r.String())
		if err != nil || again != r {
			t.Fatalf("%q: %+v does not parse back (%+v, %v)", s, r, again, err)
		}
	})
}

func FuzzSessionExpires(f *testing.F) {
	for _, s := range []string{"1800;refresher=uac", "90", " 600 ; Refresher=UAS ;x=y", "1800;refresher=both", "0", "86401", "12a", ";refresher=uac", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tooLong(len(s)) {
			return
		}
		se, err := ParseSessionExpires(s)
		if err != nil {
			return
		}
		if se.Seconds < 1 || se.Seconds > maxSessionSeconds || se.Refresher != "" && se.Refresher != "uac" && se.Refresher != "uas" {
			t.Fatalf("%q: %+v", s, se)
		}
		again, err := ParseSessionExpires(se.String())
		if err != nil || again != se {
			t.Fatalf("%q: %+v does not parse back (%+v, %v)", s, se, again, err)
		}
	})
}
