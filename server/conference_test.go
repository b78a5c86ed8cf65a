package server

import (
	"context"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/ws"
	"github.com/callengine/callengine/adapters/ws/wsclient"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// A merged call end to end: alice calls bob, puts him on hold, calls
// carol, puts her on hold and merges the two calls. The relay then gives
// each of the three Go WebRTC peers the two others' audio, each on a track
// of its own (a renegotiation: sdp.offer, sdp.answer). When bob hangs up,
// alice and carol go on hearing each other. In between, carol re-offers
// (a page reload) and is back in the conference.

func startConference(t *testing.T) *running {
	t.Helper()
	s := &Server{}
	for i, id := range []string{"alice", "bob", "carol"} {
		s.Config.Clients = append(s.Config.Clients, Client{ID: id, Password: id + "-password", Extensions: []string{"20" + string(rune('1'+i))}})
	}
	return start(t, s, t.TempDir())
}

func confLogin(t *testing.T, ctx context.Context, r *running, client string) *wsclient.Client {
	t.Helper()
	c, err := wsclient.Dial(ctx, "ws://"+r.s.Addr()+"/ws", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Login(ctx, client, client+"-password", ""); err != nil {
		t.Fatalf("%s login: %v", client, err)
	}
	return c
}

func confPeer(t *testing.T, ctx context.Context, marker string) *mediatest.TestPeer {
	t.Helper()
	p, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: media.Settings{LoopbackOnly: true}, Marker: marker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// confHears polls until p hears more of marker (within 300 ms) for up to
// 10 s.
func confHears(t *testing.T, who string, p *mediatest.TestPeer, marker string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := p.ReceivedFrom(marker)
		time.Sleep(300 * time.Millisecond)
		if p.ReceivedFrom(marker) > before+3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hear %s", who, marker)
		}
	}
}

// confSilent reports whether p hears nothing more of marker in 300 ms
// (after 150 ms for what is in flight).
func confSilent(p *mediatest.TestPeer, marker string) bool {
	time.Sleep(150 * time.Millisecond)
	before := p.ReceivedFrom(marker)
	time.Sleep(300 * time.Millisecond)
	return p.ReceivedFrom(marker) == before
}

// confExpect reads c's events until each of want has matched one, in any
// order; it returns the matches in the order of want.
func confExpect(t *testing.T, ctx context.Context, who string, c *wsclient.Client, want ...func(ws.Message) bool) []ws.Message {
	t.Helper()
	got := make([]ws.Message, len(want))
	done := make([]bool, len(want))
	for left := len(want); left > 0; {
		m, err := c.Next(ctx, func(ws.Message) bool { return true })
		if err != nil {
			t.Fatalf("%s: %d events missing: %v", who, left, err)
		}
		for i, w := range want {
			if !done[i] && w(m) {
				got[i], done[i] = m, true
				left--
				break
			}
		}
	}
	return got
}

// confRenegotiate answers the server's sdp.offer for call with p, on p's
// peer connection that is up.
func confRenegotiate(t *testing.T, ctx context.Context, who string, c *wsclient.Client, p *mediatest.TestPeer, call string, off ws.Message) {
	t.Helper()
	answer, err := p.Answer(ctx, off.SDP)
	if err != nil {
		t.Fatalf("%s: answer: %v", who, err)
	}
	if _, err := c.Do(ctx, map[string]any{"type": "sdp.answer", "call_id": call, "sdp": answer}); err != nil {
		t.Fatalf("%s: sdp.answer: %v", who, err)
	}
}

// confCall places a call from caller to an extension and has callee answer
// it; both peers connected and sending.
func confCall(t *testing.T, ctx context.Context, caller *wsclient.Client, cp *mediatest.TestPeer, to string, callee *wsclient.Client, ep *mediatest.TestPeer) string {
	t.Helper()
	call, err := caller.Call(ctx, to, cp)
	if err != nil {
		t.Fatal(err)
	}
	in, err := callee.Next(ctx, wsclient.Is("call.incoming", call))
	if err != nil {
		t.Fatal(err)
	}
	if err := callee.Answer(ctx, in, ep); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.Next(ctx, wsclient.Is("call.answered", call)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*mediatest.TestPeer{cp, ep} {
		if err := p.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		p.Start()
	}
	return call
}

func TestConferenceOfThreeBrowsers(t *testing.T) {
	r := startConference(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice, bob, carol := confLogin(t, ctx, r, "alice"), confLogin(t, ctx, r, "bob"), confLogin(t, ctx, r, "carol")
	// alice has a peer connection per call, as a browser would; both send
	// her voice.
	aliceA, aliceB := confPeer(t, ctx, "ALICE"), confPeer(t, ctx, "ALICE")
	bobP, carolP := confPeer(t, ctx, "BOB"), confPeer(t, ctx, "CAROL")

	callA := confCall(t, ctx, alice, aliceA, "202", bob, bobP)
	confHears(t, "bob", bobP, "ALICE")
	if _, err := alice.Command(ctx, "call.hold", callA, nil); err != nil {
		t.Fatal(err)
	}
	callB := confCall(t, ctx, alice, aliceB, "203", carol, carolP)
	confHears(t, "carol", carolP, "ALICE")
	if !confSilent(bobP, "ALICE") {
		t.Error("bob hears alice while his call is held")
	}
	if _, err := alice.Command(ctx, "call.hold", callB, nil); err != nil {
		t.Fatal(err)
	}
	m, err := alice.Command(ctx, "call.merge", callA, map[string]any{"other_call_id": callB})
	if err != nil {
		t.Fatal(err)
	}
	if m.ConferenceID == "" {
		t.Fatalf("call.merge ack %+v", m)
	}
	// Each party's leg gets a track more: one sdp.offer each, answered on
	// the peer connection it has. alice speaks and hears on her older call.
	merged, offer := wsclient.Is("call.merged", callA), wsclient.Is("sdp.offer", callA)
	got := confExpect(t, ctx, "alice", alice, merged, wsclient.Is("call.merged", callB), offer)
	confRenegotiate(t, ctx, "alice", alice, aliceA, callA, got[2])
	got = confExpect(t, ctx, "bob", bob, merged, offer)
	confRenegotiate(t, ctx, "bob", bob, bobP, callA, got[1])
	got = confExpect(t, ctx, "carol", carol, wsclient.Is("call.merged", callB), wsclient.Is("sdp.offer", callB))
	confRenegotiate(t, ctx, "carol", carol, carolP, callB, got[1])

	confHears(t, "alice", aliceA, "BOB")
	confHears(t, "alice", aliceA, "CAROL")
	confHears(t, "bob", bobP, "ALICE")
	confHears(t, "bob", bobP, "CAROL")
	confHears(t, "carol", carolP, "ALICE")
	confHears(t, "carol", carolP, "BOB")
	for _, x := range []struct {
		who    string
		p      *mediatest.TestPeer
		marker string
	}{{"alice", aliceA, "ALICE"}, {"bob", bobP, "BOB"}, {"carol", carolP, "CAROL"}} {
		if n := x.p.ReceivedFrom(x.marker); n != 0 {
			t.Errorf("%s heard itself %d times", x.who, n)
		}
		if rc := x.p.Received(); rc.Tracks != 2 {
			t.Errorf("%s reads %d tracks, want 2", x.who, rc.Tracks)
		}
	}

	// Mute is per party: a muted carol is heard by neither alice nor bob.
	if _, err := carol.Command(ctx, "call.mute", callB, nil); err != nil {
		t.Fatal(err)
	}
	if !confSilent(aliceA, "CAROL") || !confSilent(bobP, "CAROL") {
		t.Error("a muted carol is heard")
	}
	confHears(t, "carol (muted)", carolP, "BOB")
	if _, err := carol.Command(ctx, "call.unmute", callB, nil); err != nil {
		t.Fatal(err)
	}
	confHears(t, "bob", bobP, "CAROL")

	// carol's page reloads: a new peer connection re-offers (call.reoffer);
	// its leg joins the conference and gets its second track at once.
	carolP.Stop()
	carol2 := confPeer(t, ctx, "CAROL2")
	if err := carol.Reoffer(ctx, callB, carol2); err != nil {
		t.Fatal(err)
	}
	got = confExpect(t, ctx, "carol", carol, wsclient.Is("sdp.offer", callB))
	confRenegotiate(t, ctx, "carol", carol, carol2, callB, got[0])
	if err := carol2.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	carol2.Start()
	confHears(t, "carol again", carol2, "ALICE")
	confHears(t, "carol again", carol2, "BOB")
	confHears(t, "alice", aliceA, "CAROL2")
	confHears(t, "bob", bobP, "CAROL2")
	carolP = carol2

	// bob hangs up: alice and carol are one call again, and hear each
	// other (alice now on her peer connection of that call).
	if _, err := bob.Command(ctx, "call.hangup", callA, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Next(ctx, wsclient.Is("call.ended", callA)); err != nil {
		t.Fatal(err)
	}
	confHears(t, "carol", carolP, "ALICE")
	confHears(t, "alice", aliceB, "CAROL2")
	if !confSilent(carolP, "BOB") {
		t.Error("carol still hears bob after he hung up")
	}
}
