package media_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// phoneLeg is an RTP peer on leg name of r, answered by the relay (the
// phone offered), sending from now on. pcmaOnly offers PCMA alone.
func phoneLeg(t *testing.T, r *media.Relay, name, marker string, pcmaOnly bool) *mediatest.RTPPeer {
	t.Helper()
	p := newRTPPeer(t, marker)
	offer := p.Offer()
	if pcmaOnly {
		offer = strings.Replace(offer, "RTP/AVP 0 8 101", "RTP/AVP 8 101", 1)
	}
	a, err := r.AnswerRTP(context.Background(), name, offer, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAnswer(a); err != nil {
		t.Fatal(err)
	}
	p.Start()
	return p
}

// hears waits until p hears the level want (give or take the G.711 steps
// of a sum encoded once more).
func hears(t *testing.T, what string, p *mediatest.RTPPeer, want int) {
	t.Helper()
	lim := max(want, -want)/16 + 40
	near := func() bool {
		d := p.Heard() - want
		return d >= -lim && d <= lim
	}
	deadline := time.Now().Add(5 * time.Second)
	for !near() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: hears %d, want %d", what, p.Heard(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Three phones in a conference: an RTP leg takes one stream, so each
// hears the sum of the two others — one of them on PCMA, the others on
// PCMU. Mute and hold per member; down to two, a plain pairing again.
func TestConferenceMixesPhones(t *testing.T) {
	r := newRelay(t)
	one := phoneLeg(t, r, "1", "ONE", false)
	two := phoneLeg(t, r, "2", "TWO", true)
	three := phoneLeg(t, r, "3", "THREE", false)
	one.SetLevel(1000)
	two.SetLevel(2000)
	three.SetLevel(4000)
	if s, _ := r.LegStats("2"); s.Codec != "audio/pcma/8000" {
		t.Fatalf("leg 2 codec %q", s.Codec)
	}
	if err := r.Join("room", "1", "2", "3"); err != nil {
		t.Fatal(err)
	}
	hears(t, "one", one, 6000)
	hears(t, "two", two, 5000)
	hears(t, "three", three, 3000)
	for i, p := range []*mediatest.RTPPeer{one, two, three} {
		if rc := p.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
			t.Errorf("phone %d's stream: %+v", i+1, rc)
		}
	}

	_ = r.SetMuted("2", true) // heard by no one, still hears
	hears(t, "one, two muted", one, 4000)
	hears(t, "three, two muted", three, 1000)
	hears(t, "two, muted", two, 5000)
	_ = r.SetMuted("2", false)
	_ = r.SetHeld("3", true) // hears no one, heard by no one
	hears(t, "one, three held", one, 2000)
	hears(t, "two, three held", two, 1000)
	before := three.Received().Audio
	time.Sleep(300 * time.Millisecond)
	if n := three.Received().Audio - before; n > 2 {
		t.Errorf("a held member heard %d packets", n)
	}
	_ = r.SetHeld("3", false)
	hears(t, "three, resumed", three, 3000)

	// Three leaves: one and two are a pairing, each hears the other as sent.
	if err := r.Leave("3"); err != nil {
		t.Fatal(err)
	}
	hears(t, "one, paired", one, 2000)
	hears(t, "two, paired", two, 1000)
	if s, _ := r.LegStats("1"); s.Peer != "2" {
		t.Errorf("leg 1 after the third left: %+v", s)
	}
	for i, p := range []*mediatest.RTPPeer{one, two} {
		if rc := p.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
			t.Errorf("phone %d's stream from mix to pairing: %+v", i+1, rc)
		}
	}
}

// A browser (WebRTC, PCMU) and two phones: the browser gets a track per
// phone, each phone hears the browser and the other phone mixed.
func TestConferenceBrowserAndPhones(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	one := phoneLeg(t, r, "1", "1111", false)
	two := phoneLeg(t, r, "2", "2222", false)
	one.SetLevel(-3000)
	browser := newPeer(t, "BBBB", "pcmu")
	if err := browser.Accept(ctx, r, "b", media.OfferOptions{MatchLeg: "1"}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	browser.Start()
	if err := r.Join("room", "b", "1", "2"); err != nil {
		t.Fatal(err)
	}
	b, p2 := mediatest.MarkerLevel("BBBB"), mediatest.MarkerLevel("2222")
	hears(t, "phone one", one, b+p2)
	hears(t, "phone two", two, b-3000)
	eventually(t, "the browser hears phone two", func() bool { return flowing(browser, "2222") })
	eventually(t, "the browser hears phone one", func() bool { return browser.Received().Audio > 100 })
	if s, _ := r.LegStats("b"); s.Tracks != 2 {
		t.Errorf("the browser's leg: %+v", s)
	}
	if s, _ := r.LegStats("1"); s.Tracks != 1 || s.Conference != "room" {
		t.Errorf("phone one's leg: %+v", s)
	}
}

// A PCMU phone paired with a PCMA phone: each packet is re-encoded.
func TestRTPTranscodesG711(t *testing.T) {
	r := newRelay(t)
	u := phoneLeg(t, r, "u", "UUUU", false)
	a := phoneLeg(t, r, "a", "AAAA", true)
	u.SetLevel(1500)
	a.SetLevel(-700)
	if err := r.Connect("u", "a"); err != nil {
		t.Fatal(err)
	}
	for leg, want := range map[string]string{"u": "audio/pcmu/8000", "a": "audio/pcma/8000"} {
		if s, _ := r.LegStats(leg); s.Codec != want {
			t.Errorf("leg %s: codec %q", leg, s.Codec)
		}
	}
	hears(t, "the PCMU phone", u, -700)
	hears(t, "the PCMA phone", a, 1500)
}
