package media_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// srtpPeer is an RTP peer that speaks SDES-SRTP.
func srtpPeer(t *testing.T, marker string) *mediatest.RTPPeer {
	t.Helper()
	p := newRTPPeer(t, marker)
	if err := p.UseSRTP(); err != nil {
		t.Fatal(err)
	}
	return p
}

var cryptoLine = regexp.MustCompile(`a=crypto:(\d+) (\S+) inline:(\S+)`)

// A phone on SRTP (it offers RTP/SAVP with a key) calls a phone on plain
// RTP: the relay answers SRTP with a key of its own for the offer's line,
// offers the other phone plain RTP, and carries the audio both ways —
// decrypted from the one, encrypted to it.
func TestSRTPPhoneToPlainPhone(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	secure, plain := srtpPeer(t, "SECURE"), newRTPPeer(t, "PLAIN")
	offer := secure.Offer()
	answer, err := r.AnswerRTP(ctx, "s", offer, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	m := cryptoLine.FindStringSubmatch(answer)
	if !strings.Contains(answer, "RTP/SAVP 0 101") || m == nil || m[1] != "1" || m[2] != "AES_CM_128_HMAC_SHA1_80" {
		t.Fatalf("answer:\n%s", answer)
	}
	if strings.Contains(offer, m[3]) {
		t.Fatal("the relay answered with the phone's own key")
	}
	if err := secure.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	o, err := r.OfferRTP(ctx, "p", media.OfferOptions{MatchLeg: "s"}, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(o, "SAVP") || strings.Contains(o, "crypto") {
		t.Fatalf("an offer of plain RTP:\n%s", o)
	}
	a, err := plain.Answer(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("p", a); err != nil {
		t.Fatal(err)
	}
	if err := r.Connect("s", "p"); err != nil {
		t.Fatal(err)
	}
	secure.Start()
	plain.Start()
	eventually(t, "the plain phone hears the secure one", func() bool { return plain.ReceivedFrom("SECURE") >= 20 })
	eventually(t, "the secure phone hears the plain one", func() bool { return secure.ReceivedFrom("PLAIN") >= 20 })
	s, _ := r.LegStats("s")
	p, _ := r.LegStats("p")
	if s.Encryption != "sdes AES_CM_128_HMAC_SHA1_80" || p.Encryption != "" || s.SRTPFailures != 0 {
		t.Errorf("stats: secure leg %+v, plain leg %+v", s, p)
	}
	if n := secure.SRTPFailures(); n != 0 {
		t.Errorf("the phone failed to authenticate %d of the relay's packets", n)
	}

	// A re-INVITE with the same keys keeps them (the relay's too); one
	// with a new key of the phone's gets a new one of the relay's.
	again, err := r.UpdateRTP("s", offer)
	if err != nil {
		t.Fatal(err)
	}
	if m2 := cryptoLine.FindStringSubmatch(again); m2 == nil || m2[3] != m[3] {
		t.Fatalf("a re-offer with the same key changed the relay's:\n%s", again)
	}
	rekeyed := srtpPeer(t, "REKEYED")
	next, err := r.UpdateRTP("s", rekeyed.Offer())
	if err != nil {
		t.Fatal(err)
	}
	if m3 := cryptoLine.FindStringSubmatch(next); m3 == nil || m3[3] == m[3] {
		t.Fatalf("a new key of the phone's kept the relay's:\n%s", next)
	}
	if err := rekeyed.SetAnswer(next); err != nil {
		t.Fatal(err)
	}
	rekeyed.Start()
	eventually(t, "the plain phone hears the phone with its new key", func() bool { return plain.ReceivedFrom("REKEYED") >= 20 })
	eventually(t, "the phone with its new key hears the plain one", func() bool { return rekeyed.ReceivedFrom("PLAIN") >= 20 })
}

// The relay offers SRTP (OfferOptions.SRTP): a crypto line per suite, each
// with its own key; the phone's answer takes one by its tag, and the audio
// is encrypted both ways. An answer of plain RTP to that offer, or with a
// tag that was not offered, is ErrBadSDP and changes nothing.
func TestSRTPOfferToPhone(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	caller, callee := newRTPPeer(t, "CALLER"), srtpPeer(t, "CALLEE")
	a, err := r.AnswerRTP(ctx, "c", caller.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	_ = caller.SetAnswer(a)
	offer, err := r.OfferRTP(ctx, "e", media.OfferOptions{MatchLeg: "c", SRTP: true}, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	lines := cryptoLine.FindAllStringSubmatch(offer, -1)
	if !strings.Contains(offer, "RTP/SAVP") || len(lines) != 2 || lines[0][2] != "AES_CM_128_HMAC_SHA1_80" ||
		lines[1][2] != "AES_CM_128_HMAC_SHA1_32" || lines[0][3] == lines[1][3] {
		t.Fatalf("offer:\n%s", offer)
	}
	for _, bad := range []string{
		newRTPPeer(t, "X").Offer(), // plain RTP
		strings.Replace(must(srtpPeer(t, "Y").Answer(offer)), "a=crypto:1 ", "a=crypto:7 ", 1), // a tag not offered
	} {
		if err := r.AcceptRTPAnswer("e", bad); !errors.Is(err, media.ErrBadSDP) {
			t.Fatalf("answer %q: %v, want ErrBadSDP", bad, err)
		}
	}
	answer, err := callee.Answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AcceptRTPAnswer("e", answer); err != nil {
		t.Fatal(err)
	}
	_ = r.Connect("c", "e")
	caller.Start()
	callee.Start()
	eventually(t, "the callee hears the caller", func() bool { return callee.ReceivedFrom("CALLER") >= 20 })
	eventually(t, "the caller hears the callee", func() bool { return caller.ReceivedFrom("CALLEE") >= 20 })
	if s, _ := r.LegStats("e"); s.Encryption != "sdes AES_CM_128_HMAC_SHA1_80" {
		t.Errorf("callee leg %+v", s)
	}
	// A re-offer on the leg offers the key in use only.
	re, err := r.ReofferRTP("e", media.OfferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := cryptoLine.FindAllStringSubmatch(re, -1); len(l) != 1 || l[0][3] != lines[0][3] {
		t.Fatalf("re-offer:\n%s", re)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// Packets that fail SRTP authentication — plain RTP, or sealed with
// another key, from another address — are dropped: the other phone hears
// nothing of them, they are counted, and the relay keeps sending to the
// phone (the latch does not move to the forger, who receives nothing).
func TestSRTPForgedPacketsDropped(t *testing.T) {
	r := newRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	secure, plain := srtpPeer(t, "SECURE"), newRTPPeer(t, "PLAIN")
	answer, err := r.AnswerRTP(ctx, "s", secure.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	_ = secure.SetAnswer(answer)
	a, err := r.AnswerRTP(ctx, "p", plain.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	_ = plain.SetAnswer(a)
	_ = r.Connect("s", "p")
	secure.Start()
	plain.Start()
	eventually(t, "the secure phone hears the plain one", func() bool { return secure.ReceivedFrom("PLAIN") >= 10 })

	// The forger: plain RTP with the marker EVIL, and SRTP under a key of
	// its own (a peer that offers, as if answered with its own line).
	port, err := r.RTPPort("s")
	if err != nil {
		t.Fatal(err)
	}
	relayAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	forger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	sealed := srtpPeer(t, "EVIL")
	if err := sealed.SetAnswer(strings.Replace(sealed.Offer(), "m=audio "+itoa(sealed.Addr().Port), "m=audio "+itoa(port), 1)); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 160)
	copy(payload, "EVIL")
	for i := range 50 {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(100 + i), Timestamp: uint32(i * 160), SSRC: 0xbad}, Payload: payload}
		b, _ := pkt.Marshal()
		if _, err := forger.WriteToUDP(b, relayAddr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	sealed.Start() // 20 ms packets under a key the relay never saw
	eventually(t, "the forged packets are counted", func() bool {
		s, _ := r.LegStats("s")
		return s.SRTPFailures >= 60
	})
	sealed.Stop()
	if n := plain.ReceivedFrom("EVIL"); n != 0 {
		t.Errorf("the plain phone heard %d forged packets", n)
	}
	before := secure.ReceivedFrom("PLAIN")
	eventually(t, "the relay still sends to the phone", func() bool { return secure.ReceivedFrom("PLAIN") >= before+20 })
	_ = forger.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := forger.ReadFromUDP(make([]byte, 1500)); err == nil {
		t.Errorf("the forger received a packet of %d bytes", n)
	}
}

// An SRTP leg restored after a restart (RestoreRTP) from the session
// descriptions of its exchange goes on with the same keys: the phone, which
// kept its own, hears the relay and is heard. The phone's stream wrapped
// before the restart (its rollover counter is 1, which the restored leg
// has to find), and the relay's stream goes on under a new SSRC (the
// phone's counter of the old one is not known to the new process).
func TestSRTPRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	secure, plain := srtpPeer(t, "SECURE"), newRTPPeer(t, "PLAIN")
	secure.SetSequence(65530) // wraps after six packets
	offer := secure.Offer()
	r1 := newRelay(t)
	answer, err := r1.AnswerRTP(ctx, "s", offer, media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	_ = secure.SetAnswer(answer)
	a1, err := r1.AnswerRTP(ctx, "p", plain.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	_ = plain.SetAnswer(a1)
	_ = r1.Connect("s", "p")
	secure.Start()
	plain.Start()
	eventually(t, "the first relay hears the phone", func() bool {
		s, _ := r1.LegStats("s")
		return s.PacketsIn >= 10
	})
	eventually(t, "the phone hears the first relay", func() bool { return secure.ReceivedFrom("PLAIN") >= 10 })
	_ = r1.Close()

	r2 := newRelay(t)
	desc, rebound, err := r2.RestoreRTP(ctx, "s", answer, offer, media.LegEvents{})
	if err != nil || !rebound {
		t.Fatalf("restore: rebound %v, %v", rebound, err)
	}
	if m, m0 := cryptoLine.FindStringSubmatch(desc), cryptoLine.FindStringSubmatch(answer); m == nil || m[3] != m0[3] {
		t.Fatalf("the restored leg's SDP has another key:\n%s", desc)
	}
	a, err := r2.AnswerRTP(ctx, "p", plain.Offer(), media.LegEvents{})
	if err != nil {
		t.Fatal(err)
	}
	_ = plain.SetAnswer(a)
	_ = r2.Connect("s", "p")
	before := secure.ReceivedFrom("PLAIN")
	eventually(t, "the plain phone hears the secure one after the restore", func() bool { return plain.ReceivedFrom("SECURE") >= 20 })
	eventually(t, "the secure phone hears the plain one after the restore", func() bool { return secure.ReceivedFrom("PLAIN") >= before+20 })
	if n := secure.SRTPFailures(); n != 0 {
		t.Errorf("the phone failed to authenticate %d packets of the restored leg", n)
	}
	if rc := secure.Received(); rc.SSRCs != 2 {
		t.Errorf("the phone's streams from the relay across the restore: %+v (want a new SSRC)", rc)
	}
	// Restoring SRTP from descriptions without a key in common fails.
	if _, _, err := r2.RestoreRTP(ctx, "x", answer, plain.Offer(), media.LegEvents{}); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("restore of SRTP against plain RTP: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
