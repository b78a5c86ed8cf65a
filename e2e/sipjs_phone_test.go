package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/media/mediatest"
)

// A browser SIP stack and a desk phone through callengine serve: JsSIP in
// Chromium over SIP over WebSocket (its media WebRTC: ICE, DTLS-SRTP, every
// candidate in the SDP), and a SIP phone in Go over UDP (sipgo, its media
// plain RTP: mediatest.RTPPeer). They cannot talk to each other directly;
// serve's relay answers the one's offer and offers the other what it
// speaks, and carries the audio between them.

// udpPhone is a desk phone on 127.0.0.1: sipgo's client and server on one
// UDP socket (the requests it sends leave from it, the server's reach it),
// and a plain RTP endpoint. It answers every INVITE with its RTP endpoint
// (180, then 200) and starts sending; it answers BYE and OPTIONS.
type udpPhone struct {
	t      *testing.T
	user   string
	marker string // what its RTP packets are filled with
	server string // serve's SIP UDP address
	port   int
	cli    *sipgo.Client
	rtp    *mediatest.RTPPeer

	invites chan udpInvite // new INVITEs, answered or refused
	byes    chan string    // the Call-IDs of the BYEs it got
}

// udpInvite is an INVITE the phone got: its SDP, and the dialog when the
// phone answered it.
type udpInvite struct {
	offer  string
	dialog *udpDialog // nil: refused (488)
	err    error
}

// udpDialog is the phone's dialog with serve.
type udpDialog struct {
	callID              string
	localTag, remoteTag string
	local, remote       sip.Uri
	target              sip.Uri
	cseq                uint32
}

