package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/sip/siptest"
	"github.com/callengine/callengine/adapters/ws/wsclient"
	"github.com/callengine/callengine/media/mediatest"
)

// A browser merges its calls with two SIP phones (T4 with phones): the
// phones' RTP legs take one stream each, so each phone hears the mix of
// the browser and the other phone; the browser gets a track per phone
// (one renegotiation). When one phone hangs up, the other two go on as a
// plain call.
func TestConferenceBrowserAndTwoSIPPhones(t *testing.T) {
	s := &Server{}
	s.Config.Clients = []Client{
		{ID: "alice", Password: "alice-password", Extensions: []string{"201"}},
		{ID: "carol", Password: "carol-password", Extensions: []string{"203"}},
		{ID: "dave", Password: "dave-password", Extensions: []string{"204"}},
	}
	addr := "127.0.0.1:" + strconv.Itoa(freeUDP(t))
	s.Config.SIP = SIP{UDP: addr}
	r := start(t, s, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	alice := confLogin(t, ctx, r, "alice")
	aliceA, aliceB := confPeer(t, ctx, "AAAA"), confPeer(t, ctx, "AAAA")
	carol, dave := newSIPPhone(t, ctx, addr, "carol", "CCCC"), newSIPPhone(t, ctx, addr, "dave", "DDDD")
	dial := func(to string, peer *mediatest.TestPeer) string {
		t.Helper()
		call, err := alice.Call(ctx, to, peer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.Next(ctx, wsclient.Is("call.answered", call)); err != nil {
			t.Fatal(err)
		}
		if err := peer.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		return call
	}
	callC := dial("203", aliceA)
	aliceA.Start()
	carol.RTP().Start()
	eventually(t, "carol hears alice", func() bool { return rtpFlows(carol.RTP(), "AAAA") })
	if _, err := alice.Command(ctx, "call.hold", callC, nil); err != nil {
		t.Fatal(err)
	}
	callD := dial("204", aliceB)
	aliceB.Start()
	dave.RTP().Start()
	eventually(t, "dave hears alice", func() bool { return rtpFlows(dave.RTP(), "AAAA") })
	if _, err := alice.Command(ctx, "call.hold", callD, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Command(ctx, "call.merge", callC, map[string]any{"other_call_id": callD}); err != nil {
		t.Fatal(err)
	}
	// alice's leg on the older call needs a second track: one sdp.offer.
	got := confExpect(t, ctx, "alice", alice, wsclient.Is("call.merged", callC), wsclient.Is("sdp.offer", callC))
	confRenegotiate(t, ctx, "alice", alice, aliceA, callC, got[1])

	a, c, d := mediatest.MarkerLevel("AAAA"), mediatest.MarkerLevel("CCCC"), mediatest.MarkerLevel("DDDD")
	mixHears(t, "carol", carol, a+d)
	mixHears(t, "dave", dave, a+c)
	confHears(t, "alice", aliceA, "CCCC")
	confHears(t, "alice", aliceA, "DDDD")
	if rc := aliceA.Received(); rc.Tracks != 2 {
		t.Errorf("alice reads %d tracks, want 2", rc.Tracks)
	}
	for _, p := range []*siptest.Phone{carol, dave} {
		if rc := p.RTP().Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
			t.Errorf("%s's stream: %+v", p.User(), rc)
		}
	}

	// dave hangs up: alice and carol are a call of two again.
	if _, err := alice.Command(ctx, "call.hangup", callD, nil); err != nil {
		t.Fatal(err)
	}
	mixHears(t, "carol, dave gone", carol, a)
	confHears(t, "alice, dave gone", aliceA, "CCCC")
}

// mixHears waits until the phone hears the level want, give or take the
// G.711 steps of a sum encoded again.
func mixHears(t *testing.T, who string, p *siptest.Phone, want int) {
	t.Helper()
	lim := max(want, -want)/16 + 40
	deadline := time.Now().Add(10 * time.Second)
	for {
		if d := p.RTP().Heard() - want; d >= -lim && d <= lim {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s hears %d, want %d", who, p.RTP().Heard(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A browser (PCMU) calls a phone that speaks A-law alone: the relay offers
// the phone PCMU first and PCMA after it, the phone answers PCMA, and the
// relay re-encodes every packet both ways.
func TestBrowserCallsPCMAPhone(t *testing.T) {
	r, addr := startSIPEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "AAAA")
	carol := newSIPPhone(t, ctx, addr, "carol", "CAROL")
	carol.RTP().UsePCMAOnly()
	carol.RTP().SetLevel(-1200)

	call, err := alice.c.Call(ctx, "203", alice.peer)
	if err != nil {
		t.Fatal(err)
	}
	if offer := invitedWith(t, ctx, carol); !strings.Contains(offer, "RTP/AVP 0 8 101") {
		t.Errorf("the phone's offer:\n%s", offer)
	}
	if _, err := alice.c.Next(ctx, wsclient.Is("call.answered", call)); err != nil {
		t.Fatal(err)
	}
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	carol.RTP().Start()
	mixHears(t, "carol", carol, mediatest.MarkerLevel("AAAA"))
	eventually(t, "alice hears carol", func() bool { d := alice.peer.Heard() + 1200; return d > -120 && d < 120 })
	if _, err := alice.c.Command(ctx, "call.hangup", call, nil); err != nil {
		t.Fatal(err)
	}
}
