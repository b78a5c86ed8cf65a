package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/adapters/ws"
	"github.com/callengine/callengine/adapters/ws/wsclient"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// The edge end to end, with real parts: a served engine, the WebSocket
// protocol over a real socket, Go WebRTC peers whose audio the relay
// carries. A call rings, is answered, carries audio both ways; hold stops
// it and resume restarts it; mute stops one direction; digits pressed on
// one side become the engine's DTMF event and are played to the other.

type phone struct {
	c    *wsclient.Client
	peer *mediatest.TestPeer
}

func connectPhone(t *testing.T, ctx context.Context, r *running, client, marker string) *phone {
	t.Helper()
	c, err := wsclient.Dial(ctx, "ws://"+r.s.Addr()+"/ws", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Login(ctx, client, client+"-password", ""); err != nil {
		t.Fatalf("%s login: %v", client, err)
	}
	p, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: media.Settings{LoopbackOnly: true}, Marker: marker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &phone{c: c, peer: p}
}

// browserCall: from calls ext, to answers; both peers connected and
// sending. It returns the call and the call.incoming to got.
func browserCall(t *testing.T, ctx context.Context, from, to *phone, ext string) (string, ws.Message) {
	t.Helper()
	call, err := from.c.Call(ctx, ext, from.peer)
	if err != nil {
		t.Fatal(err)
	}
	in, err := to.c.Next(ctx, wsclient.Is("call.incoming", call))
	if err != nil {
		t.Fatal(err)
	}
	if err := to.c.Answer(ctx, in, to.peer); err != nil {
		t.Fatal(err)
	}
	if _, err := from.c.Next(ctx, wsclient.Is("call.answered", call)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*phone{from, to} {
		if err := p.peer.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		p.peer.Start()
	}
	return call, in
}

func startEdge(t *testing.T) *running {
	t.Helper()
	s := &Server{}
	for _, id := range []string{"alice", "bob"} {
		s.Config.Clients = append(s.Config.Clients, Client{ID: id, Password: id + "-password"})
	}
	s.Config.Clients[0].Extensions = []string{"201"}
	s.Config.Clients[1].Extensions = []string{"202"}
	return start(t, s, t.TempDir())
}

// eventually polls cond every 20 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not after 10 s", what)
}

// flowing reports whether p hears more of marker within 300 ms.
func flowing(p *mediatest.TestPeer, marker string) bool {
	before := p.ReceivedFrom(marker)
	time.Sleep(300 * time.Millisecond)
	return p.ReceivedFrom(marker) > before+3
}

func TestEdgeCallCarriesAudio(t *testing.T) {
	r := startEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "ALICE")
	bob := connectPhone(t, ctx, r, "bob", "BOB")

	call, in := browserCall(t, ctx, alice, bob, "202")
	if in.From == "" || in.SDP == "" {
		t.Fatalf("call.incoming %+v", in)
	}
	eventually(t, "bob hears alice", func() bool { return bob.peer.ReceivedFrom("ALICE") > 10 })
	eventually(t, "alice hears bob", func() bool { return alice.peer.ReceivedFrom("BOB") > 10 })

	// Hold stops the audio both ways; resume brings it back.
	if _, err := alice.c.Command(ctx, "call.hold", call, nil); err != nil {
		t.Fatal(err)
	}
	if held, err := bob.c.Next(ctx, wsclient.Is("call.held", call)); err != nil || held.HeldBy != "remote" {
		t.Fatalf("bob's call.held %+v, %v", held, err)
	}
	time.Sleep(100 * time.Millisecond)
	if flowing(bob.peer, "ALICE") || flowing(alice.peer, "BOB") {
		t.Error("audio flows on hold")
	}
	if _, err := alice.c.Command(ctx, "call.resume", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after resume", func() bool { return flowing(bob.peer, "ALICE") && flowing(alice.peer, "BOB") })

	// Mute: what alice sends no longer reaches bob; bob still reaches her.
	if _, err := alice.c.Command(ctx, "call.mute", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if flowing(bob.peer, "ALICE") {
		t.Error("bob hears a muted alice")
	}
	if !flowing(alice.peer, "BOB") {
		t.Error("a muted alice no longer hears bob")
	}
	if _, err := alice.c.Command(ctx, "call.unmute", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after unmute", func() bool { return flowing(bob.peer, "ALICE") })

	// Digits alice presses (RFC 4733) are the engine's DTMF event, and
	// bob's phone hears them played, once each.
	if err := alice.peer.SendDTMF(ctx, "159", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for got.Len() < 3 {
		m, err := bob.c.Next(ctx, wsclient.Is("call.dtmf", call))
		if err != nil {
			t.Fatalf("bob's call.dtmf: %v (so far %q)", err, got.String())
		}
		got.WriteString(m.Digits)
	}
	if got.String() != "159" {
		t.Errorf("bob's call.dtmf events %q, want 159", got.String())
	}
	eventually(t, "bob's phone plays the digits", func() bool { return len(bob.peer.Received().DTMF) >= 3 })
	if d := bob.peer.Received().DTMF; d != "159" {
		t.Errorf("bob's phone heard %q, want 159", d)
	}

	if _, err := bob.c.Command(ctx, "call.hangup", call, nil); err != nil {
		t.Fatal(err)
	}
	if end, err := alice.c.Next(ctx, wsclient.Is("call.ended", call)); err != nil || end.Reason != "hangup" {
		t.Fatalf("alice's call.ended %+v, %v", end, err)
	}
	eventually(t, "the relay closed the legs", func() bool { return !flowing(alice.peer, "BOB") })
}

// The echo test: a call to extension 600 is answered at once and the
// caller hears what it sends.
func TestEdgeEchoTest(t *testing.T) {
	r := startEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "ALICE")
	call, err := alice.c.Call(ctx, "600", alice.peer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.c.Next(ctx, wsclient.Is("call.answered", call)); err != nil {
		t.Fatal(err)
	}
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	eventually(t, "alice hears herself", func() bool { return alice.peer.ReceivedFrom("ALICE") > 10 })
	if _, err := alice.c.Command(ctx, "call.hangup", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the echo leg closed", func() bool { return !flowing(alice.peer, "ALICE") })
}