// sipUDPAddr is the address serve's SIP listens on over UDP (its log's
// "sip: listening" line).
func sipUDPAddr(t *testing.T, s *server) string {
	t.Helper()
	m := regexp.MustCompile(`\budp=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("serve's log names no SIP UDP address:\n%s", tail(s.log.String(), 20))
	}
	return m[1]
}

// sipjsPage serves e2e/sipjs/phone.html and the JsSIP bundle.
func sipjsPage(t *testing.T) string {
	t.Helper()
	bundle := sipjsBundle(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/jssip.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, bundle)
	})
	page := filepath.Join(sipjsDir(t), "phone.html")
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, page) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func newUDPPhone(t *testing.T, server, user, marker string) *udpPhone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	laddr := conn.LocalAddr().String()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	t.Cleanup(func() {
		conn.Close()
		ua.Close()
	})
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port),
		sipgo.WithClientConnectionAddr(laddr), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	rtp, err := mediatest.NewRTPPeer(marker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rtp.Close() })
	p := &udpPhone{t: t, user: user, marker: marker, server: server, port: port, cli: cli, rtp: rtp,
		invites: make(chan udpInvite, 4), byes: make(chan string, 4)}

	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		select {
		case p.byes <- req.CallID().Value():
		default:
		}
	})
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ServeUDP(conn) }()
	// The client sends from the socket once the server's transport holds it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := ua.TransportLayer().GetConnection("udp", laddr); err == nil && c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: sipgo does not serve %s", user, laddr)
		}
	}
	return p
}

func (p *udpPhone) contact() string {
	return "<sip:" + p.user + "@127.0.0.1:" + strconv.Itoa(p.port) + ">"
}

func (p *udpPhone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	offer := string(req.Body())
	if tag, ok := req.To().Params.Get("tag"); ok && tag != "" {
		// A re-INVITE (a refresh): the same answer, nothing else changes.
		answer, err := p.rtp.Answer(offer)
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", []byte(answer))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(sip.NewHeader("Contact", p.contact()))
		_ = tx.Respond(res)
		return
	}
	answer, err := p.rtp.Answer(offer)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		p.invites <- udpInvite{offer: offer, err: err}
		return
	}
	d := &udpDialog{callID: req.CallID().Value(), local: req.To().Address, remote: req.From().Address,
		localTag: sip.GenerateTagN(8), cseq: 1}
	d.remoteTag, _ = req.From().Params.Get("tag")
	if c := req.Contact(); c != nil {
		d.target = c.Address
	}
	ringing := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
	ringing.To().Params.Add("tag", d.localTag)
	ringing.AppendHeader(sip.NewHeader("Contact", p.contact()))
	_ = tx.Respond(ringing)
	time.Sleep(200 * time.Millisecond)
	res := sip.NewResponseFromRequest(req, 200, "OK", []byte(answer))
	res.To().Params.Add("tag", d.localTag)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Contact", p.contact()))
	_ = tx.Respond(res)
	p.rtp.Start()
	p.invites <- udpInvite{offer: offer, dialog: d}
	select {
	case <-tx.Acks():
	case <-time.After(5 * time.Second):
	}
}

// waitInvite waits for the phone's next new INVITE, while caller's
// session is still trying.
func (p *udpPhone) waitInvite(ctx context.Context, caller sipPhone) udpInvite {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case in := <-p.invites:
			return in
		case <-ctx.Done():
			p.t.Fatalf("%s's phone got no INVITE within %v; %s: %s", p.user, wait, caller.name, caller.state())
		case <-tick.C:
			if st := caller.state(); strings.Contains(st, `"session":"failed"`) || strings.Contains(st, `"session":"ended"`) {
				p.t.Fatalf("%s's phone got no INVITE, and %s's call is over: %s", p.user, caller.name, st)
			}
		}
	}
}

// outOfDialog is a request of the phone to serve, to user to.
func (p *udpPhone) outOfDialog(method sip.RequestMethod, to string) *sip.Request {
	host, port, _ := sip.ParseAddr(p.server)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: to, Host: host, Port: port, UriParams: sip.NewParams()})
	f := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: host}, Params: sip.NewParams()}
	f.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(f)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: host}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Contact", p.contact()))
	return req
}

// do sends req and answers a digest challenge with the phone's password.
func (p *udpPhone) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		return p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: passwords[p.user]})
	}
	return res, nil
}

func (p *udpPhone) register(ctx context.Context) {
	p.t.Helper()
	req := p.outOfDialog(sip.REGISTER, p.user)
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := p.do(ctx, req)
	if err != nil {
		p.t.Fatalf("%s: REGISTER: %v", p.user, err)
	}
	if res.StatusCode != 200 {
		p.t.Fatalf("%s: REGISTER: %d %s", p.user, res.StatusCode, res.Reason)
	}
}

// inDialog is a request of dialog d (an ACK takes the INVITE's CSeq).
func (p *udpPhone) inDialog(d *udpDialog, method sip.RequestMethod) *sip.Request {
	req := sip.NewRequest(method, d.target)
	from := &sip.FromHeader{Address: d.local, Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{Address: d.remote, Params: sip.NewParams()}
	to.Params.Add("tag", d.remoteTag)
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	if method != sip.ACK {
		d.cseq++
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.cseq, MethodName: method})
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(sip.NewHeader("Contact", p.contact()))
	return req
}

// bye ends dialog d; serve must answer 200.
func (p *udpPhone) bye(ctx context.Context, d *udpDialog) {
	p.t.Helper()
	res, err := p.cli.Do(ctx, p.inDialog(d, sip.BYE))
	if err != nil {
		p.t.Fatalf("%s: BYE: %v", p.user, err)
	}
	if res.StatusCode != 200 {
		p.t.Fatalf("%s: BYE: %d %s", p.user, res.StatusCode, res.Reason)
	}
}

// hears waits until the phone receives audio: more than 25 packets (half
// a second) of audio RTP on top of what it had.
func (p *udpPhone) hears(what string) mediatest.Received {
	p.t.Helper()
	base := p.rtp.Received()
	var last mediatest.Received
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = p.rtp.Received(); last.Audio > base.Audio+25 {
			return last
		}
	}
	p.t.Fatalf("%s: does not hear %s within %v: received %+v at first, %+v at last; sent %d packets", p.user, what, wait, base, last, p.rtp.Sent())
	return last
}

// checkPlainRTPSDP fails unless desc is what a desk phone takes: plain
// RTP (RTP/AVP), with neither ICE nor DTLS.
func checkPlainRTPSDP(t *testing.T, what, desc string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^m=audio [1-9]\d* RTP/AVP `).MatchString(desc) {
		t.Fatalf("%s is not plain RTP (no m=audio … RTP/AVP):\n%s", what, desc)
	}
	for _, bad := range []string{"a=fingerprint:", "a=ice-ufrag:", "a=candidate:", "SAVP", "DTLS"} {
		if strings.Contains(desc, bad) {
			t.Fatalf("%s has %q, which a plain RTP phone cannot take:\n%s", what, bad, desc)
		}
	}
	if !strings.Contains(desc, "PCMU/8000") && !strings.Contains(desc, "PCMA/8000") {
		t.Fatalf("%s has no G.711:\n%s", what, desc)
	}
}

