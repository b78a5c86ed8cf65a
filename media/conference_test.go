package media_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// conf3 is three peers on a relay, each on its own leg, all sending: a
// dialled in, b was offered its leg, c dialled in.
type conf3 struct {
	r       *media.Relay
	a, b, c *mediatest.TestPeer
}

func newConf3(t *testing.T) *conf3 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := &conf3{r: newRelay(t), a: newPeer(t, "AAAA", "opus"), b: newPeer(t, "BBBB", "opus"), c: newPeer(t, "CCCC", "opus")}
	if err := k.a.Dial(ctx, k.r, "a", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := k.b.Accept(ctx, k.r, "b", media.OfferOptions{MatchLeg: "a"}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := k.c.Dial(ctx, k.r, "c", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*mediatest.TestPeer{k.a, k.b, k.c} {
		if err := p.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		p.Start()
	}
	return k
}

// hearsOthers waits until each peer hears the two others, and checks that
// none hears itself.
func (k *conf3) hearsOthers(t *testing.T) {
	t.Helper()
	for _, x := range []struct {
		name string
		p    *mediatest.TestPeer
		self string
		hear []string
	}{
		{"a", k.a, "AAAA", []string{"BBBB", "CCCC"}},
		{"b", k.b, "BBBB", []string{"AAAA", "CCCC"}},
		{"c", k.c, "CCCC", []string{"AAAA", "BBBB"}},
	} {
		for _, m := range x.hear {
			eventually(t, x.name+" hears "+m, func() bool { return flowing(x.p, m) })
		}
		if n := x.p.ReceivedFrom(x.self); n != 0 {
			t.Errorf("%s heard itself %d times", x.name, n)
		}
	}
}

func TestConferenceOfThree(t *testing.T) {
	k := newConf3(t)
	if err := k.r.Connect("a", "b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a and b paired", func() bool { return flowing(k.b, "AAAA") && flowing(k.a, "BBBB") })

	if err := k.r.Join("room", "a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	k.hearsOthers(t)
	for _, p := range []*mediatest.TestPeer{k.a, k.b, k.c} {
		if err := p.RenegotiationErr(); err != nil {
			t.Fatal(err)
		}
		rc := p.Received()
		if rc.Tracks != 2 || rc.SSRCs != 2 || rc.Backwards != 0 {
			t.Errorf("received %+v: want 2 tracks, 2 SSRCs, nothing backwards", rc)
		}
	}
	if got := k.r.Conference("room"); len(got) != 3 {
		t.Errorf("members %v", got)
	}
	s, err := k.r.LegStats("b")
	if err != nil {
		t.Fatal(err)
	}
	if s.Conference != "room" || s.Tracks != 2 || s.Peer != "" {
		t.Errorf("leg b: %+v", s)
	}
	// Joining again changes nothing.
	if err := k.r.Join("room", "c", "a"); err != nil {
		t.Fatal(err)
	}

	// A muted member is heard by no one, and still hears both others.
	if err := k.r.SetMuted("b", true); err != nil {
		t.Fatal(err)
	}
	if flowing(k.a, "BBBB") || flowing(k.c, "BBBB") {
		t.Error("a muted b is heard")
	}
	eventually(t, "the others while b is muted", func() bool {
		return flowing(k.b, "AAAA") && flowing(k.b, "CCCC") && flowing(k.a, "CCCC")
	})
	if err := k.r.SetMuted("b", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b heard again", func() bool { return flowing(k.a, "BBBB") && flowing(k.c, "BBBB") })

	// A held member hears no one and is heard by no one.
	if err := k.r.SetHeld("c", true); err != nil {
		t.Fatal(err)
	}
	if flowing(k.c, "AAAA") || flowing(k.c, "BBBB") || flowing(k.a, "CCCC") || flowing(k.b, "CCCC") {
		t.Error("audio to or from a held c")
	}
	eventually(t, "a and b while c is held", func() bool { return flowing(k.a, "BBBB") && flowing(k.b, "AAAA") })
	if err := k.r.SetHeld("c", false); err != nil {
		t.Fatal(err)
	}
	k.hearsOthers(t)

	// c leaves: a and b are a pair again, c hears no one.
	if err := k.r.Leave("c"); err != nil {
		t.Fatal(err)
	}
	if flowing(k.c, "AAAA") || flowing(k.c, "BBBB") || flowing(k.a, "CCCC") || flowing(k.b, "CCCC") {
		t.Error("audio to or from c after it left")
	}
	eventually(t, "a and b hear each other after c left", func() bool { return flowing(k.a, "BBBB") && flowing(k.b, "AAAA") })
	if s, _ := k.r.LegStats("a"); s.Peer != "b" || s.Conference != "room" {
		t.Errorf("leg a after c left: %+v", s)
	}

	// c comes back: the tracks are there already, no renegotiation.
	if err := k.r.Join("room", "c"); err != nil {
		t.Fatal(err)
	}
	k.hearsOthers(t)
	for _, leg := range []string{"a", "b", "c"} {
		if s, _ := k.r.LegStats(leg); s.Tracks != 2 {
			t.Errorf("leg %s has %d tracks after a re-join", leg, s.Tracks)
		}
	}

	// A closed leg leaves the conference; Connect takes a leg out of it.
	if err := k.r.CloseLeg("a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b and c paired", func() bool { return flowing(k.b, "CCCC") && flowing(k.c, "BBBB") })
	if err := k.r.Connect("b", "b"); err != nil {
		t.Fatal(err)
	}
	if got := k.r.Conference("room"); len(got) != 1 || got[0] != "c" {
		t.Errorf("members after CloseLeg and Connect: %v", got)
	}
	eventually(t, "b hears itself", func() bool { return flowing(k.b, "BBBB") })
	if flowing(k.c, "BBBB") {
		t.Error("c still hears b")
	}
}

// A leg that Join reaches while its offer waits for the answer gets its
// tracks offered once that answer is in.
func TestConferenceJoinBeforeAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := &conf3{r: newRelay(t), a: newPeer(t, "AAAA", "opus"), b: newPeer(t, "BBBB", "opus"), c: newPeer(t, "CCCC", "opus")}
	if err := k.a.Dial(ctx, k.r, "a", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := k.c.Dial(ctx, k.r, "c", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	offers := make(chan string, 4)
	offer, err := k.r.CreateOffer(ctx, "b", media.OfferOptions{}, media.LegEvents{
		Candidate:   func(c media.ICECandidate) { _ = k.b.AddICECandidate(c) },
		Renegotiate: func(o string) { offers <- o },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.r.Join("room", "a", "b", "c"); err != nil {
		t.Fatal(err)
	}
	answer, err := k.b.Answer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.r.AcceptAnswer("b", answer); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-offers:
		a2, err := k.b.Answer(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.r.AcceptAnswer("b", a2); err != nil {
			t.Fatal(err)
		}
		// An answer with no offer pending is refused.
		if err := k.r.AcceptAnswer("b", a2); !errors.Is(err, media.ErrBadSDP) {
			t.Errorf("a second answer: %v, want ErrBadSDP", err)
		}
	case <-ctx.Done():
		t.Fatal("no renegotiation offer for b")
	}
	for _, p := range []*mediatest.TestPeer{k.a, k.b, k.c} {
		if err := p.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		p.Start()
	}
	k.hearsOthers(t)
}

func TestConferenceErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := newRelay(t)
	a, b, x := newPeer(t, "AAAA", "opus"), newPeer(t, "BBBB", "opus"), newPeer(t, "XXXX", "opus")
	if err := a.Dial(ctx, r, "a", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Dial(ctx, r, "b", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	offer, err := x.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.AnswerOffer(ctx, "x", offer, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := r.Join("room", "a", "b", "x"); !errors.Is(err, media.ErrNoRenegotiation) {
		t.Fatalf("join of a leg without Renegotiate: %v", err)
	}
	if got := r.Conference("room"); got != nil {
		t.Errorf("a refused join left members %v", got)
	}
	if s, _ := r.LegStats("a"); s.Peer != "b" {
		t.Errorf("a refused join changed a: %+v", s)
	}
	// Two legs need no renegotiation: a pair.
	if err := r.Join("pair", "a", "x"); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.LegStats("x"); s.Peer != "a" || s.Conference != "pair" {
		t.Errorf("leg x: %+v", s)
	}
	if err := r.Join("room", "a", "nope"); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("join of an unknown leg: %v", err)
	}
	if err := r.AddEchoLeg("echo"); err != nil {
		t.Fatal(err)
	}
	if err := r.Join("room", "echo"); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("join of an echo leg: %v", err)
	}
	if err := r.AcceptAnswer("a", offer); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("an answer with no offer pending: %v", err)
	}
}
