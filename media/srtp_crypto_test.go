package media

import (
	"errors"
	"strings"
	"testing"

	"github.com/pion/rtp"
)

// Crypto lines as phones write them, and what the relay makes of each.
func TestParseCrypto(t *testing.T) {
	key := "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz" // 30 bytes
	for _, tc := range []struct {
		line  string
		suite string
		err   error
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key, "AES_CM_128_HMAC_SHA1_80", nil},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:" + key + "|2^31", "AES_CM_128_HMAC_SHA1_32", nil},
		{"3 AES_CM_128_HMAC_SHA1_80 inline:" + strings.TrimRight(key, "=") + "|1048576", "AES_CM_128_HMAC_SHA1_80", nil}, // lifetime 2^20, not enforced
		{"3 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^x", "", ErrBadSDP},
		{"4 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^20|1:32", "", ErrCryptoUnsupported}, // MKI
		{"5 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|1:4", "", ErrCryptoUnsupported},       // MKI, no lifetime
		{"6 AES_CM_128_HMAC_SHA1_80 inline:" + key + " UNENCRYPTED_SRTP", "", ErrCryptoUnsupported},
		{"7 F8_128_HMAC_SHA1_80 inline:" + key, "", ErrCryptoUnsupported},
		{"8 AES_CM_128_HMAC_SHA1_80 inline:" + key + ";inline:" + key, "", ErrCryptoUnsupported},
		{"9 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=", "", ErrBadSDP}, // 5 bytes
		{"10 AES_CM_128_HMAC_SHA1_80 inline:!!!", "", ErrBadSDP},
		{"x AES_CM_128_HMAC_SHA1_80 inline:" + key, "", ErrBadSDP},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:" + key, "", ErrBadSDP},
		{"1 AES_CM_128_HMAC_SHA1_80", "", ErrBadSDP},
		{"1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + key, "", ErrBadSDP},
	} {
		k, err := parseCrypto(tc.line)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: %v, want %v", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || k.suite.name != tc.suite || len(k.key) != 30 {
			t.Errorf("%q: %+v, %v", tc.line, k, err)
		}
	}
}

// FuzzParseCrypto: a crypto attribute is read or refused with ErrBadSDP or
// ErrCryptoUnsupported, never a panic; a line read has a key of its
// suite's length and writes back as a line that reads the same.
func FuzzParseCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32",
		"1 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^31",
		"2 AEAD_AES_256_GCM inline:YHIGgyZ6ZPdUoF1vP6YpGxZO4d9bNR9DOpOM4IOx9Mrz7O2+fOL3Vq0DOEE=",
		"3 AEAD_AES_128_GCM inline:Mr0YO9yV3+uC0AqPmIZ6SQ6xz3eD6nCgEgwKIw==",
		"1 AES_CM_128_HMAC_SHA1_80 inline:x UNENCRYPTED_SRTP", "", "1", "99999999999 X inline:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseCrypto(s)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrCryptoUnsupported) {
				t.Fatalf("%q: untyped error %v", s, err)
			}
			return
		}
		if len(k.key) != k.suite.keyLen() || k.tag < 0 || k.tag > maxCryptoTag {
			t.Fatalf("%q: %+v", s, k)
		}
		again, err := parseCrypto(k.attr())
		if err != nil || !again.equal(k) {
			t.Fatalf("%q: %q reads back as %+v, %v", s, k.attr(), again, err)
		}
		if _, err := newSRTPSession(k, k); err != nil {
			t.Fatalf("%q: no session of its key: %v", s, err)
		}
	})
}

// New keys on a stream that already wrapped (a re-INVITE that re-keys):
// our stream's rollover counter carries over to the new sealing context
// (the phone, which kept counting, decrypts), and the phone's, unknown to
// the new opening context, is found by probing.
func TestSRTPRekeyKeepsRolloverCounters(t *testing.T) {
	suite := cryptoSuites[0]
	key := func() sdesKey {
		k, err := newSDESKey(1, suite)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	const ssrc = 0x1234
	packet := func(seq uint16) ([]byte, *rtp.Header) {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc}, Payload: make([]byte, 160)}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b, &p.Header
	}
	ours, theirs := key(), key()
	old, err := newSRTPSession(ours, theirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint16{65534, 65535, 0, 1} { // our stream wraps
		b, h := packet(seq)
		if _, err := old.seal(nil, b, h); err != nil {
			t.Fatal(err)
		}
	}
	ours2, theirs2 := key(), key()
	next, err := newSRTPSession(ours2, theirs2)
	if err != nil {
		t.Fatal(err)
	}
	next.rekeyed()
	next.followFrom(old, ssrc)
	b, h := packet(2)
	sealed, err := next.seal(nil, b, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		roc uint32
		ok  bool
	}{{1, true}, {0, false}} {
		phone, _ := contextOf(ours2, nil)
		phone.SetROC(ssrc, tc.roc)
		if _, err := phone.DecryptRTP(nil, sealed, nil); (err == nil) != tc.ok {
			t.Errorf("the phone at rollover %d: %v", tc.roc, err)
		}
	}

	// The phone's stream, past its own wrap (counter 3), under its new key.
	phoneSeal, _ := contextOf(theirs2, nil)
	phoneSeal.SetROC(ssrc, 3)
	b, _ = packet(100)
	fromPhone, err := phoneSeal.EncryptRTP(nil, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := newSRTPSession(ours2, theirs2)
	if _, err := fresh.open(nil, fromPhone); err == nil {
		t.Fatal("a session that does not probe opened a packet at rollover 3")
	}
	if _, err := next.open(nil, fromPhone); err != nil {
		t.Fatalf("the re-keyed session did not find rollover 3: %v", err)
	}
}

// BenchmarkSRTPSealOpen: the relay's cost of SRTP per 20 ms G.711 packet
// (160 bytes of payload), sealed for the phone and opened from it, each
// suite (the packet is marshalled each time too).
func BenchmarkSRTPSealOpen(b *testing.B) {
	for _, suite := range cryptoSuites {
		b.Run(suite.name, func(b *testing.B) {
			k, _ := newSDESKey(1, suite)
			s, err := newSRTPSession(k, k) // one key both ways: what we seal, we open
			if err != nil {
				b.Fatal(err)
			}
			p := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 7}, Payload: make([]byte, 160)}
			sealed, plain := make([]byte, 0, 256), make([]byte, 0, 256)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p.SequenceNumber = uint16(i)
				raw, _ := p.Marshal()
				out, err := s.seal(sealed[:0], raw, &p.Header)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.open(plain[:0], out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