// checkBrowserSDP fails unless desc is WebRTC in G.711 with every
// candidate, no Opus (the phone speaks G.711 only).
func checkBrowserSDP(t *testing.T, what, desc string) {
	t.Helper()
	for _, want := range []string{"UDP/TLS/RTP/SAVPF", "a=fingerprint:", "a=ice-ufrag:", "a=candidate:", "PCMU/8000"} {
		if !strings.Contains(desc, want) {
			t.Fatalf("%s has no %q:\n%s", what, want, desc)
		}
	}
	if strings.Contains(strings.ToLower(desc), "opus") {
		t.Fatalf("%s has Opus, which the phone does not speak:\n%s", what, desc)
	}
}

// mLines is the m= and rtpmap lines of an SDP, for the log.
func mLines(desc string) string {
	var out []string
	for l := range strings.SplitSeq(desc, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "m=") || strings.HasPrefix(l, "c=") || strings.HasPrefix(l, "a=rtpmap:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, " | ")
}

// remoteSDP is the SDP the JsSIP session's peer connection took from serve.
func (p sipPhone) remoteSDP() string {
	p.t.Helper()
	v, err := eval[string](p.person, `(phone.session && phone.session.connection && phone.session.connection.remoteDescription) ? phone.session.connection.remoteDescription.sdp : ''`)
	if err != nil || v == "" {
		p.t.Fatalf("%s: no remote description (%v); state %s", p.name, err, p.state())
	}
	return v
}

// journaledCall stops the server and reads its journal, which must hold
// one call: it returns it.
type journaledCall struct {
	Caller, Callee struct{ Client string }
	State, Reason  string
	EndedBy        string `json:"ended_by"`
	AnsweredDevice string `json:"answered_device"`
	ConnectAt      string `json:"connect_at"`
}

func journaledOneCall(t *testing.T, s *server) (journaledCall, string) {
	t.Helper()
	s.stop()
	out, err := exec.Command(binPath, "replay", s.data, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("callengine replay: %v\n%s", err, out)
	}
	var journal struct{ Calls []journaledCall }
	if err := json.Unmarshal(out, &journal); err != nil {
		t.Fatalf("callengine replay --json: %v\n%s", err, out)
	}
	if n := len(journal.Calls); n != 1 {
		t.Fatalf("the journal has %d calls, want 1:\n%s", n, out)
	}
	return journal.Calls[0], string(out)
}

// JsSIP (alice, over ws) calls a UDP desk phone (bob): bob is offered
// plain RTP by the relay, alice gets the relay's WebRTC answer in G.711;
// bob receives the audio of Chromium's fake microphone, alice the audio
// bob sends; alice's BYE reaches bob and ends the call in the engine.
func TestJsSIPCallsUDPPhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, wsURL := startSIPServer(t)
	pageURL := sipjsPage(t)

	bob := newUDPPhone(t, sipUDPAddr(t, s), "bob", "BOBPHONE")
	bob.register(ctx)
	alice := openSIPPhone(t, pageURL, "alice")
	alice.run(fmt.Sprintf(`phone.start(%q, %q, %q)`, wsURL, "alice", passwords["alice"]))
	alice.waitJS("registered", `phone.state().registered`)

	alice.run(fmt.Sprintf(`phone.call(%q)`, "sip:"+extensions["bob"]+"@callengine"))
	in := bob.waitInvite(ctx, alice)
	if in.err != nil {
		t.Fatalf("bob's phone refused the INVITE's offer (488): %v\n%s", in.err, in.offer)
	}
	checkPlainRTPSDP(t, "bob's INVITE", in.offer)
	alice.waitJS("confirmed", `phone.state().session === 'confirmed'`)
	answer := alice.remoteSDP()
	checkBrowserSDP(t, "the answer to alice", answer)
	t.Logf("bob was offered: %s", mLines(in.offer))
	t.Logf("alice was answered: %s", mLines(answer))

	r := bob.hears("alice (Chromium's microphone)")
	if own := bob.rtp.ReceivedFrom(bob.marker); own != 0 {
		t.Fatalf("bob receives his own audio back (%d packets): %+v", own, r)
	}
	a := alice.audioFlows()
	t.Logf("audio: alice received %d bytes, sent %d; bob received %d audio packets, sent %d", a.Inbound, a.Outbound, r.Audio, bob.rtp.Sent())

	alice.run(`phone.hangup()`)
	alice.waitJS("ended", `phone.state().session === 'ended'`)
	select {
	case id := <-bob.byes:
		if id != in.dialog.callID {
			t.Fatalf("bob's phone got a BYE for %s, its call is %s", id, in.dialog.callID)
		}
	case <-time.After(wait):
		t.Fatalf("bob's phone got no BYE within %v", wait)
	case <-ctx.Done():
		t.Fatal("bob's phone got no BYE")
	}
	bob.rtp.Stop()
	s.metric(`callengine_calls_ended_total{reason="hangup"} 1`)

	c, out := journaledOneCall(t, s)
	if c.Caller.Client != "alice" || c.Callee.Client != "bob" || c.State != "ended" || c.Reason != "hangup" ||
		c.EndedBy != "caller" || c.ConnectAt == "" || !strings.HasPrefix(c.AnsweredDevice, "sip-") {
		t.Fatalf("the journal's call: %+v\n%s", c, out)
	}
}

