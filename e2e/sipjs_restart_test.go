package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A call between a browser SIP stack and a desk phone survives a SIGKILL
// of serve. After the restart (the same data directory, the same SIP and
// ws addresses) the SIP adapter restores both dialogs from the journal;
// the phone's relay leg comes back on its port (the phone gets no request
// at all), while the browser's WebRTC leg cannot (its DTLS died with the
// process): once JsSIP has reconnected its WebSocket and registered again,
// serve re-INVITEs it with the relay's new offer — new ICE credentials and
// a new DTLS fingerprint — and Chromium has to take that mid-session.

// startSIPServerOnFixedPorts is startSIPServer on ports chosen here, so
// that a restart of the server listens where the phones know it: SIP over
// UDP, TCP and ws. It returns the server, the ws URL and the UDP address.
func startSIPServerOnFixedPorts(t *testing.T) (*server, string, string) {
	t.Helper()
	udp := freeLocalAddr(t, "udp")
	tcp := freeLocalAddr(t, "tcp")
	ws := freeLocalAddr(t, "tcp")
	for ws == tcp {
		ws = freeLocalAddr(t, "tcp")
	}
	s := startServerWith(t, serveConfig+fmt.Sprintf("sip:\n  udp: %s\n  tcp: %s\n  ws: %s\n", udp, tcp, ws))
	if !strings.Contains(s.log.String(), "ws="+ws) {
		t.Fatalf("serve does not listen for SIP over WebSocket on %s:\n%s", ws, tail(s.log.String(), 20))
	}
	if got := sipUDPAddr(t, s); got != udp {
		t.Fatalf("serve listens for SIP over UDP on %s, not on %s", got, udp)
	}
	return s, "ws://" + ws, udp
}

// freeLocalAddr is a port of 127.0.0.1 free at the moment on network.
func freeLocalAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sipRequests records the requests a udpPhone receives (on top of what
// the phone does with them): its first line and its CSeq, in order.
type sipRequests struct {
	mu   sync.Mutex
	seen []string
}

// watchRequests makes p's SIP transport report every request to the
// returned log. Call it before the phone sends anything (the transport's
// handlers are not guarded for changes while messages arrive).
func watchRequests(p *udpPhone) *sipRequests {
	r := &sipRequests{}
	p.Client().TransportLayer().OnMessage(func(m sip.Message) {
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		line := req.StartLine()
		if c := req.CSeq(); c != nil {
			line += " (CSeq " + c.Value() + ")"
		}
		r.mu.Lock()
		r.seen = append(r.seen, time.Now().Format("15:04:05.000")+" "+line)
		r.mu.Unlock()
	})
	return r
}

func (r *sipRequests) since(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen[min(n, len(r.seen)):]...)
}

func (r *sipRequests) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// watchUAJS records, in the page, what the test needs to see of JsSIP
// across the restart: the UA's transport and registration events, and
// every SIP message it sends and receives (by wrapping its Transport's
// send and ondata: JsSIP has no public hook for that; it changes nothing
// of what JsSIP does).
const watchUAJS = `(() => {
  const w = window.restartWatch = {log: [], trace: [], registered: 0, disconnected: 0, connected: 0, reinvites: []};
  const at = () => (performance.now() / 1000).toFixed(3);
  w.note = m => w.log.push(at() + ' ' + m);
  const ua = phone.ua;
  ua.on('connected', () => { w.connected++; w.note('ws connected'); });
  ua.on('disconnected', () => { w.disconnected++; w.note('ws disconnected'); });
  ua.on('registered', () => { w.registered++; w.note('registered'); });
  ua.on('unregistered', () => w.note('unregistered'));
  ua.on('registrationFailed', e => w.note('registrationFailed ' + e.cause));
  const tr = ua._transport;
  const send = tr.send;
  tr.send = function (m) {
    const s = m.toString();
    w.trace.push({t: at(), dir: 'out', msg: s});
    return send.call(this, s);
  };
  const ondata = tr.ondata;
  tr.ondata = function (d) {
    w.trace.push({t: at(), dir: 'in', msg: String(d.message)});
    return ondata.call(this, d);
  };
})()`

