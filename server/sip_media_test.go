package server

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/ws/wsclient"
	"github.com/callengine/callengine/media/mediatest"
)

// A SIP phone and a browser talk through the relay (issue 14 part 6): the
// phone is a sipgo user agent with a Go RTP endpoint (mediatest.RTPPeer),
// the browser a wsclient with a Go WebRTC peer, both on a served engine.

type sipPhone struct {
	t      *testing.T
	ua     *sipgo.UserAgent
	cli    *sipgo.Client
	server string // the adapter's host:port
	port   int    // the phone's own SIP port (its Contact)
	rtp    *mediatest.RTPPeer
	user   string
}

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

func newSIPPhone(t *testing.T, server, user, marker string) *sipPhone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	port := freeUDP(t)
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	r, err := mediatest.NewRTPPeer(marker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &sipPhone{t: t, ua: ua, cli: cli, server: server, port: port, rtp: r, user: user}
}

func (p *sipPhone) request(method sip.RequestMethod, to string) *sip.Request {
	host, port, _ := sip.ParseAddr(p.server)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: to, Host: host, Port: port})
	f := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: host}, Params: sip.NewParams()}
	f.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(f)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: host}})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+p.user+"@127.0.0.1:"+strconv.Itoa(p.port)+">"))
	return req
}

func (p *sipPhone) do(ctx context.Context, req *sip.Request) *sip.Response {
	p.t.Helper()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatal(err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: p.user + "-password"})
		if err != nil {
			p.t.Fatal(err)
		}
	}
	return res
}

// register binds the phone (its Contact is where it answers INVITEs).
func (p *sipPhone) register(ctx context.Context) {
	p.t.Helper()
	req := p.request(sip.REGISTER, p.user)
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	if res := p.do(ctx, req); res.StatusCode != 200 {
		p.t.Fatalf("REGISTER: %d", res.StatusCode)
	}
}

