package media_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

func TestConnectForwardsBothWays(t *testing.T) {
	c := newCall(t, "opus")
	eventually(t, "B hears A", func() bool { return c.b.ReceivedFrom("AAAA") >= 20 })
	eventually(t, "A hears B", func() bool { return c.a.ReceivedFrom("BBBB") >= 20 })
	if n := c.a.ReceivedFrom("AAAA"); n != 0 {
		t.Errorf("A heard itself %d times", n)
	}
	if n := c.b.ReceivedFrom("BBBB"); n != 0 {
		t.Errorf("B heard itself %d times", n)
	}
	sa, err := c.r.LegStats("a")
	if err != nil {
		t.Fatal(err)
	}
	if sa.Codec != "audio/opus/48000" || sa.Peer != "b" || sa.State != media.LegConnected || sa.PacketsIn == 0 || sa.PacketsOut == 0 {
		t.Errorf("leg a: %+v", sa)
	}
	st := c.r.Stats()
	if st.Legs != 2 || st.PacketsIn == 0 || st.PacketsOut == 0 {
		t.Errorf("stats: %+v", st)
	}
	_, states, cands, done := c.recA.get()
	if len(states) != 2 || states[0] != media.LegConnecting || states[1] != media.LegConnected || cands == 0 || !done {
		t.Errorf("leg a events: states %v, %d candidates, gathering done %v", states, cands, done)
	}
}

func TestPCMUCall(t *testing.T) {
	c := newCall(t, "pcmu")
	eventually(t, "B hears A", func() bool { return c.b.ReceivedFrom("AAAA") >= 10 })
	eventually(t, "A hears B", func() bool { return c.a.ReceivedFrom("BBBB") >= 10 })
	for _, leg := range []string{"a", "b"} {
		s, _ := c.r.LegStats(leg)
		if s.Codec != "audio/pcmu/8000" {
			t.Errorf("leg %s codec %q, want audio/pcmu/8000", leg, s.Codec)
		}
	}
}

func TestMuteHoldResume(t *testing.T) {
	c := newCall(t, "opus")
	eventually(t, "audio both ways", func() bool { return c.b.ReceivedFrom("AAAA") > 5 && c.a.ReceivedFrom("BBBB") > 5 })

	if err := c.r.SetMuted("a", true); err != nil {
		t.Fatal(err)
	}
	if flowing(c.b, "AAAA") {
		t.Error("muted A still heard by B")
	}
	if !flowing(c.a, "BBBB") {
		t.Error("A no longer hears B while muted")
	}
	if s, _ := c.r.LegStats("a"); !s.Muted || s.PacketsDropped == 0 {
		t.Errorf("muted leg stats %+v", s)
	}
	if err := c.r.SetMuted("a", false); err != nil {
		t.Fatal(err)
	}
	if !flowing(c.b, "AAAA") {
		t.Error("unmuted A not heard")
	}

	if err := c.r.SetHeld("a", true); err != nil {
		t.Fatal(err)
	}
	if flowing(c.b, "AAAA") || flowing(c.a, "BBBB") {
		t.Error("audio flows while A is held")
	}
	if err := c.r.SetHeld("a", false); err != nil {
		t.Fatal(err)
	}
	if !flowing(c.b, "AAAA") || !flowing(c.a, "BBBB") {
		t.Error("audio does not flow again after resume")
	}
	if r := c.b.Received(); r.SSRCs != 1 || r.Backwards != 0 {
		t.Errorf("B's stream after mute and hold: %+v", r)
	}
}

func TestEcho(t *testing.T) {
	c := newCall(t, "opus")
	if err := c.r.Echo("a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A hears itself", func() bool { return c.a.ReceivedFrom("AAAA") >= 10 })
	if flowing(c.b, "AAAA") {
		t.Error("B still hears A during A's echo")
	}
	if s, _ := c.r.LegStats("a"); s.Peer != "a" {
		t.Errorf("echo leg peer %q", s.Peer)
	}
	if s, _ := c.r.LegStats("b"); s.Peer != "" {
		t.Errorf("B's peer %q after A's echo", s.Peer)
	}
}