// watchSessionJS adds the session's events and its peer connection's
// states to the record (the session exists: the call is up).
const watchSessionJS = `(() => {
  const w = window.restartWatch, s = phone.session, pc = s.connection;
  s.on('reinvite', e => { w.reinvites.push(e.request.body || ''); w.note('reinvite'); });
  s.on('update', () => w.note('update'));
  s.on('sdp', e => w.note('sdp ' + e.originator + ' ' + e.type));
  s.on('hold', e => w.note('hold ' + e.originator));
  s.on('unhold', e => w.note('unhold ' + e.originator));
  for (const n of ['setremotedescriptionfailed', 'createanswerfailed', 'setlocaldescriptionfailed', 'createofferfailed']) {
    s.on('peerconnection:' + n, err => w.note(n + ': ' + String(err && (err.message || err))));
  }
  s.on('ended', e => w.note('ended ' + e.originator + ' ' + e.cause));
  s.on('failed', e => w.note('failed ' + e.originator + ' ' + e.cause));
  pc.addEventListener('iceconnectionstatechange', () => w.note('ice ' + pc.iceConnectionState));
  pc.addEventListener('connectionstatechange', () => w.note('pc ' + pc.connectionState));
  pc.addEventListener('signalingstatechange', () => w.note('signaling ' + pc.signalingState));
  w.dtls = async () => {
    const tr = pc.getSenders().map(x => x.transport).find(x => x);
    if (!tr) return {state: 'none', cert: ''};
    let cert = '';
    const certs = tr.getRemoteCertificates ? tr.getRemoteCertificates() : [];
    if (certs.length) {
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', certs[0]));
      cert = Array.from(d, b => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
    }
    return {state: tr.state, ice: pc.iceConnectionState, pc: pc.connectionState, cert};
  };
})()`

type sipTraceEntry struct {
	T   string `json:"t"`
	Dir string `json:"dir"`
	Msg string `json:"msg"`
}

type watchState struct {
	Log          []string        `json:"log"`
	Trace        []sipTraceEntry `json:"trace"`
	Registered   int             `json:"registered"`
	Disconnected int             `json:"disconnected"`
	Connected    int             `json:"connected"`
	Reinvites    []string        `json:"reinvites"`
}

func (p sipPhone) watch() watchState {
	p.t.Helper()
	w, err := eval[watchState](p.person, `(({log, trace, registered, disconnected, connected, reinvites}) => ({log, trace, registered, disconnected, connected, reinvites}))(window.restartWatch)`)
	if err != nil {
		p.t.Logf("%s: the page's record is unreadable: %v", p.name, err)
	}
	return w
}

type dtlsState struct {
	State string `json:"state"`
	ICE   string `json:"ice"`
	PC    string `json:"pc"`
	Cert  string `json:"cert"` // SHA-256 of the remote certificate, as in a=fingerprint
}

func (p sipPhone) dtls() dtlsState {
	p.t.Helper()
	d, err := eval[dtlsState](p.person, `window.restartWatch.dtls()`)
	if err != nil {
		p.t.Logf("%s: DTLS state unreadable: %v", p.name, err)
	}
	return d
}

// waitWatch polls the page's record until ok holds, or fails with why
// and JsSIP's events (the test's cleanup logs the SIP messages).
func (p sipPhone) waitWatch(what string, d time.Duration, ok func(watchState) bool, why func(watchState) string) watchState {
	p.t.Helper()
	var w watchState
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		w = p.watch()
		if ok(w) {
			return w
		}
		if why != nil {
			if msg := why(w); msg != "" {
				p.t.Fatalf("%s: %s: %s\nJsSIP events: %s", p.name, what, msg, strings.Join(w.Log, " | "))
			}
		}
	}
	p.t.Fatalf("%s: not %s within %v\nJsSIP events: %s", p.name, what, d, strings.Join(w.Log, " | "))
	return w
}