// serve answers INVITEs at once with the RTP peer's answer (and takes ACK
// and BYE).
func (p *sipPhone) serve(ctx context.Context, invited chan<- string) {
	p.t.Helper()
	srv, err := sipgo.NewServer(p.ua)
	if err != nil {
		p.t.Fatal(err)
	}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		answer, err := p.rtp.Answer(string(req.Body()))
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", []byte(answer))
		res.To().Params.Add("tag", sip.GenerateTagN(8))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(sip.NewHeader("Contact", "<sip:"+p.user+"@127.0.0.1:"+strconv.Itoa(p.port)+">"))
		_ = tx.Respond(res)
		select {
		case invited <- string(req.Body()):
		default:
		}
		select {
		case <-tx.Acks():
		case <-time.After(5 * time.Second):
		}
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ListenAndServe(ctx, "udp", "127.0.0.1:"+strconv.Itoa(p.port)) }()
	time.Sleep(100 * time.Millisecond)
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
	carol := newSIPPhone(t, addr, "carol", "CAROL")
	carol.serve(ctx, make(chan string, 1))
	carol.register(ctx)

	invite := carol.request(sip.INVITE, "201")
	invite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	invite.SetBody([]byte(carol.rtp.Offer()))
	got := make(chan *sip.Response, 1)
	go func() {
		res, err := carol.cli.Do(ctx, invite)
		if err == nil && res.StatusCode == 407 {
			res, err = carol.cli.DoDigestAuth(ctx, invite, res, sipgo.DigestAuth{Username: "carol", Password: "carol-password"})
		}
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
	ack := sip.NewRequest(sip.ACK, invite.Recipient)
	ack.AppendHeader(sip.HeaderClone(invite.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(invite.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: res.CSeq().SeqNo, MethodName: sip.ACK})
	ack.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	if err := carol.cli.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	if err := carol.rtp.SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	carol.rtp.Start()
	eventually(t, "the browser hears the phone", func() bool { return alice.peer.ReceivedFrom("CAROL") > 10 })
	eventually(t, "the phone hears the browser", func() bool { return carol.rtp.ReceivedFrom("ALICE") > 10 })

	call := in.CallID
	if _, err := alice.c.Command(ctx, "call.mute", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(carol.rtp, "ALICE") {
		t.Error("the phone hears a muted browser")
	}
	if !flowing(alice.peer, "CAROL") {
		t.Error("a muted browser no longer hears the phone")
	}
	if _, err := alice.c.Command(ctx, "call.unmute", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after unmute", func() bool { return rtpFlows(carol.rtp, "ALICE") })

	if _, err := alice.c.Command(ctx, "call.hold", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(carol.rtp, "ALICE") || flowing(alice.peer, "CAROL") {
		t.Error("audio flows on hold")
	}
	if _, err := alice.c.Command(ctx, "call.resume", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after resume", func() bool { return rtpFlows(carol.rtp, "ALICE") && flowing(alice.peer, "CAROL") })

	if err := carol.rtp.SendDTMF(ctx, "42", 60*time.Millisecond); err != nil {
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
	eventually(t, "the phone's leg closed", func() bool { return !rtpFlows(carol.rtp, "ALICE") })
}

// A browser calls a SIP phone: the browser's offer (Opus first) is
// answered with PCMU, the phone gets the relay's PCMU offer; audio both
// ways, hold stops it, the browser's digits reach the phone as RFC 4733.
func TestBrowserCallsSIPPhone(t *testing.T) {
	r, addr := startSIPEdge(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := connectPhone(t, ctx, r, "alice", "ALICE")
	carol := newSIPPhone(t, addr, "carol", "CAROL")
	invited := make(chan string, 1)
	carol.serve(ctx, invited)
	carol.register(ctx)

	call, err := alice.c.Call(ctx, "203", alice.peer)
	if err != nil {
		t.Fatal(err)
	}
	var offer string
	select {
	case offer = <-invited:
	case <-ctx.Done():
		t.Fatal("the phone was not invited")
	}
	if !strings.Contains(offer, "RTP/AVP 0 8 101") {
		t.Errorf("the phone's offer:\n%s", offer)
	}
	if _, err := alice.c.Next(ctx, wsclient.Is("call.answered", call)); err != nil {
		t.Fatal(err)
	}
	if err := alice.peer.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	alice.peer.Start()
	carol.rtp.Start()
	eventually(t, "the browser hears the phone", func() bool { return alice.peer.ReceivedFrom("CAROL") > 10 })
	eventually(t, "the phone hears the browser", func() bool { return carol.rtp.ReceivedFrom("ALICE") > 10 })

	if _, err := alice.c.Command(ctx, "call.hold", call, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if rtpFlows(carol.rtp, "ALICE") || flowing(alice.peer, "CAROL") {
		t.Error("audio flows on hold")
	}
	if _, err := alice.c.Command(ctx, "call.resume", call, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "audio after resume", func() bool { return rtpFlows(carol.rtp, "ALICE") && flowing(alice.peer, "CAROL") })

	if err := alice.peer.SendDTMF(ctx, "7#", 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone hears 7#", func() bool { return len(carol.rtp.Received().DTMF) >= 2 })
	if d := carol.rtp.Received().DTMF; d != "7#" {
		t.Errorf("the phone heard %q", d)
	}
	if rc := carol.rtp.Received(); rc.SSRCs != 1 || rc.Backwards != 0 {
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
	carol := newSIPPhone(t, addr, "carol", "CAROL")
	carol.serve(ctx, make(chan string, 1))
	carol.register(ctx)
	invite := carol.request(sip.INVITE, "600")
	invite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	invite.SetBody([]byte(carol.rtp.Offer()))
	res := carol.do(ctx, invite)
	if res.StatusCode != 200 {
		t.Fatalf("INVITE 600: %d", res.StatusCode)
	}
	if err := carol.rtp.SetAnswer(string(res.Body())); err != nil {
		t.Fatal(err)
	}
	carol.rtp.Start()
	eventually(t, "the phone hears itself", func() bool { return carol.rtp.ReceivedFrom("CAROL") > 10 })
}
