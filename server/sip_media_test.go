package server

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/siptest"
	"github.com/callengine/callengine/adapters/ws/wsclient"
	"github.com/callengine/callengine/media/mediatest"
)

// A SIP phone and a browser talk through the relay (issue 14 part 6): the
// phone is a siptest.Phone (sipgo with a Go RTP endpoint), the browser a wsclient with a Go WebRTC peer, both on a served engine.

func freeUDP(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startSIPEdge serves alice (a browser) and carol (a SIP phone) with the
// SIP adapter on a free UDP port.
func startSIPEdge(t *testing.T) (*running, string) {
	t.Helper()
	s := &Server{}
	s.Config.Clients = []Client{
		{ID: "alice", Password: "alice-password", Extensions: []string{"201"}},
		{ID: "carol", Password: "carol-password", Extensions: []string{"203"}},
	}
	addr := "127.0.0.1:" + strconv.Itoa(freeUDP(t))
	s.Config.SIP = SIP{UDP: addr}
	return start(t, s, t.TempDir()), addr
}

// newSIPPhone is user's phone (its password is "<user>-password"),
// registered, closed when the test ends. It answers INVITEs at once.
func newSIPPhone(t *testing.T, ctx context.Context, server, user, marker string) *siptest.Phone {
	t.Helper()
	p, err := siptest.NewPhone(ctx, siptest.Settings{Server: server, User: user, Password: user + "-password", Marker: marker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Register(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// invitedWith waits for the phone's first new INVITE and returns its
// offer; the phone must have answered it.
func invitedWith(t *testing.T, ctx context.Context, p *siptest.Phone) string {
	t.Helper()
	select {
	case in := <-p.Invites():
		if in.Err != nil {
			t.Fatalf("%s refused the INVITE's offer (488): %v\n%s", p.User(), in.Err, in.Offer)
		}
		return in.Offer
	case <-ctx.Done():
		t.Fatalf("%s was not invited", p.User())
		return ""
	}
}

func rtpFlows(p *mediatest.RTPPeer, marker string) bool {
	before := p.ReceivedFrom(marker)
	time.Sleep(300 * time.Millisecond)
	return p.ReceivedFrom(marker) > before+3
}

// A SIP phone calls a browser: the relay answers the phone's offer, the
// browser is offered PCMU; audio both ways; mute and hold from the
// browser stop it; the phone's RFC 4733 digits reach the browser as the
// engine's call.dtmf, played to its leg.
func TestSIPPhoneCallsBrowser(t *testing.T) {
	r, addr := startSIPEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "ALICE")
	carol := newSIPPhone(t, ctx, addr, "carol", "CAROL")

	invite := carol.InviteRequest("201")
	got := make(chan *sip.Response, 1)
	go func() {
		res, err := carol.Do(ctx, invite)
		if err != nil {
			t.Errorf("INVITE: %v", err)
			res = nil
		}
		got <- res
	}()

	in, err := alice.c.Next(ctx, wsclient.Is("call.incoming", ""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(in.SDP), "opus") || !strings.Contains(in.SDP, "PCMU/8000") {
		t.Errorf("the browser is offered:\n%s", in.SDP)
	}
	if err := alice.c.Answer(ctx, in, alice.peer); err != nil {
		t.Fatal(err)
	}
	var res *sip.Response
	select {
	case res = <-got:
	case <-ctx.Done():
		t.Fatal("no answer to the phone")
	}
	if res == nil {
		t.FailNow()
	}
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "RTP/AVP 0") {
		t.Fatalf("the phone's final response %d:\n%s", res.StatusCode, res.Body())
	}
	if err := carol.Ack(siptest.CallerDialog(invite, res)); err != nil {
		t.Fatal(err)
	}
	if err := carol.RTP().SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	carol.RTP().Start()
	eventually(t, "the browser hears the phone", func() bool { return alice.peer.ReceivedFrom("CAROL") > 10 })
	eventually(t, "the phone hears the browser", func() bool { return carol.RTP().ReceivedFrom("ALICE") > 10 })

	call := in.CallID
	if _, err := alice.c.Command(ctx, "call.mute", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(carol.RTP(), "ALICE") {
		t.Error("the phone hears a muted browser")
	}
	if !flowing(alice.peer, "CAROL") {
		t.Error("a muted browser no longer hears the phone")
	}
	if _, err := alice.c.Command(ctx, "call.unmute", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after unmute", func() bool { return rtpFlows(carol.RTP(), "ALICE") })

	if _, err := alice.c.Command(ctx, "call.hold", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(carol.RTP(), "ALICE") || flowing(alice.peer, "CAROL") {
		t.Error("audio flows on hold")
	}
	if _, err := alice.c.Command(ctx, "call.resume", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after resume", func() bool { return rtpFlows(carol.RTP(), "ALICE") && flowing(alice.peer, "CAROL") })

	if err := carol.RTP().SendDTMF(ctx, "42", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for digits.Len() < 2 {
		m, err := alice.c.Next(ctx, wsclient.Is("call.dtmf", call))
		if err != nil {
			t.Fatalf("call.dtmf: %v (so far %q)", err, digits.String())
		}
		digits.WriteString(m.Digits)
	}
	if digits.String() != "42" {
		t.Errorf("call.dtmf %q", digits.String())
	}
	eventually(t, "the browser's leg plays the digits", func() bool { return len(alice.peer.Received().DTMF) >= 2 })

	if _, err := alice.c.Command(ctx, "call.hangup", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone's leg closed", func() bool { return !rtpFlows(carol.RTP(), "ALICE") })
}

// A browser calls a SIP phone: the browser's offer (Opus first) is
// answered with PCMU, the phone gets the relay's PCMU offer; audio both
// ways, hold stops it, the browser's digits reach the phone as RFC 4733.
func TestBrowserCallsSIPPhone(t *testing.T) {
	r, addr := startSIPEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "ALICE")
	carol := newSIPPhone(t, ctx, addr, "carol", "CAROL")

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
	eventually(t, "the browser hears the phone", func() bool { return alice.peer.ReceivedFrom("CAROL") > 10 })
	eventually(t, "the phone hears the browser", func() bool { return carol.RTP().ReceivedFrom("ALICE") > 10 })

	if _, err := alice.c.Command(ctx, "call.hold", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(carol.RTP(), "ALICE") || flowing(alice.peer, "CAROL") {
		t.Error("audio flows on hold")
	}
	if _, err := alice.c.Command(ctx, "call.resume", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after resume", func() bool { return rtpFlows(carol.RTP(), "ALICE") && flowing(alice.peer, "CAROL") })

	if err := alice.peer.SendDTMF(ctx, "7#", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone hears 7#", func() bool { return len(carol.RTP().Received().DTMF) >= 2 })
	if d := carol.RTP().Received().DTMF; d != "7#" {
		t.Errorf("the phone heard %q", d)
	}
	if rc := carol.RTP().Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
		t.Errorf("the phone's stream: %+v", rc)
	}
	if _, err := alice.c.Command(ctx, "call.hangup", call, nil); err != nil {
		t.Fatal(err)
	}
}

// A SIP phone calls the echo test (600): the relay answers it and plays
// its own audio back.
func TestSIPPhoneEchoTest(t *testing.T) {
	_, addr := startSIPEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	carol := newSIPPhone(t, ctx, addr, "carol", "CAROL")
	res, err := carol.Do(ctx, carol.InviteRequest("600"))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("INVITE 600: %d", res.StatusCode)
	}
	if err := carol.RTP().SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	carol.RTP().Start()
	eventually(t, "the phone hears itself", func() bool { return carol.RTP().ReceivedFrom("CAROL") > 10 })
}
