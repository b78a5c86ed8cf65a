package media_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// answerPhone makes RTP leg name for phone p (p offers, the relay answers)
// and starts p sending.
func answerPhone(t *testing.T, ctx context.Context, r *media.Relay, name string, p *mediatest.RTPPeer) string {
	t.Helper()
	a, err := r.AnswerRTP(ctx, name, p.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAnswer(a); err != nil {
		t.Fatal(err)
	}
	p.Start()
	return a
}

// A phone's leg renamed into another call (a transfer) keeps its port and
// its outgoing stream: it hears the new peer on the same SSRC, the
// sequence numbers going on.
func TestRTPRenameLegKeepsStream(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b, c := newRTPPeer(t, "A"), newRTPPeer(t, "B"), newRTPPeer(t, "C")
	answerPhone(t, ctx, r, "x/caller", a)
	answerPhone(t, ctx, r, "x/callee", b)
	answerPhone(t, ctx, r, "y/callee", c)
	port, err := r.RTPPort("x/caller")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("x/caller", "x/callee"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a hears b", func() bool { return a.ReceivedFrom("B") >= 10 })
	if err := r.RenameLeg("x/caller", "y/callee"); !errors.Is(err, media.ErrLegExists) {
		t.Fatalf("rename onto a leg: %v", err)
	}
	if err := r.RenameLeg("nope", "z"); !errors.Is(err, media.ErrNoLeg) {
		t.Fatalf("rename of no leg: %v", err)
	}
	if err := r.RenameLeg("x/caller", "y/caller"); err != nil {
		t.Fatal(err)
	}
	if r.HasLeg("x/caller") || !r.HasLeg("y/caller") {
		t.Fatal("the leg's name did not change")
	}
	if p, err := r.RTPPort("y/caller"); err != nil || p != port {
		t.Fatalf("the renamed leg's port: %d, %v (was %d)", p, err, port)
	}
	if err := r.CloseLeg("x/callee"); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("y/caller", "y/callee"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a hears c", func() bool { return a.ReceivedFrom("C") >= 10 })
	eventually(t, "c hears a", func() bool { return c.ReceivedFrom("A") >= 10 })
	if rc := a.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("a's stream across the transfer: %+v", rc)
	}
	if st, err := r.LegStats("y/caller"); err != nil || st.Peer != "y/callee" {
		t.Errorf("stats of the renamed leg: %+v, %v", st, err)
	}
}

// A phone's new offer (re-INVITE) that moves its RTP port and changes its
// codec to PCMA: the relay answers PCMA on the same port, sends to the new
// port, and the peer re-offered PCMA (ReofferRTP matching) hears it, on
// the one stream it had (the phone's new SSRC is a new source).
func TestRTPUpdateAddressAndCodec(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := newRTPPeer(t, "A"), newRTPPeer(t, "B")
	first := answerPhone(t, ctx, r, "a", a)
	answerPhone(t, ctx, r, "b", b)
	if err := r.Connect("a", "b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b hears a", func() bool { return b.ReceivedFrom("A") >= 10 })

	// The phone moves to a new socket and offers only PCMA.
	a.Stop()
	a2 := newRTPPeer(t, "A2")
	offer := strings.Replace(a2.Offer(), "RTP/AVP 0 8 101", "RTP/AVP 8 101", 1)
	if _, err := r.UpdateRTP("a", "v=0\r\nm=audio 1 RTP/AVP 99\r\n"); !errors.Is(err, media.ErrBadSDP) {
		t.Fatalf("a bad re-offer: %v", err)
	}
	answer, err := r.UpdateRTP("a", offer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "m=audio "+strconv.Itoa(audioPortOf(t, first))+" RTP/AVP 8 101") || strings.Contains(answer, "PCMU") {
		t.Fatalf("the relay's answer to PCMA on a new port:\n%s", answer)
	}
	if err := a2.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	a2.Start()
	if st, _ := r.LegStats("a"); !strings.EqualFold(st.Codec, "audio/PCMA/8000") {
		t.Fatalf("leg a's codec after the update: %q", st.Codec)
	}
	// b still speaks PCMU: it is offered PCMA first (PCMU after it, which
	// the relay would re-encode).
	reoffer, err := r.ReofferRTP("b", media.OfferOptions{MatchLeg: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reoffer, "RTP/AVP 8 0 101") {
		t.Fatalf("b's re-offer:\n%s", reoffer)
	}
	ans, err := b.Answer(reoffer)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("b", ans); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b hears the moved phone", func() bool { return b.ReceivedFrom("A2") >= 10 })
	eventually(t, "the moved phone hears b", func() bool { return a2.ReceivedFrom("B") >= 10 })
	// The moved phone's stream is a new one (another SSRC, its sequence
	// numbers from the start again): b still receives one stream.
	if rc := b.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("b's stream across the phone's new stream: %+v", rc)
	}
}

// After a restart an RTP leg is built again on the port the phone sends
// to, from the SDPs of its last exchange: audio flows again without
// telling the phone anything. A taken port gives another one.
func TestRTPRestoreRebindsPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := newRTPPeer(t, "A"), newRTPPeer(t, "B")
	first := newRelay(t)
	answerA := answerPhone(t, ctx, first, "x/caller", a)
	answerB := answerPhone(t, ctx, first, "x/callee", b)
	if err := first.Connect("x/caller", "x/callee"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b hears a", func() bool { return b.ReceivedFrom("A") >= 10 })
	first.Close() // the process died: the ports are free again

	second := newRelay(t)
	descA, rebound, err := second.RestoreRTP(ctx, "x/caller", answerA, a.Offer(), media.LegEvents{})
	if err != nil || !rebound {
		t.Fatalf("restore a: %v, rebound %v", err, rebound)
	}
	if audioPortOf(t, descA) != audioPortOf(t, answerA) || !strings.Contains(descA, "RTP/AVP 0 101") {
		t.Fatalf("a's leg after the restore:\n%s\nbefore:\n%s", descA, answerA)
	}
	if _, _, err := second.RestoreRTP(ctx, "x/callee", answerB, b.Offer(), media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := second.Connect("x/caller", "x/callee"); err != nil {
		t.Fatal(err)
	}
	before := b.ReceivedFrom("A")
	eventually(t, "b hears a again", func() bool { return b.ReceivedFrom("A") >= before+10 })
	beforeB := a.ReceivedFrom("B")
	eventually(t, "a hears b again", func() bool { return a.ReceivedFrom("B") >= beforeB+10 })
	// One stream across the restart: the same SSRC, its sequence numbers
	// going on forward (the gap is the packets the restart lost).
	for name, p := range map[string]*mediatest.RTPPeer{"a": a, "b": b} {
		if rc := p.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 500 {
			t.Errorf("%s's stream across the restart: %+v", name, rc)
		}
	}

	// The port is taken (by the leg just restored): another port.
	desc, rebound, err := second.RestoreRTP(ctx, "y/caller", answerA, a.Offer(), media.LegEvents{})
	if err != nil || rebound || audioPortOf(t, desc) == audioPortOf(t, answerA) {
		t.Fatalf("restore onto a taken port: rebound %v, %v\n%s", rebound, err, desc)
	}
	if _, _, err := second.RestoreRTP(ctx, "z", answerA, "v=0\r\n", media.LegEvents{}); !errors.Is(err, media.ErrBadSDP) || second.HasLeg("z") {
		t.Fatalf("restore from a bad SDP: %v", err)
	}
}

var audioLine = regexp.MustCompile(`m=audio (\d+) `)

func audioPortOf(t *testing.T, desc string) int {
	t.Helper()
	m := audioLine.FindStringSubmatch(desc)
	if m == nil {
		t.Fatalf("no m=audio in:\n%s", desc)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// BenchmarkRTPLegPair is the relay's cost of one relayed SIP call's media
// (a phone calling through a trunk, or two phones): the caller's leg
// answered, the callee's offered matching it and answered, the two
// connected, both closed. No packets flow.
func BenchmarkRTPLegPair(b *testing.B) {
	r := newRelay(b)
	ctx := context.Background()
	offer := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
	answer := strings.Replace(offer, "40000", "40002", 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a, c := "c"+strconv.Itoa(i)+"/caller", "c"+strconv.Itoa(i)+"/callee"
		if _, err := r.AnswerRTP(ctx, a, offer, media.LegEvents{}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.OfferRTP(ctx, c, media.OfferOptions{MatchLeg: a}, media.LegEvents{}); err != nil {
			b.Fatal(err)
		}
		if err := r.AcceptRTPAnswer(c, answer); err != nil {
			b.Fatal(err)
		}
		if err := r.Connect(a, c); err != nil {
			b.Fatal(err)
		}
		_ = r.CloseLeg(a)
		_ = r.CloseLeg(c)
	}
}
