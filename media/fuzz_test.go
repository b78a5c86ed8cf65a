package media_test

import (
	"context"
	"errors"
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
