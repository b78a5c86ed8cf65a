package media_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

var loopback = media.Settings{LoopbackOnly: true}

func newRelay(t testing.TB) *media.Relay { t.Helper(); return newRelayWith(t, loopback) }

func newRelayWith(t testing.TB, s media.Settings) *media.Relay {
	t.Helper()
	r, err := media.NewRelay(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func newPeer(t testing.TB, marker, codec string) *mediatest.TestPeer {
	t.Helper()
	p, err := mediatest.NewTestPeer(context.Background(), mediatest.Settings{Media: loopback, Marker: marker, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// recorder keeps a leg's events.
type recorder struct {
	mu     sync.Mutex
	digits string
	states []media.LegState
	cands  int
	done   bool
}

func (rec *recorder) events() media.LegEvents {
	return media.LegEvents{
		Candidate:     func(media.ICECandidate) { rec.mu.Lock(); rec.cands++; rec.mu.Unlock() },
		GatheringDone: func() { rec.mu.Lock(); rec.done = true; rec.mu.Unlock() },
		DTMF:          func(d rune) { rec.mu.Lock(); rec.digits += string(d); rec.mu.Unlock() },
		State:         func(s media.LegState) { rec.mu.Lock(); rec.states = append(rec.states, s); rec.mu.Unlock() },
	}
}

func (rec *recorder) get() (digits string, states []media.LegState, cands int, done bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.digits, append([]media.LegState(nil), rec.states...), rec.cands, rec.done
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// call is two peers on a relay: A dialled in (AnswerOffer), B was offered
// the call (CreateOffer matching A), both connected and sending.
type call struct {
	r          *media.Relay
	a, b       *mediatest.TestPeer
	recA, recB *recorder
}

func newCall(t testing.TB, codec string) *call { t.Helper(); return newCallWith(t, codec, loopback) }

func newCallWith(t testing.TB, codec string, s media.Settings) *call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &call{r: newRelayWith(t, s), a: newPeer(t, "AAAA", codec), b: newPeer(t, "BBBB", codec), recA: &recorder{}, recB: &recorder{}}
	if err := c.a.Dial(ctx, c.r, "a", c.recA.events()); err != nil {
		t.Fatal(err)
	}
	if err := c.b.Accept(ctx, c.r, "b", media.OfferOptions{MatchLeg: "a"}, c.recB.events()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*mediatest.TestPeer{c.a, c.b} {
		if err := p.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		p.Start()
	}
	if err := c.r.Connect("a", "b"); err != nil {
		t.Fatal(err)
	}
	return c
}

// flowing tells whether p's count of packets from marker rises within
// 300 ms, after 150 ms for what was in flight.
func flowing(p *mediatest.TestPeer, marker string) bool {
	time.Sleep(150 * time.Millisecond)
	before := p.ReceivedFrom(marker)
	time.Sleep(300 * time.Millisecond)
	return p.ReceivedFrom(marker) > before
}