// describeWatch is the page's record for a failure: the events, and the
// SIP messages other than REGISTERs whole (REGISTER by first line).
func describeWatch(w watchState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "JsSIP events: %s\nSIP over ws:\n", strings.Join(w.Log, " | "))
	for _, e := range w.Trace {
		first, _, _ := strings.Cut(e.Msg, "\r\n")
		if strings.Contains(cseqOf(e.Msg), "REGISTER") {
			fmt.Fprintf(&b, "  %s %s %s\n", e.T, e.Dir, first)
			continue
		}
		fmt.Fprintf(&b, "  %s %s:\n    %s\n", e.T, e.Dir, strings.ReplaceAll(strings.TrimSpace(e.Msg), "\r\n", "\n    "))
	}
	return b.String()
}

// toTagRE finds a To header with a tag: an in-dialog request.
var toTagRE = regexp.MustCompile(`(?mi)^(To|t)\s*:.*;\s*tag=`)

func cseqOf(msg string) string {
	for l := range strings.SplitSeq(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "CSeq") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// reinviteExchange finds, in the trace after index from, the first
// re-INVITE JsSIP received (an INVITE with a To tag) and the final
// response it sent to it ("" while none).
func reinviteExchange(w watchState, from int) (req, res string) {
	var cseq string
	for _, e := range w.Trace[min(from, len(w.Trace)):] {
		switch {
		case req == "" && e.Dir == "in" && strings.HasPrefix(e.Msg, "INVITE ") && toTagRE.MatchString(e.Msg):
			req, cseq = e.Msg, cseqOf(e.Msg)
		case req != "" && e.Dir == "out" && strings.HasPrefix(e.Msg, "SIP/2.0 ") && cseqOf(e.Msg) == cseq:
			if code := e.Msg[len("SIP/2.0 "):min(len(e.Msg), len("SIP/2.0 ")+3)]; code >= "200" {
				return req, e.Msg
			}
		}
	}
	return req, ""
}

// lastMessage is the last message of the trace that went dir, starts
// with prefix and has a CSeq of method (the INVITE's body, say).
func lastMessage(w watchState, dir, prefix, method string) string {
	var found string
	for _, e := range w.Trace {
		if e.Dir == dir && strings.HasPrefix(e.Msg, prefix) && strings.HasSuffix(cseqOf(e.Msg), " "+method) {
			found = e.Msg
		}
	}
	return found
}

// sdpAttr is the value of the first a=name: line of desc.
func sdpAttr(desc, name string) string {
	for l := range strings.SplitSeq(desc, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a="+name+":"); ok {
			return v
		}
	}
	return ""
}

func sipBody(msg string) string {
	_, body, _ := strings.Cut(msg, "\r\n\r\n")
	return body
}

// legRecord is what the test reads of a journaled SIP dialog record: its
// size and whether it kept the SDP bodies (serve drops them from a record
// larger than events.MaxLegData, 4096 bytes).
type legRecord struct {
	Bytes     int
	SentSDP   int // bytes of the SDP serve sent the phone (0: not in the record)
	RemoteSDP int // bytes of the SDP the phone sent
	Target    string
}

func (r legRecord) String() string {
	return fmt.Sprintf("{%d bytes, sdp_sent %d bytes, sdp_remote %d bytes, target %s}", r.Bytes, r.SentSDP, r.RemoteSDP, r.Target)
}

