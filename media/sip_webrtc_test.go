package media_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// sipBrowserLeg dials leg as a browser SIP stack does: its offer, every
// candidate in it, goes to AnswerRTP; it takes the answer and connects.
func sipBrowserLeg(t *testing.T, ctx context.Context, r *media.Relay, leg, marker, codec string) (*mediatest.TestPeer, string) {
	t.Helper()
	browser := newPeer(t, marker, codec)
	offer, err := browser.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := r.AnswerRTP(ctx, leg, offer, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := browser.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return browser, answer
}

// A browser SIP stack calls a phone: its WebRTC offer (every candidate in
// it, as JsSIP sends) goes to AnswerRTP like a phone's; the answer is
// WebRTC too, in PCMU (the browser prefers Opus) and with the relay's
// candidates, since SIP does not trickle. The phone is offered PCMU; audio
// flows both ways. Then the browser re-offers (a hold, a resume) and
// UpdateRTP answers on the same peer connection: the audio goes on.
func TestSIPWebRTCBrowserCallsPhone(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	browser, answer := sipBrowserLeg(t, ctx, r, "b", "BROWSER", "opus")
	for _, want := range []string{"o=callengine ", "UDP/TLS/RTP/SAVPF 0", "a=fingerprint:", "a=candidate:", "a=end-of-candidates"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the answer has no %q:\n%s", want, answer)
		}
	}
	if strings.Contains(strings.ToLower(answer), "opus") {
		t.Errorf("the answer offers Opus to a SIP call:\n%s", answer)
	}

	phone := newRTPPeer(t, "PHONE")
	po, err := r.OfferRTP(ctx, "p", media.OfferOptions{MatchLeg: "b"}, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	pa, err := phone.Answer(po)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("p", pa); err != nil {
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

	// A re-INVITE's offer on the same peer connection.
	again, err := browser.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reanswer, err := r.UpdateRTP("b", again)
	if err != nil {
		t.Fatal(err)
	}
	if err := browser.SetAnswer(reanswer); err != nil {
		t.Fatal(err)
	}
	if !flowing(browser, "PHONE") || !rtpFlowing(phone, "BROWSER") {
		t.Error("the audio stopped after the re-offer")
	}
	// Garbage changes nothing.
	if _, err := r.UpdateRTP("b", "v=0\r\nnonsense"); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("a bad re-offer: %v", err)
	}
	if !flowing(browser, "PHONE") {
		t.Error("the audio stopped after a bad re-offer")
	}
}

// A phone calls a browser SIP stack: OfferRTP with WebRTC offers the
// browser a WebRTC leg in the phone's codec (PCMU only, candidates
// included); its answer goes to AcceptRTPAnswer (a provisional answer is
// ignored, a second answer refused); audio both ways; the leg can be
// renamed (a transfer keeps it).
func TestSIPWebRTCPhoneCallsBrowser(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	phone := phoneLeg(t, r, "p", "PHONE", false)
	offer, err := r.OfferRTP(ctx, "b", media.OfferOptions{MatchLeg: "p", WebRTC: true}, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"UDP/TLS/RTP/SAVPF", "a=fingerprint:", "a=candidate:", "PCMU/8000"} {
		if !strings.Contains(offer, want) {
			t.Errorf("the offer has no %q:\n%s", want, offer)
		}
	}
	if strings.Contains(strings.ToLower(offer), "opus") {
		t.Errorf("the offer has Opus:\n%s", offer)
	}
	browser := newPeer(t, "BROWSER", "opus")
	answer, err := browser.Answer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPEarlyAnswer("b", answer); err != nil {
		t.Fatalf("a provisional answer: %v", err)
	}
	if err := r.AcceptRTPAnswer("b", answer); err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("b", answer); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("a second answer: %v", err)
	}
	if err := browser.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.RenameLeg("b", "b2"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if err := r.Connect("p", "b2"); err != nil {
		t.Fatal(err)
	}
	browser.Start()
	eventually(t, "the browser hears the phone", func() bool { return browser.ReceivedFrom("PHONE") >= 10 })
	eventually(t, "the phone hears the browser", func() bool { return phone.ReceivedFrom("BROWSER") >= 10 })
}

// After a restart the DTLS session of a browser SIP stack's leg is gone:
// RestoreRTP given the WebRTC SDPs of its record makes a new leg and
// returns its offer, not rebound; the browser's answer (to the re-INVITE)
// goes to UpdateRTP, and the audio flows again.
func TestSIPWebRTCRestoreOffersAgain(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	browser := newPeer(t, "BROWSER", "opus")
	offer, err := browser.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := r.AnswerRTP(ctx, "b", offer, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	// The process dies: a second relay stands for the restarted one.
	r2 := newRelay(t)
	desc, rebound, err := r2.RestoreRTP(ctx, "b", sent, offer, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if rebound || !strings.Contains(desc, "a=candidate:") || !strings.Contains(desc, "PCMU/8000") {
		t.Fatalf("restored: rebound %v, offer:\n%s", rebound, desc)
	}
	again := newPeer(t, "BROWSER2", "opus")
	answer, err := again.Answer(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.UpdateRTP("b", answer); err != nil {
		t.Fatal(err)
	}
	if err := again.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	phone := phoneLeg(t, r2, "p", "PHONE", false)
	if err := r2.Connect("b", "p"); err != nil {
		t.Fatal(err)
	}
	again.Start()
	eventually(t, "the browser hears the phone", func() bool { return again.ReceivedFrom("PHONE") >= 10 })
	eventually(t, "the phone hears the browser", func() bool { return phone.ReceivedFrom("BROWSER2") >= 10 })
}

// A WebRTC SIP leg in a conference of three takes one stream, the mix,
// as an RTP leg: it needs no renegotiation, which SIP cannot carry.
func TestSIPWebRTCLegJoinsConference(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	browser, _ := sipBrowserLeg(t, ctx, r, "b", "BROWSER", "pcmu")
	phoneLeg(t, r, "ONE", "ONE", false)
	phoneLeg(t, r, "TWO", "TWO", false)
	if err := r.Join("room", "b", "ONE", "TWO"); err != nil {
		t.Fatalf("join: %v", err)
	}
	browser.Start()
	eventually(t, "the browser hears the mix", func() bool { return browser.Received().Audio >= 20 })
}