func TestDTMFFromPeer(t *testing.T) {
	forward := loopback
	forward.ForwardDTMF = true
	c := newCallWith(t, "opus", forward)
	eventually(t, "audio", func() bool { return c.b.ReceivedFrom("AAAA") > 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.a.SendDTMF(ctx, "159#", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "digits reported", func() bool { d, _, _, _ := c.recA.get(); return len(d) >= 4 })
	time.Sleep(100 * time.Millisecond)
	if d, _, _, _ := c.recA.get(); d != "159#" {
		t.Errorf("LegEvents.DTMF got %q, want 159#", d)
	}
	// Forwarded to B as telephone-events, payload type mapped.
	eventually(t, "B gets the digits", func() bool { return len(c.b.Received().DTMF) >= 4 })
	if d := c.b.Received().DTMF; d != "159#" {
		t.Errorf("B received %q, want 159#", d)
	}
	if s, _ := c.r.LegStats("a"); s.DTMFIn != 4 {
		t.Errorf("DTMFIn %d", s.DTMFIn)
	}
}

// By default a digit is reported, not forwarded: the engine's DTMF event
// plays it to the other leg (SendDTMF), once.
func TestDTMFReportedNotForwardedByDefault(t *testing.T) {
	c := newCall(t, "opus")
	eventually(t, "audio", func() bool { return c.b.ReceivedFrom("AAAA") > 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.a.SendDTMF(ctx, "42", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "digits reported", func() bool { d, _, _, _ := c.recA.get(); return len(d) >= 2 })
	time.Sleep(200 * time.Millisecond)
	if d := c.b.Received().DTMF; d != "" {
		t.Errorf("B received %q: the relay forwarded the digits itself", d)
	}
	if !flowing(c.b, "AAAA") {
		t.Error("audio from A stopped after the digits")
	}
}

func TestMutedDTMFReportedNotForwarded(t *testing.T) {
	c := newCall(t, "opus")
	eventually(t, "audio", func() bool { return c.b.ReceivedFrom("AAAA") > 5 })
	_ = c.r.SetMuted("a", true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.a.SendDTMF(ctx, "7", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "digit reported", func() bool { d, _, _, _ := c.recA.get(); return d == "7" })
	time.Sleep(200 * time.Millisecond)
	if d := c.b.Received().DTMF; d != "" {
		t.Errorf("muted leg's DTMF forwarded: %q", d)
	}
}

func TestSendDTMF(t *testing.T) {
	c := newCall(t, "opus")
	eventually(t, "audio", func() bool { return c.b.ReceivedFrom("AAAA") > 5 })
	if err := c.r.SendDTMF("b", "12#"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B gets 12#", func() bool { return len(c.b.Received().DTMF) >= 3 })
	if d := c.b.Received().DTMF; d != "12#" {
		t.Errorf("B received %q, want 12#", d)
	}
	if !flowing(c.b, "AAAA") {
		t.Error("audio to B does not resume after DTMF")
	}
	if r := c.b.Received(); r.SSRCs != 1 || r.Backwards != 0 || r.MaxJump > 3 {
		t.Errorf("B's stream around DTMF: %+v", r)
	}
	if err := c.r.SendDTMF("b", "1x"); !errors.Is(err, media.ErrBadDigit) {
		t.Errorf("bad digit: %v", err)
	}
}

func TestReconnectKeepsOneStream(t *testing.T) {
	c := newCall(t, "opus")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pc := newPeer(t, "CCCC", "opus")
	if err := pc.Dial(ctx, c.r, "c", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := pc.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	pc.Start()
	eventually(t, "B hears A", func() bool { return c.b.ReceivedFrom("AAAA") >= 10 })
	if err := c.r.Connect("b", "c"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B hears C", func() bool { return c.b.ReceivedFrom("CCCC") >= 10 })
	eventually(t, "C hears B", func() bool { return pc.ReceivedFrom("BBBB") >= 10 })
	if flowing(c.a, "BBBB") {
		t.Error("A still hears B after B moved to C")
	}
	r := c.b.Received()
	if r.SSRCs != 1 || r.Backwards != 0 || r.MaxJump > uint16(1+r.Lost) {
		t.Errorf("B's incoming stream is not one continuous stream: %+v", r)
	}
	if s, _ := c.r.LegStats("a"); s.Peer != "" {
		t.Errorf("A's peer %q after the move", s.Peer)
	}
}

func TestDisconnectAndCloseLeg(t *testing.T) {
	c := newCall(t, "opus")
	eventually(t, "audio", func() bool { return c.b.ReceivedFrom("AAAA") > 5 })
	if err := c.r.Disconnect("a"); err != nil {
		t.Fatal(err)
	}
	if flowing(c.b, "AAAA") || flowing(c.a, "BBBB") {
		t.Error("audio after Disconnect")
	}
	if err := c.r.CloseLeg("a"); err != nil {
		t.Fatal(err)
	}
	if c.r.HasLeg("a") {
		t.Error("leg a still there")
	}
	eventually(t, "closed reported", func() bool {
		_, st, _, _ := c.recA.get()
		return len(st) > 0 && st[len(st)-1] == media.LegClosed
	})
	if err := c.r.CloseLeg("a"); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("second CloseLeg: %v", err)
	}
}

func TestBadSDPChangesNothing(t *testing.T) {
	r := newRelay(t)
	ctx := context.Background()
	p := newPeer(t, "AAAA", "opus")
	good, err := p.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	videoOnly := strings.Replace(good, "m=audio", "m=video", 1)
	noCodec := strings.NewReplacer("opus/48000", "speex/16000", "PCMU/8000", "foo/8000", "PCMA/8000", "bar/8000").Replace(good)
	noCodec = strings.Replace(noCodec, "RTP/SAVPF 111 0 8", "RTP/SAVPF 111 96 97", 1)
	for name, sdp := range map[string]string{
		"empty":      "",
		"garbage":    "hello",
		"truncated":  good[:len(good)/3],
		"video only": videoOnly,
		"no codec":   noCodec,
	} {
		_, err := r.AnswerOffer(ctx, "x", sdp, media.LegEvents{})
		if !errors.Is(err, media.ErrBadSDP) {
			t.Errorf("%s: %v, want ErrBadSDP", name, err)
		}
		if r.HasLeg("x") || r.Stats().Legs != 0 {
			t.Errorf("%s: the relay changed", name)
		}
	}
	// A bad answer leaves the offered leg waiting for a good one.
	if _, err := r.CreateOffer(ctx, "y", media.OfferOptions{}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptAnswer("y", "v=0 nonsense"); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("bad answer: %v", err)
	}
	if !r.HasLeg("y") {
		t.Error("leg y gone after a bad answer")
	}
}

func TestErrors(t *testing.T) {
	r := newRelay(t)
	ctx := context.Background()
	for name, err := range map[string]error{
		"Connect":         r.Connect("nope", "nada"),
		"Disconnect":      r.Disconnect("nope"),
		"Echo":            r.Echo("nope"),
		"SetMuted":        r.SetMuted("nope", true),
		"SetHeld":         r.SetHeld("nope", true),
		"SendDTMF":        r.SendDTMF("nope", "1"),
		"CloseLeg":        r.CloseLeg("nope"),
		"AcceptAnswer":    r.AcceptAnswer("nope", "v=0"),
		"AddICECandidate": r.AddICECandidate("nope", media.ICECandidate{}),
	} {
		if !errors.Is(err, media.ErrNoLeg) {
			t.Errorf("%s: %v, want ErrNoLeg", name, err)
		}
	}
	if _, err := r.LegStats("nope"); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("LegStats: %v", err)
	}
	// A MatchLeg that never shows up: after a moment, an offer of every
	// codec.
	if _, err := r.CreateOffer(ctx, "o", media.OfferOptions{MatchLeg: "nope"}, media.LegEvents{}); err != nil {
		t.Fatalf("MatchLeg that is not there: %v", err)
	}
	if _, err := r.CreateOffer(ctx, "o", media.OfferOptions{}, media.LegEvents{}); !errors.Is(err, media.ErrLegExists) {
		t.Errorf("twice: %v", err)
	}
	// Candidates before the answer wait; bad ones are refused.
	mid := "0"
	if err := r.AddICECandidate("o", media.ICECandidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", SDPMid: &mid}); err != nil {
		t.Errorf("early candidate: %v", err)
	}
	if err := r.AddICECandidate("o", media.ICECandidate{Candidate: "candidate:garbage"}); !errors.Is(err, media.ErrBadCandidate) {
		t.Errorf("bad candidate: %v", err)
	}
	if err := r.SendDTMF("o", "1"); !errors.Is(err, media.ErrNoCodec) {
		t.Errorf("DTMF before negotiation: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("o", "o"); !errors.Is(err, media.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := r.AnswerOffer(ctx, "z", "v=0", media.LegEvents{}); !errors.Is(err, media.ErrBadSDP) && !errors.Is(err, media.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestNoGoroutinesLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := media.NewRelay(loopback)
		if err != nil {
			t.Fatal(err)
		}
		var peers []*mediatest.TestPeer
		for i, leg := range []string{"a", "b", "c"} {
			p, err := mediatest.NewTestPeer(ctx, mediatest.Settings{Media: loopback, Marker: leg})
			if err != nil {
				t.Fatal(err)
			}
			peers = append(peers, p)
			if i == 0 {
				err = p.Dial(ctx, r, leg, media.LegEvents{})
			} else {
				err = p.Accept(ctx, r, leg, media.OfferOptions{MatchLeg: "a"}, media.LegEvents{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := p.WaitConnected(ctx); err != nil {
				t.Fatal(err)
			}
			p.Start()
		}
		_ = r.Connect("a", "b")
		_ = r.Echo("c")
		_ = r.SendDTMF("c", "123")
		eventually(t, "audio", func() bool { return peers[1].ReceivedFrom("a") > 5 })
		_ = r.CloseLeg("b")
		_ = r.Close()
		for _, p := range peers {
			_ = p.Close()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An echo leg stands for a party that plays back what it hears: connected
// to A, A hears itself; holding it stops that; it has no peer connection,
// so what needs one is refused, and it closes like any leg.
func TestEchoLeg(t *testing.T) {
	c := newCall(t, "opus")
	if err := c.r.AddEchoLeg("echo"); err != nil {
		t.Fatal(err)
	}
	if err := c.r.AddEchoLeg("echo"); !errors.Is(err, media.ErrLegExists) {
		t.Fatalf("second AddEchoLeg: %v", err)
	}
	if err := c.r.Connect("a", "echo"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A hears itself", func() bool { return c.a.ReceivedFrom("AAAA") >= 10 })
	if flowing(c.b, "AAAA") {
		t.Error("B still hears A")
	}
	if err := c.r.SetHeld("echo", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if flowing(c.a, "AAAA") {
		t.Error("A still hears itself with the echo held")
	}
	if err := c.r.SetHeld("echo", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "echo again", func() bool { return flowing(c.a, "AAAA") })
	if err := c.r.AcceptAnswer("echo", "v=0"); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("AcceptAnswer on an echo leg: %v", err)
	}
	if err := c.r.AddICECandidate("echo", media.ICECandidate{}); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("AddICECandidate on an echo leg: %v", err)
	}
	if err := c.r.SendDTMF("echo", "1"); err != nil {
		t.Errorf("SendDTMF to an echo leg: %v", err)
	}
	if err := c.r.CloseLeg("echo"); err != nil {
		t.Fatal(err)
	}
	if c.r.HasLeg("echo") {
		t.Error("echo leg still there")
	}
}
