package media_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

func newRTPPeer(t testing.TB, marker string) *mediatest.RTPPeer {
	t.Helper()
	p, err := mediatest.NewRTPPeer(marker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// rtpFlowing is flowing for an RTP peer.
func rtpFlowing(p *mediatest.RTPPeer, marker string) bool {
	time.Sleep(150 * time.Millisecond)
	before := p.ReceivedFrom(marker)
	time.Sleep(300 * time.Millisecond)
	return p.ReceivedFrom(marker) > before
}

// A SIP phone's RTP (the phone offers, AnswerRTP) and a browser that is
// offered the call matching the phone's leg (CreateOffer MatchLeg): the
// browser, which prefers Opus, gets PCMU only; audio both ways; mute and
// hold; DTMF both ways.
func TestRTPPhoneToBrowser(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	phone := newRTPPeer(t, "PHONE")
	rec := &recorder{}
	answer, err := r.AnswerRTP(ctx, "p", phone.Offer(), rec.events())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "RTP/AVP 0 101") || !strings.Contains(answer, "c=IN IP4 127.0.0.1") {
		t.Errorf("answer:\n%s", answer)
	}
	if err := phone.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	browser := newPeer(t, "BROWSER", "opus")
	if err := browser.Accept(ctx, r, "b", media.OfferOptions{MatchLeg: "p"}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("p", "b"); err != nil {
		t.Fatal(err)
	}
	phone.Start()
	browser.Start()
	eventually(t, "the browser hears the phone", func() bool { return browser.ReceivedFrom("PHONE") >= 10 })
	eventually(t, "the phone hears the browser", func() bool { return phone.ReceivedFrom("BROWSER") >= 10 })
	for _, leg := range []string{"p", "b"} {
		if s, _ := r.LegStats(leg); s.Codec != "audio/pcmu/8000" {
			t.Errorf("leg %s codec %q", leg, s.Codec)
		}
	}
	if s, _ := r.LegStats("p"); s.State != media.LegConnected || s.Peer != "b" {
		t.Errorf("phone leg %+v", s)
	}

	_ = r.SetMuted("p", true)
	if flowing(browser, "PHONE") {
		t.Error("a muted phone is heard")
	}
	if !rtpFlowing(phone, "BROWSER") {
		t.Error("a muted phone hears nothing")
	}
	_ = r.SetMuted("p", false)
	_ = r.SetHeld("b", true)
	if flowing(browser, "PHONE") || rtpFlowing(phone, "BROWSER") {
		t.Error("audio flows on hold")
	}
	_ = r.SetHeld("b", false)
	if !flowing(browser, "PHONE") || !rtpFlowing(phone, "BROWSER") {
		t.Error("no audio after resume")
	}

	// The phone's digits are reported; the relay plays digits to both.
	if err := phone.SendDTMF(ctx, "47", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone's digits reported", func() bool { d, _, _, _ := rec.get(); return len(d) >= 2 })
	if d, _, _, _ := rec.get(); d != "47" {
		t.Errorf("phone digits %q", d)
	}
	if err := r.SendDTMF("p", "12#"); err != nil {
		t.Fatal(err)
	}
	if err := r.SendDTMF("b", "9*"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone gets 12#", func() bool { return len(phone.Received().DTMF) >= 3 })
	eventually(t, "the browser gets 9*", func() bool { return len(browser.Received().DTMF) >= 2 })
	if d := phone.Received().DTMF; d != "12#" {
		t.Errorf("the phone heard %q", d)
	}
	if d := browser.Received().DTMF; d != "9*" {
		t.Errorf("the browser heard %q", d)
	}
	if rc := phone.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("the phone's stream: %+v", rc)
	}
	if err := r.CloseLeg("p"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the state closed", func() bool {
		_, states, _, _ := rec.get()
		return len(states) > 0 && states[len(states)-1] == media.LegClosed
	})
}

// A browser dials (its offer has Opus first; PreferG711 answers PCMU) and
// the relay offers the phone the browser's codec (OfferRTP MatchLeg).
func TestRTPBrowserToPhone(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	browser := newPeer(t, "BROWSER", "opus")
	if err := browser.DialWith(ctx, r, "b", media.AnswerOptions{PreferG711: true}, media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	offer, err := r.OfferRTP(ctx, "p", media.OfferOptions{MatchLeg: "b"}, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer, "m=audio ") || !strings.Contains(offer, "RTP/AVP 0 8 101\r\n") || strings.Contains(offer, "opus") {
		t.Errorf("offer:\n%s", offer)
	}
	phone := newRTPPeer(t, "PHONE")
	answer, err := phone.Answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("p", answer); err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("p", answer); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("a second answer: %v", err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("b", "p"); err != nil {
		t.Fatal(err)
	}
	phone.Start()
	browser.Start()
	eventually(t, "the browser hears the phone", func() bool { return browser.ReceivedFrom("PHONE") >= 10 })
	eventually(t, "the phone hears the browser", func() bool { return phone.ReceivedFrom("BROWSER") >= 10 })
	if s, _ := r.LegStats("b"); s.Codec != "audio/pcmu/8000" {
		t.Errorf("browser leg codec %q", s.Codec)
	}
}

// Two phones through the relay; then the first is connected to a third
// (a transfer): it hears one stream, one SSRC, sequence numbers going on.
func TestRTPToRTPAndReconnect(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var phones []*mediatest.RTPPeer
	for i, m := range []string{"ONE", "TWO", "THREE"} {
		p := newRTPPeer(t, m)
		leg := []string{"1", "2", "3"}[i]
		a, err := r.AnswerRTP(ctx, leg, p.Offer(), media.LegEvents{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetAnswer(a); err != nil {
			t.Fatal(err)
		}
		p.Start()
		phones = append(phones, p)
	}
	if err := r.Connect("1", "2"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two hears one", func() bool { return phones[1].ReceivedFrom("ONE") >= 10 })
	eventually(t, "one hears two", func() bool { return phones[0].ReceivedFrom("TWO") >= 10 })
	if err := r.Connect("1", "3"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one hears three", func() bool { return phones[0].ReceivedFrom("THREE") >= 10 })
	if rtpFlowing(phones[0], "TWO") {
		t.Error("one still hears two")
	}
	if rc := phones[0].Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("one's stream across the re-Connect: %+v", rc)
	}
}

// A WebRTC leg re-connected from one phone to another: the browser and
// the phone each see one continuous stream.
func TestRTPReconnectKeepsStream(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	browser := newPeer(t, "BROWSER", "pcmu")
	if err := browser.Dial(ctx, r, "b", media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	browser.Start()
	one, two := newRTPPeer(t, "ONE"), newRTPPeer(t, "TWO")
	for leg, p := range map[string]*mediatest.RTPPeer{"1": one, "2": two} {
		a, err := r.AnswerRTP(ctx, leg, p.Offer(), media.LegEvents{})
		if err != nil {
			t.Fatal(err)
		}
		_ = p.SetAnswer(a)
		p.Start()
	}
	_ = r.Connect("b", "1")
	eventually(t, "the browser hears one", func() bool { return browser.ReceivedFrom("ONE") >= 10 })
	_ = r.Connect("b", "2")
	eventually(t, "the browser hears two", func() bool { return browser.ReceivedFrom("TWO") >= 10 })
	eventually(t, "two hears the browser", func() bool { return two.ReceivedFrom("BROWSER") >= 10 })
	_ = r.Connect("1", "2") // one, which heard the browser, now hears two
	eventually(t, "one hears two", func() bool { return one.ReceivedFrom("TWO") >= 10 })
	if rc := browser.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("the browser's stream: %+v", rc)
	}
	if rc := one.Received(); rc.SSRCs != 1 || rc.Backwards != 0 || rc.MaxJump > 3 {
		t.Errorf("phone one's stream: %+v", rc)
	}
}

// Symmetric RTP: the phone's SDP names an address nobody listens on; the
// relay sends where the phone's packets come from.
func TestRTPLatching(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	phone, other := newRTPPeer(t, "PHONE"), newRTPPeer(t, "OTHER")
	offer := regexp.MustCompile(`m=audio \d+ `).ReplaceAllString(phone.Offer(), "m=audio 9 ")
	answer, err := r.AnswerRTP(ctx, "p", offer, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := phone.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	a, err := r.AnswerRTP(ctx, "o", other.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	_ = other.SetAnswer(a)
	_ = r.Connect("p", "o")
	other.Start()
	time.Sleep(300 * time.Millisecond)
	if n := phone.ReceivedFrom("OTHER"); n != 0 {
		t.Fatalf("the phone heard %d packets sent to the address of its SDP", n)
	}
	phone.Start()
	eventually(t, "the phone is heard and hears", func() bool { return phone.ReceivedFrom("OTHER") >= 5 && other.ReceivedFrom("PHONE") >= 5 })
}

func TestRTPBadSDP(t *testing.T) {
	r := newRelay(t)
	ctx := context.Background()
	for _, sdp := range []string{
		"",
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	} {
		if _, err := r.AnswerRTP(ctx, "p", sdp, media.LegEvents{}); !errors.Is(err, media.ErrBadSDP) {
			t.Errorf("%q: %v", sdp, err)
		}
	}
	if r.HasLeg("p") {
		t.Error("a leg was made")
	}
	if err := r.AcceptRTPAnswer("nope", "x"); !errors.Is(err, media.ErrNoLeg) {
		t.Errorf("no leg: %v", err)
	}
	phone := newRTPPeer(t, "PHONE")
	if _, err := r.AnswerRTP(ctx, "p", phone.Offer(), media.LegEvents{}); err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("p", phone.Offer()); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("an answer with no offer pending: %v", err)
	}
	if err := r.AddICECandidate("p", media.ICECandidate{}); !errors.Is(err, media.ErrBadCandidate) {
		t.Errorf("a candidate for an RTP leg: %v", err)
	}
}

// A phone's early answer (a 183's SDP) makes the leg carry audio before
// the final answer, which is still taken after it (and only once).
func TestRTPEarlyAnswer(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	caller := newRTPPeer(t, "CALLER")
	a, err := r.AnswerRTP(ctx, "caller", caller.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := caller.SetAnswer(a); err != nil {
		t.Fatal(err)
	}
	caller.Start()
	offer, err := r.OfferRTP(ctx, "far", media.OfferOptions{MatchLeg: "caller"}, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	far := newRTPPeer(t, "EARLY")
	early, err := far.Answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPEarlyAnswer("far", "v=0\r\n"); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("a bad early answer: %v", err)
	}
	if err := r.AcceptRTPEarlyAnswer("far", early); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("caller", "far"); err != nil {
		t.Fatal(err)
	}
	far.Start()
	eventually(t, "the caller hears early media", func() bool { return caller.ReceivedFrom("EARLY") >= 10 })
	if err := r.AcceptRTPAnswer("far", early); err != nil {
		t.Fatalf("the final answer after an early one: %v", err)
	}
	if err := r.AcceptRTPAnswer("far", early); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("a second final answer: %v", err)
	}
	eventually(t, "the far end hears the caller", func() bool { return far.ReceivedFrom("CALLER") >= 10 })
	if rc := caller.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("the caller's stream: %+v", rc)
	}
}
