package sip

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/clock"
)

// Credentials captured from a REGISTER that went through are refused when
// sent again on a new request (the same nonce count: a replay, challenged
// stale), to the same Request-URI or another; the phone itself, answering
// the new challenge, registers.
func TestDigestReplayIsChallenged(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := p.request(sip.REGISTER, "", "alice")
	res, err := p.cli.Do(ctx, first)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("first REGISTER: %v %v", res, err)
	}
	if res, err = p.cli.DoDigestAuth(ctx, first, res, sipgo.DigestAuth{Username: "alice", Password: password("alice")}); err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER with credentials: %v %v", res, err)
	}
	auth := first.GetHeader("Authorization")
	if auth == nil {
		t.Fatal("no Authorization on the REGISTER that went through")
	}
	failures := h.ad.Stats().AuthFailures

	replay := p.request(sip.REGISTER, "", "alice")
	replay.AppendHeader(sip.NewHeader("Authorization", auth.Value()))
	res, err = p.cli.Do(ctx, replay)
	if err != nil || res.StatusCode != 401 || !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("replayed REGISTER: %v %v, want 401 stale", res, err)
	}
	if n := h.ad.Stats().DigestReplays; n != 1 {
		t.Errorf("replays: %d, want 1", n)
	}

	other := p.request(sip.REGISTER, "bob", "alice") // Request-URI sip:bob@…
	other.AppendHeader(sip.NewHeader("Authorization", auth.Value()))
	if res, err = p.cli.Do(ctx, other); err != nil || res.StatusCode != 401 {
		t.Fatalf("the credentials on another Request-URI: %v %v, want 401", res, err)
	}
	if n := h.ad.Stats().DigestReplays; n != 2 {
		t.Errorf("replays: %d, want 2", n)
	}
	if n := h.ad.Stats().AuthFailures; n != failures {
		t.Errorf("auth failures: %d, want %d (a replay is not a wrong password)", n, failures)
	}

	again := p.request(sip.REGISTER, "", "alice")
	if res := p.do(again, "alice", password("alice")); res.StatusCode != 200 {
		t.Fatalf("a fresh challenge answered: %d", res.StatusCode)
	}
}

func TestNonceCounts(t *testing.T) {
	clk := clock.NewVirtual(time.Unix(1800000000, 0))
	n := nonces{secret: []byte("0123456789abcdef0123456789abcdef"), clock: clk, ttl: time.Minute, last: new(atomic.Uint64)}
	counts := newNonceCounts(clk, time.Minute)
	a, b, c := n.issue(), n.issue(), n.issue() // at one instant, three nonces
	if a == b || b == c {
		t.Fatal("two nonces issued at one instant are the same")
	}
	for i, step := range []struct {
		nonce string
		nc    int
		ok    bool
	}{
		{a, 1, true}, {a, 1, false}, {a, 3, true}, {a, 2, false}, {a, 4, true},
		{b, 1, true},
		{c, 0, true}, {c, 0, false}, {c, 1, false}, // no qop: once
		{"not-a-nonce", 1, false},
	} {
		if got := counts.advance(step.nonce, step.nc); got != step.ok {
			t.Errorf("step %d: advance(nc %d) = %v, want %v", i, step.nc, got, step.ok)
		}
	}
	clk.Advance(61 * time.Second) // one rotation: still remembered
	if counts.advance(a, 4) {
		t.Error("a count was forgotten after one lifetime")
	}
	clk.Advance(61 * time.Second)
	counts.advance(c, 5) // rotates again: a's last use is two generations old
	if !counts.advance(a, 4) {
		t.Error("a count is remembered past two lifetimes")
	}
}
