package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/siptest"
	"github.com/callengine/callengine/media/mediatest"
)

// A browser SIP stack and a desk phone through callengine serve: JsSIP in
// Chromium over SIP over WebSocket (its media WebRTC: ICE, DTLS-SRTP, every
// candidate in the SDP), and a SIP phone in Go over UDP (siptest.Phone:
// sipgo, its media plain RTP). They cannot talk to each other directly;
// serve's relay answers the one's offer and offers the other what it
// speaks, and carries the audio between them.

// udpPhone is a desk phone (siptest.Phone) in a test: it rings for 200 ms
// before it answers an INVITE, and its helpers fail the test.
type udpPhone struct {
	*siptest.Phone
	t      *testing.T
	marker string // what its RTP packets are filled with
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

// newUDPPhone is user's phone (its password is passwords[user]), closed
// when the test ends.
func newUDPPhone(t *testing.T, ctx context.Context, server, user, marker string) *udpPhone {
	t.Helper()
	p, err := siptest.NewPhone(ctx, siptest.Settings{Server: server, User: user, Password: passwords[user], Marker: marker, Ring: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &udpPhone{Phone: p, t: t, marker: marker}
}

// waitInvite waits for the phone's next new INVITE, while caller's
// session is still trying; the phone starts sending once it has answered.
func (p *udpPhone) waitInvite(ctx context.Context, caller sipPhone) siptest.Invite {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case in := <-p.Invites():
			if in.Err == nil {
				p.RTP().Start()
			}
			return in
		case <-ctx.Done():
			p.t.Fatalf("%s's phone got no INVITE within %v; %s: %s", p.User(), wait, caller.name, caller.state())
		case <-tick.C:
			if st := caller.state(); strings.Contains(st, `"session":"failed"`) || strings.Contains(st, `"session":"ended"`) {
				p.t.Fatalf("%s's phone got no INVITE, and %s's call is over: %s", p.User(), caller.name, st)
			}
		}
	}
}

func (p *udpPhone) register(ctx context.Context) {
	p.t.Helper()
	if err := p.Register(ctx); err != nil {
		p.t.Fatal(err)
	}
}

// bye ends dialog d; serve must answer 200.
func (p *udpPhone) bye(ctx context.Context, d *siptest.Dialog) {
	p.t.Helper()
	if err := p.Bye(ctx, d); err != nil {
		p.t.Fatal(err)
	}
}

// hears waits until the phone receives audio: more than 25 packets (half
// a second) of audio RTP on top of what it had.
func (p *udpPhone) hears(what string) mediatest.Received {
	p.t.Helper()
	base := p.RTP().Received()
	var last mediatest.Received
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = p.RTP().Received(); last.Audio > base.Audio+25 {
			return last
		}
	}
	p.t.Fatalf("%s: does not hear %s within %v: received %+v at first, %+v at last; sent %d packets", p.User(), what, wait, base, last, p.RTP().Sent())
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

// registeredJsSIP opens the JsSIP page as name, starts its user agent on
// wsURL and waits until it is registered.
func registeredJsSIP(t *testing.T, pageURL, wsURL, name string) sipPhone {
	t.Helper()
	p := openSIPPhone(t, pageURL, name)
	p.run(fmt.Sprintf(`phone.start(%q, %q, %q)`, wsURL, name, passwords[name]))
	p.waitJS("registered", `phone.state().registered`)
	return p
}

// jssipCallsPhone: caller (JsSIP) calls the desk phone's extension; the
// phone must be offered plain RTP and answer, JsSIP's session must be
// confirmed with the relay's WebRTC answer in G.711. It returns the
// phone's INVITE and the answer JsSIP got.
func jssipCallsPhone(t *testing.T, ctx context.Context, caller sipPhone, phone *udpPhone) (siptest.Invite, string) {
	t.Helper()
	caller.run(fmt.Sprintf(`phone.call(%q)`, "sip:"+extensions[phone.User()]+"@callengine"))
	in := phone.waitInvite(ctx, caller)
	if in.Err != nil {
		t.Fatalf("%s's phone refused the INVITE's offer (488): %v\n%s", phone.User(), in.Err, in.Offer)
	}
	checkPlainRTPSDP(t, phone.User()+"'s INVITE", in.Offer)
	caller.waitJS("confirmed", `phone.state().session === 'confirmed'`)
	answer := caller.remoteSDP()
	checkBrowserSDP(t, "the answer to "+caller.name, answer)
	return in, answer
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

	bob := newUDPPhone(t, ctx, sipUDPAddr(t, s), "bob", "BOBPHONE")
	bob.register(ctx)
	alice := registeredJsSIP(t, pageURL, wsURL, "alice")
	in, answer := jssipCallsPhone(t, ctx, alice, bob)
	t.Logf("bob was offered: %s", mLines(in.Offer))
	t.Logf("alice was answered: %s", mLines(answer))

	r := bob.hears("alice (Chromium's microphone)")
	if own := bob.RTP().ReceivedFrom(bob.marker); own != 0 {
		t.Fatalf("bob receives his own audio back (%d packets): %+v", own, r)
	}
	a := alice.audioFlows()
	t.Logf("audio: alice received %d bytes, sent %d; bob received %d audio packets, sent %d", a.Inbound, a.Outbound, r.Audio, bob.RTP().Sent())

	alice.run(`phone.hangup()`)
	alice.waitJS("ended", `phone.state().session === 'ended'`)
	select {
	case id := <-bob.Byes():
		if id != in.Dialog.CallID {
			t.Fatalf("bob's phone got a BYE for %s, its call is %s", id, in.Dialog.CallID)
		}
	case <-time.After(wait):
		t.Fatalf("bob's phone got no BYE within %v", wait)
	case <-ctx.Done():
		t.Fatal("bob's phone got no BYE")
	}
	bob.RTP().Stop()
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

	bob := newUDPPhone(t, ctx, sipUDPAddr(t, s), "bob", "BOBPHONE")
	bob.register(ctx)
	alice := registeredJsSIP(t, pageURL, wsURL, "alice")

	req := bob.InviteRequest(extensions["alice"])
	type result struct {
		res *sip.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := bob.Do(ctx, req)
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
	d := siptest.CallerDialog(req, res)
	if err := bob.Ack(d); err != nil {
		t.Fatalf("bob's ACK: %v", err)
	}
	checkPlainRTPSDP(t, "the answer to bob", string(res.Body()))
	if err := bob.RTP().SetAnswer(string(res.Body())); err != nil {
		t.Fatalf("bob's phone refuses the answer: %v\n%s", err, res.Body())
	}
	bob.RTP().Start()

	alice.waitJS("confirmed", `phone.state().session === 'confirmed'`)
	offer := alice.remoteSDP()
	checkBrowserSDP(t, "alice's offer", offer)
	t.Logf("alice was offered: %s", mLines(offer))
	t.Logf("bob was answered: %s", mLines(string(res.Body())))

	r := bob.hears("alice (Chromium's microphone)")
	if own := bob.RTP().ReceivedFrom(bob.marker); own != 0 {
		t.Fatalf("bob receives his own audio back (%d packets): %+v", own, r)
	}
	a := alice.audioFlows()
	t.Logf("audio: alice received %d bytes, sent %d; bob received %d audio packets, sent %d", a.Inbound, a.Outbound, r.Audio, bob.RTP().Sent())

	bob.bye(ctx, d)
	bob.RTP().Stop()
	alice.waitJS("ended by bob", `phone.state().session === 'ended' && phone.state().end_originator === 'remote'`)
	s.metric(`callengine_calls_ended_total{reason="hangup"} 1`)

	c, out := journaledOneCall(t, s)
	if c.Caller.Client != "bob" || c.Callee.Client != "alice" || c.State != "ended" || c.Reason != "hangup" ||
		c.EndedBy != "caller" || c.ConnectAt == "" || !strings.HasPrefix(c.AnsweredDevice, "sip-") {
		t.Fatalf("the journal's call: %+v\n%s", c, out)
	}
}