// journaledLegs is the call of the running server's journal (a copy taken
// with callengine backup) and the latest SIP dialog record of each side.
func journaledLegs(t *testing.T, ctx context.Context, s *server) (string, map[string]legRecord) {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "journal.db")
	if out, err := exec.CommandContext(ctx, binPath, "backup", "--data", s.data, "--out", cp, "--timeout", "10s").CombinedOutput(); err != nil {
		t.Logf("callengine backup: %v\n%s", err, out)
		return "", nil
	}
	out, err := exec.CommandContext(ctx, binPath, "replay", cp, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("callengine replay: %v\n%s", err, out)
	}
	var journal struct {
		Calls []struct {
			ID   string
			Live bool
		}
	}
	if err := json.Unmarshal(out, &journal); err != nil {
		t.Fatalf("callengine replay --json: %v\n%s", err, out)
	}
	if len(journal.Calls) != 1 {
		return "", nil
	}
	id := journal.Calls[0].ID
	out, err = exec.CommandContext(ctx, binPath, "replay", cp, "--call", id, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("callengine replay --call %s: %v\n%s", id, err, out)
	}
	var tl struct {
		Timeline []struct {
			Event struct {
				Data struct {
					Side    string `json:"side"`
					Adapter string `json:"adapter"`
					Data    []byte `json:"data"`
				} `json:"data"`
			} `json:"event"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal(out, &tl); err != nil {
		t.Fatalf("callengine replay --call --json: %v\n%s", err, out)
	}
	sides := map[string]legRecord{}
	for _, st := range tl.Timeline {
		ev := st.Event.Data
		if ev.Adapter != "sip" || ev.Side == "" {
			continue
		}
		var rec struct {
			SentSDP   []byte `json:"sdp_sent"`
			RemoteSDP []byte `json:"sdp_remote"`
			Target    string `json:"remote_target"`
		}
		if err := json.Unmarshal(ev.Data, &rec); err != nil {
			t.Fatalf("the %s's dialog record is not JSON: %v\n%s", ev.Side, err, ev.Data)
		}
		sides[ev.Side] = legRecord{Bytes: len(ev.Data), SentSDP: len(rec.SentSDP), RemoteSDP: len(rec.RemoteSDP), Target: rec.Target}
	}
	return id, sides
}

// serveLines are the lines of serve's log since its start n that have
// one of subs.
func serveLines(s *server, n int, subs ...string) string {
	log := s.log.String()
	if i := strings.Index(log, fmt.Sprintf("---- start %d\n", n)); i >= 0 {
		log = log[i:]
	}
	var out []string
	for l := range strings.SplitSeq(log, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// JsSIP (alice, in Chromium, over ws) calls a UDP desk phone (bob); audio
// flows both ways through serve's relay; serve is killed with SIGKILL and
// started again on the same data directory and addresses. JsSIP
// reconnects and registers again by itself; serve re-INVITEs it with the
// relay's new WebRTC offer (new ICE credentials, a new DTLS fingerprint),
// which Chromium must answer 200; audio flows both ways again; bob gets no
// request at all across the restart; bob's BYE ends alice's session and
// the call, hung up, in the journal.
func TestJsSIPCallSurvivesSIGKILL(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, wsURL, udpAddr := startSIPServerOnFixedPorts(t)
	pageURL := sipjsPage(t)

	bob := newUDPPhone(t, ctx, udpAddr, "bob", "BOBPHONE")
	bobReqs := watchRequests(bob)
	bob.register(ctx)
	alice := openSIPPhone(t, pageURL, "alice")
	alice.run(fmt.Sprintf(`phone.start(%q, %q, %q)`, wsURL, "alice", passwords["alice"]))
	alice.run(watchUAJS)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("alice's record:\n%s", describeWatch(alice.watch()))
			t.Logf("bob's requests: %s", strings.Join(bobReqs.since(0), " | "))
		}
	})
	alice.waitJS("registered", `phone.state().registered`)

	// The call, as in TestJsSIPCallsUDPPhone.
	in, answer := jssipCallsPhone(t, ctx, alice, bob)
	alice.run(watchSessionJS)
	r := bob.hears("alice (Chromium's microphone)")
	if own := bob.RTP().ReceivedFrom(bob.marker); own != 0 {
		t.Fatalf("bob receives his own audio back (%d packets): %+v", own, r)
	}
	a := alice.audioFlows()
	dtls1 := alice.dtls()
	t.Logf("before the kill: audio: alice received %d bytes, sent %d; bob received %d audio packets; alice's DTLS %+v", a.Inbound, a.Outbound, r.Audio, dtls1)
	if dtls1.State != "connected" || !strings.EqualFold(dtls1.Cert, strings.TrimPrefix(sdpAttr(answer, "fingerprint"), "sha-256 ")) {
		t.Fatalf("alice's DTLS %+v is not with the answer's certificate %q", dtls1, sdpAttr(answer, "fingerprint"))
	}

	// Both dialogs are in the journal before the kill: the records are
	// journaled when each dialog is confirmed.
	var callID string
	var records map[string]legRecord
	for deadline := time.Now().Add(wait); ; time.Sleep(250 * time.Millisecond) {
		callID, records = journaledLegs(t, ctx, s)
		if len(records) == 2 {
			t.Logf("call %s: dialog records journaled: %v", callID, records)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal has no dialog record of both sides within %v: call %q, records %v", wait, callID, records)
		}
	}
	// A relayed leg is restored from the relay's SDP its record keeps
	// (JsSIP's offer, over 1.5 KB, may be shed to fit the journal's
	// 4 KiB): without it serve cannot rebuild alice's leg nor re-INVITE
	// her.
	if rec := records["caller"]; rec.SentSDP == 0 {
		t.Fatalf("alice's dialog record (%v) kept no SDP of the relay's", rec)
	}

	// SIGKILL, and a restart on the same data directory and addresses.
	bobBefore, bobReqsBefore := bob.RTP().Received(), bobReqs.count()
	traceBefore := len(alice.watch().Trace)
	killedAt := time.Now()
	s.kill()
	alice.waitWatch("disconnected by the kill", wait, func(w watchState) bool { return w.Disconnected > 0 }, nil)
	s.start()
	restartedAt := time.Now()
	t.Logf("serve killed and ready again in %v", restartedAt.Sub(killedAt).Round(time.Millisecond))
	if !strings.Contains(serveLines(s, 2, "SIP dialogs restored"), "calls=1") {
		t.Fatalf("serve restored no dialogs:\n%s", tail(s.log.String(), 40))
	}
	bobGap := bob.RTP().Received()

	// JsSIP comes back by itself: it reconnects (phone.html asks for a
	// recovery interval of 1 to 2 s) and registers again.
	w := alice.waitWatch("registered again", wait, func(w watchState) bool { return w.Registered >= 2 }, nil)
	t.Logf("alice: %s", strings.Join(w.Log, " | "))

	// serve re-INVITEs her with the relay's new offer; JsSIP answers.
	var reinvite, response string
	w = alice.waitWatch("re-INVITEd and answered", wait, func(w watchState) bool {
		reinvite, response = reinviteExchange(w, traceBefore)
		return response != ""
	}, func(w watchState) string {
		if st := alice.state(); strings.Contains(st, `"session":"ended"`) || strings.Contains(st, `"session":"failed"`) {
			return "the session is over: " + st
		}
		return ""
	})
	code := response[len("SIP/2.0 "):]
	code, _, _ = strings.Cut(code, "\r\n")
	offer := sipBody(reinvite)
	t.Logf("alice was re-INVITEd %v after the restart: %s", time.Since(restartedAt).Round(time.Millisecond), mLines(offer))
	t.Logf("the re-INVITE's fingerprint %q (before: %q), ice-ufrag %q (before: %q), setup %q; JsSIP answered %s with setup %q",
		sdpAttr(offer, "fingerprint"), sdpAttr(answer, "fingerprint"), sdpAttr(offer, "ice-ufrag"), sdpAttr(answer, "ice-ufrag"),
		sdpAttr(offer, "setup"), code, sdpAttr(sipBody(response), "setup"))
	if !strings.HasPrefix(code, "200") {
		t.Fatalf("Chromium/JsSIP refused the re-INVITE after the restart: %s\nJsSIP events: %s\nthe re-INVITE:\n%s\nthe response:\n%s\nserve:\n%s",
			code, strings.Join(w.Log, " | "), reinvite, response, serveLines(s, 2, "re-INVITE", "browser", "restore", "relay"))
	}
	if len(w.Reinvites) == 0 {
		t.Fatalf("JsSIP answered the re-INVITE but its session emitted no 'reinvite'; JsSIP events: %s", strings.Join(w.Log, " | "))
	}
	if sdpAttr(offer, "fingerprint") == sdpAttr(answer, "fingerprint") {
		t.Fatalf("the re-INVITE after the restart has the old DTLS fingerprint %q", sdpAttr(offer, "fingerprint"))
	}
	checkBrowserSDP(t, "the re-INVITE to alice", offer)
	if rs := alice.remoteSDP(); !strings.Contains(rs, sdpAttr(offer, "fingerprint")) {
		t.Fatalf("alice's peer connection did not take the re-INVITE's offer:\n%s", rs)
	}

	// The media comes back: DTLS with the relay's new certificate, then
	// audio both ways.
	var dtls2 dtlsState
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		dtls2 = alice.dtls()
		if dtls2.State == "connected" && dtls2.Cert != dtls1.Cert {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's DTLS not connected to the relay's new certificate within %v: %+v (before the kill %+v)\n%s\nserve:\n%s",
				wait, dtls2, dtls1, strings.Join(alice.watch().Log, " | "), serveLines(s, 2, "re-INVITE", "browser", "restore", "relay", "ice", "dtls", "DTLS"))
		}
	}
	if !strings.EqualFold(dtls2.Cert, strings.TrimPrefix(sdpAttr(offer, "fingerprint"), "sha-256 ")) {
		t.Fatalf("alice's DTLS certificate %s is not the re-INVITE's fingerprint %q", dtls2.Cert, sdpAttr(offer, "fingerprint"))
	}
	r2 := bob.hears("alice again after the restart")
	a2 := alice.audioFlows()
	t.Logf("after the restart: DTLS %+v; alice received %d bytes, sent %d; bob received %d audio packets (%d at the kill, %d when serve was ready again), %d streams, %d lost",
		dtls2, a2.Inbound, a2.Outbound, r2.Audio, bobBefore.Audio, bobGap.Audio, r2.SSRCs, r2.Lost)
	if own := bob.RTP().ReceivedFrom(bob.marker); own != 0 {
		t.Fatalf("bob receives his own audio back (%d packets): %+v", own, r2)
	}
	t.Logf("serve after the restart:\n%s", serveLines(s, 2, "SIP dialogs restored", "re-INVITE", "browser SIP stack", "relay leg"))
	if _, recs := journaledLegs(t, ctx, s); len(recs) > 0 {
		t.Logf("the dialog records after the re-INVITE: %v", recs)
	}

	// bob got no request across the restart: no re-INVITE, nothing.
	if got := bobReqs.since(bobReqsBefore); len(got) != 0 {
		t.Fatalf("bob's phone got requests across the restart: %s", strings.Join(got, " | "))
	}

	// bob hangs up: his BYE reaches the restored dialog, alice's session
	// ends, and so does the call.
	bob.bye(ctx, in.Dialog)
	bob.RTP().Stop()
	alice.waitJS("ended by bob", `phone.state().session === 'ended' && phone.state().end_originator === 'remote'`)
	s.metric(`callengine_calls_ended_total{reason="hangup"} 1`)
	c, out := journaledOneCall(t, s)
	if c.Caller.Client != "alice" || c.Callee.Client != "bob" || c.State != "ended" || c.Reason != "hangup" ||
		c.EndedBy != "callee" || c.ConnectAt == "" || !strings.HasPrefix(c.AnsweredDevice, "sip-") {
		t.Fatalf("the journal's call %s: %+v\n%s", callID, c, out)
	}
	t.Logf("the whole test took %v", time.Since(start).Round(time.Millisecond))
}