// The other way round: the UDP desk phone (bob) calls JsSIP (alice), with
// digest on its INVITE; alice is offered a WebRTC leg in G.711 and answers;
// bob's 200 carries plain RTP; audio flows both ways; bob's BYE ends
// alice's session and the call in the engine.
func TestUDPPhoneCallsJsSIP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, wsURL := startSIPServer(t)
	pageURL := sipjsPage(t)

	bob := newUDPPhone(t, sipUDPAddr(t, s), "bob", "BOBPHONE")
	bob.register(ctx)
	alice := openSIPPhone(t, pageURL, "alice")
	alice.run(fmt.Sprintf(`phone.start(%q, %q, %q)`, wsURL, "alice", passwords["alice"]))
	alice.waitJS("registered", `phone.state().registered`)

	req := bob.outOfDialog(sip.INVITE, extensions["alice"])
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(bob.rtp.Offer()))
	type result struct {
		res *sip.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := bob.do(ctx, req)
		done <- result{res, err}
	}()

	alice.waitJS("called", `phone.state().session === 'incoming'`)
	alice.run(`phone.answer()`)
	var res *sip.Response
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("bob's INVITE: %v", r.err)
		}
		res = r.res
	case <-time.After(wait):
		t.Fatalf("bob's INVITE got no final response within %v; alice: %s", wait, alice.state())
	}
	if res.StatusCode != 200 {
		t.Fatalf("bob's INVITE: %d %s\n%s", res.StatusCode, res.Reason, res.Body())
	}
	if res.Contact() == nil {
		t.Fatalf("the 200 to bob's INVITE has no Contact:\n%s", res)
	}
	d := &udpDialog{callID: req.CallID().Value(), local: req.From().Address, remote: req.To().Address,
		target: res.Contact().Address, cseq: res.CSeq().SeqNo}
	d.localTag, _ = req.From().Params.Get("tag")
	d.remoteTag, _ = res.To().Params.Get("tag")
	if err := bob.cli.WriteRequest(bob.inDialog(d, sip.ACK)); err != nil {
		t.Fatalf("bob's ACK: %v", err)
	}
	checkPlainRTPSDP(t, "the answer to bob", string(res.Body()))
	if err := bob.rtp.SetAnswer(string(res.Body())); err != nil {
		t.Fatalf("bob's phone refuses the answer: %v\n%s", err, res.Body())
	}
	bob.rtp.Start()

	alice.waitJS("confirmed", `phone.state().session === 'confirmed'`)
	offer := alice.remoteSDP()
	checkBrowserSDP(t, "alice's offer", offer)
	t.Logf("alice was offered: %s", mLines(offer))
	t.Logf("bob was answered: %s", mLines(string(res.Body())))

	r := bob.hears("alice (Chromium's microphone)")
	if own := bob.rtp.ReceivedFrom(bob.marker); own != 0 {
		t.Fatalf("bob receives his own audio back (%d packets): %+v", own, r)
	}
	a := alice.audioFlows()
	t.Logf("audio: alice received %d bytes, sent %d; bob received %d audio packets, sent %d", a.Inbound, a.Outbound, r.Audio, bob.rtp.Sent())

	bob.bye(ctx, d)
	bob.rtp.Stop()
	alice.waitJS("ended by bob", `phone.state().session === 'ended' && phone.state().end_originator === 'remote'`)
	s.metric(`callengine_calls_ended_total{reason="hangup"} 1`)

	c, out := journaledOneCall(t, s)
	if c.Caller.Client != "bob" || c.Callee.Client != "alice" || c.State != "ended" || c.Reason != "hangup" ||
		c.EndedBy != "caller" || c.ConnectAt == "" || !strings.HasPrefix(c.AnsweredDevice, "sip-") {
		t.Fatalf("the journal's call: %+v\n%s", c, out)
	}
}
