package media_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/callengine/callengine/media"
)

var (
	fuzzOnce  sync.Once
	fuzzRelay *media.Relay
)

// FuzzAnswerOffer hands arbitrary offers to AnswerOffer: each is answered or
// refused with ErrBadSDP, never a panic, and a refused one leaves no leg.
// The seed corpus is in testdata/fuzz/FuzzAnswerOffer (a Chromium offer, a
// pion offer, broken variants). A successful exec costs pion a peer
// connection (≈ 2 ms); run with -fuzzminimizetime=2s, or minimizing a new
// SDP input takes most of a short -fuzztime.
func FuzzAnswerOffer(f *testing.F) {
	f.Add("v=0\r\n")
	f.Add("")
	fuzzOnce.Do(func() {
		r, err := media.NewRelay(loopback)
		if err != nil {
			f.Fatal(err)
		}
		fuzzRelay = r
	})
	f.Fuzz(func(t *testing.T, offer string) {
		ans, err := fuzzRelay.AnswerOffer(context.Background(), "fuzz", offer, media.LegEvents{})
		if err != nil {
			if !errors.Is(err, media.ErrBadSDP) {
				t.Fatalf("not ErrBadSDP: %v", err)
			}
			if fuzzRelay.HasLeg("fuzz") {
				t.Fatal("a refused offer left a leg")
			}
			return
		}
		if ans == "" {
			t.Fatal("empty answer")
		}
		if err := fuzzRelay.CloseLeg("fuzz"); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzAddICECandidate: a candidate line parses or is ErrBadCandidate.
func FuzzAddICECandidate(f *testing.F) {
	f.Add("candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host")
	f.Add("candidate:842163049 1 udp 1677729535 203.0.113.7 3478 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag x network-cost 999")
	f.Add("")
	r, err := media.NewRelay(loopback)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	if _, err := r.CreateOffer(context.Background(), "o", media.OfferOptions{}, media.LegEvents{}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cand string) {
		err := r.AddICECandidate("o", media.ICECandidate{Candidate: cand})
		if err != nil && !errors.Is(err, media.ErrBadCandidate) {
			t.Fatalf("not ErrBadCandidate: %v", err)
		}
	})
}

// FuzzAnswerRTP hands arbitrary offers to AnswerRTP, the SDP of a SIP
// phone or trunk (RTP/AVP, or RTP/SAVP with crypto lines): each is answered
// — RTP/SAVP with one crypto line exactly when the offer was SRTP — or
// refused with ErrBadSDP, never a panic, and a refused one leaves no leg.
func FuzzAnswerRTP(f *testing.F) {
	plain := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
	secure := strings.Replace(plain, "RTP/AVP", "RTP/SAVP", 1) +
		"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^31\r\n" +
		"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32\r\n"
	for _, s := range []string{plain, secure,
		strings.Replace(secure, "AES_CM_128_HMAC_SHA1_32", "F8_128_HMAC_SHA1_80", 1),
		strings.Replace(secure, "inline:N", "inline:!", 1),
		strings.Replace(plain, "RTP/AVP", "RTP/SAVPF", 1), "", "v=0\r\n"} {
		f.Add(s)
	}
	r, err := media.NewRelay(loopback)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	f.Fuzz(func(t *testing.T, offer string) {
		if len(offer) > 16<<10 {
			return
		}
		answer, err := r.AnswerRTP(context.Background(), "p", offer, media.LegEvents{})
		if err != nil {
			if !errors.Is(err, media.ErrBadSDP) {
				t.Fatalf("not ErrBadSDP: %v", err)
			}
			if r.HasLeg("p") {
				t.Fatal("a refused offer left a leg")
			}
			return
		}
		defer r.CloseLeg("p")
		offered := strings.Contains(offer, "SAVP")
		if n := strings.Count(answer, "a=crypto:"); strings.Contains(answer, "RTP/SAVP") != (n == 1) || n == 1 && !offered {
			t.Fatalf("offer:\n%s\nanswer:\n%s", offer, answer)
		}
	})
}
