package sip

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/media"
	"github.com/callengine/callengine/media/mediatest"
)

// Relayed phones in Go: the engine and the adapter with a real media
// relay (RelayPhones), and phones made of sipgo's client and server with a
// real RTP endpoint each (mediatest.RTPPeer) on 127.0.0.1.

// relayHarness is an engine on a bbolt file, a relay, and the adapter
// relaying phone calls.
type relayHarness struct {
	eng   *engine.Engine
	ad    *Adapter
	relay *media.Relay
}

func newRelayHarness(t *testing.T, dir, udp string) *relayHarness {
	t.Helper()
	return newRelayHarnessWith(t, dir, udp, nil)
}

// newRelayHarnessWith is newRelayHarness with trunks as the engine's far
// end (nil: none).
func newRelayHarnessWith(t *testing.T, dir, udp string, ts *Trunks, tune ...func(*Settings)) *relayHarness {
	t.Helper()
	ctx := context.Background()
	cfg := engine.Config{DataDir: dir, Domain: DefaultRealm, RingTimeout: 20 * time.Second, NoHistory: true}
	if ts != nil {
		cfg.Adapter = ts
	}
	eng, err := engine.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	for _, spec := range testClients {
		if _, err := eng.Client(ctx, spec.ID); err == nil {
			continue
		}
		if _, err := eng.RegisterClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	relay, err := media.NewRelay(media.Settings{LoopbackOnly: true, HoldMusic: relayHoldMusic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	if udp == "" {
		udp = "127.0.0.1:0"
	}
	set := Settings{UDP: udp, TCP: "127.0.0.1:0", RingTimeout: 20 * time.Second, Logger: testLogger(),
		Media: relay, RelayPhones: true}
	for _, f := range tune {
		f(&set)
	}
	ad, err := New(eng, set)
	if err != nil {
		t.Fatal(err)
	}
	if ts != nil {
		ad.SetTrunks(ts)
	}
	if err := ad.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ad.Close() })
	return &relayHarness{eng: eng, ad: ad, relay: relay}
}

// goPhone is a SIP phone: it registers, calls, answers every INVITE with
// its RTP endpoint, answers re-INVITEs (taking the new SDP), NOTIFY and
// BYE, and sends in-dialog requests.
type goPhone struct {
	t      *testing.T
	ip     string
	user   string
	server string // the adapter's UDP address
	port   int
	cli    *sipgo.Client
	rtp    *mediatest.RTPPeer

	invited   chan *phoneDialog // new INVITEs answered
	offered   chan string       // the offers of new INVITEs, as they come
	reinvited chan string       // the SDPs of re-INVITEs answered
	notified  chan string       // NOTIFY bodies
	byes      chan string       // the Call-IDs of BYEs

	// transport, when set ("tls"), is the transport of its requests; such
	// a phone listens nowhere: it is reached through its connection, and
	// its Contact names an unreachable host (newTLSPhone).
	transport string

	mu   sync.Mutex
	rtps []*mediatest.RTPPeer // every RTP endpoint it used
	// early, when set, makes it answer a new INVITE with 183 and its SDP
	// first, sending RTP (early media), and 200 only once early is closed.
	early chan struct{}
}

// phoneDialog is a phone's dialog with the engine.
type phoneDialog struct {
	callID              string
	localTag, remoteTag string
	local, remote       sip.Uri
	target              sip.Uri
	cseq                uint32
	offer               string // the INVITE's SDP, for a dialog the phone answered
	diversion           string // the INVITE's Diversion header, if any
}

func newGoPhone(t *testing.T, ctx context.Context, server, user, marker string) *goPhone {
	t.Helper()
	return newGoPhoneOn(t, ctx, "127.0.0.1", server, user, marker)
}

// newGoPhoneOn is newGoPhone with its SIP on ip.
func newGoPhoneOn(t *testing.T, ctx context.Context, ip, server, user, marker string) *goPhone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	port := freePortOn(t, ip)
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip), sipgo.WithClientPort(port), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	p := &goPhone{t: t, ip: ip, user: user, server: server, port: port, cli: cli,
		invited: make(chan *phoneDialog, 4), offered: make(chan string, 8), reinvited: make(chan string, 8), notified: make(chan string, 8), byes: make(chan string, 8)}
	p.rtp = p.newRTP(marker)
	srv := p.answerRequests(ua)
	sctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() { _ = srv.ListenAndServe(sctx, "udp", ip+":"+strconv.Itoa(port)) }()
	time.Sleep(100 * time.Millisecond)
	return p
}

// answerRequests serves the requests that reach the phone's user agent:
// INVITE (answered with its RTP endpoint), ACK, BYE and NOTIFY.
func (p *goPhone) answerRequests(ua *sipgo.UserAgent) *sipgo.Server {
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		p.t.Fatal(err)
	}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.byes <- req.CallID().Value()
	})
	srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.notified <- string(req.Body())
	})
	return srv
}

// newRTP opens another RTP endpoint of the phone.
func (p *goPhone) newRTP(marker string) *mediatest.RTPPeer {
	r, err := mediatest.NewRTPPeer(marker)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { r.Close() })
	p.mu.Lock()
	p.rtps = append(p.rtps, r)
	p.mu.Unlock()
	return r
}

func (p *goPhone) contact() string {
	if p.transport != "" {
		return "<sip:" + p.user + "@" + p.user + "-phone.invalid:5061;transport=" + p.transport + ">"
	}
	return "<sip:" + p.user + "@" + p.ip + ":" + strconv.Itoa(p.port) + ">"
}

func (p *goPhone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	r := p.rtp
	p.mu.Unlock()
	answer, err := r.Answer(string(req.Body()))
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	reinvite := false
	if tag, ok := req.To().Params.Get("tag"); ok && tag != "" {
		reinvite = true
	}
	if !reinvite {
		select {
		case p.offered <- string(req.Body()):
		default:
		}
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", []byte(answer))
	d := &phoneDialog{callID: req.CallID().Value(), local: req.To().Address, remote: req.From().Address, target: req.Contact().Address, offer: string(req.Body())}
	if h := req.GetHeader("Diversion"); h != nil {
		d.diversion = h.Value()
	}
	if !reinvite {
		d.localTag = sip.GenerateTagN(8)
		res.To().Params.Add("tag", d.localTag)
		d.remoteTag, _ = req.From().Params.Get("tag")
	}
	p.mu.Lock()
	early := p.early
	p.mu.Unlock()
	if early != nil && !reinvite {
		progress := sip.NewResponseFromRequest(req, 183, "Session Progress", []byte(answer))
		progress.To().Params.Add("tag", d.localTag)
		progress.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		progress.AppendHeader(sip.NewHeader("Contact", p.contact()))
		_ = tx.Respond(progress)
		r.Start()
		select {
		case <-early:
		case <-time.After(10 * time.Second):
		}
	}
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Contact", p.contact()))
	_ = tx.Respond(res)
	if reinvite {
		p.reinvited <- string(req.Body())
	} else {
		p.invited <- d
	}
	select {
	case <-tx.Acks():
	case <-time.After(5 * time.Second):
	}
}

// do sends req, answering a digest challenge.
func (p *goPhone) do(ctx context.Context, req *sip.Request) *sip.Response {
	p.t.Helper()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatal(err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		pw := password(p.user)
		if p.user == dave.ID {
			pw = dave.Password
		}
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: pw})
		if err != nil {
			p.t.Fatal(err)
		}
	}
	return res
}

func (p *goPhone) outOfDialog(method sip.RequestMethod, to string) *sip.Request {
	host, port, _ := sip.ParseAddr(p.server)
	ruri := sip.Uri{Scheme: "sip", User: to, Host: host, Port: port, UriParams: sip.NewParams()}
	if p.transport != "" {
		ruri.UriParams.Add("transport", p.transport)
	}
	req := sip.NewRequest(method, ruri)
	f := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: host}, Params: sip.NewParams()}
	f.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(f)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: host}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Contact", p.contact()))
	p.fromOwnAddress(req)
	return req
}

// fromOwnAddress makes a phone on another address than 127.0.0.1 (a
// trunk's) send req from its listening socket, so that its source is its
// own address.
func (p *goPhone) fromOwnAddress(req *sip.Request) {
	if p.ip != "127.0.0.1" && p.transport == "" {
		req.Laddr = sip.Addr{IP: net.ParseIP(p.ip), Port: p.port}
	}
}

func (p *goPhone) register(ctx context.Context) {
	p.t.Helper()
	req := p.outOfDialog(sip.REGISTER, p.user)
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	if res := p.do(ctx, req); res.StatusCode != 200 {
		p.t.Fatalf("REGISTER %s: %d", p.user, res.StatusCode)
	}
}

// call dials to (an extension), ACKs the 200, sends RTP to the answer and
// returns the dialog.
func (p *goPhone) call(ctx context.Context, to string) (*phoneDialog, string) {
	p.t.Helper()
	req := p.outOfDialog(sip.INVITE, to)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(p.rtp.Offer()))
	res := p.do(ctx, req)
	if res.StatusCode != 200 {
		p.t.Fatalf("%s: INVITE %s: %d", p.user, to, res.StatusCode)
	}
	d := &phoneDialog{callID: req.CallID().Value(), local: req.From().Address, remote: req.To().Address,
		target: res.Contact().Address, cseq: res.CSeq().SeqNo}
	d.localTag, _ = req.From().Params.Get("tag")
	d.remoteTag, _ = res.To().Params.Get("tag")
	ack := p.inDialog(d, sip.ACK)
	if err := p.cli.WriteRequest(ack); err != nil {
		p.t.Fatal(err)
	}
	if err := p.rtp.SetAnswer(string(res.Body())); err != nil {
		p.t.Fatal(err)
	}
	p.rtp.Start()
	return d, string(res.Body())
}

// inDialog is a request of dialog d (an ACK reuses the last CSeq).
func (p *goPhone) inDialog(d *phoneDialog, method sip.RequestMethod) *sip.Request {
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
	p.fromOwnAddress(req)
	return req
}

// send sends an in-dialog request and returns its final response.
func (p *goPhone) send(ctx context.Context, req *sip.Request) *sip.Response {
	p.t.Helper()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatal(err)
	}
	return res
}

// referTo sends REFER on d with Refer-To target; with replaces (the
// phone's other dialog) an attended transfer.
func (p *goPhone) refer(ctx context.Context, d *phoneDialog, target string, replaces *phoneDialog) *sip.Response {
	p.t.Helper()
	req := p.inDialog(d, sip.REFER)
	v := "<sip:" + target + "@" + p.server
	if replaces != nil {
		v += "?Replaces=" + url.PathEscape(replaces.callID+";to-tag="+replaces.remoteTag+";from-tag="+replaces.localTag)
	}
	req.AppendHeader(sip.NewHeader("Refer-To", v+">"))
	return p.send(ctx, req)
}

// waitInvite waits for a new INVITE the phone answered.
func (p *goPhone) waitInvite(ctx context.Context) *phoneDialog {
	p.t.Helper()
	select {
	case d := <-p.invited:
		return d
	case <-ctx.Done():
		p.t.Fatalf("%s was not invited", p.user)
		return nil
	}
}

// waitBye waits for a BYE.
func (p *goPhone) waitBye(ctx context.Context) string {
	p.t.Helper()
	select {
	case id := <-p.byes:
		return id
	case <-ctx.Done():
		p.t.Fatalf("%s got no BYE", p.user)
		return ""
	}
}

// rtpFlowing reports whether r hears marker now.
func rtpFlowing(r *mediatest.RTPPeer, marker string) bool {
	before := r.ReceivedFrom(marker)
	time.Sleep(300 * time.Millisecond)
	return r.ReceivedFrom(marker) > before+3
}

func eventuallyTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var mAudio = regexp.MustCompile(`m=audio (\d+) RTP/S?AVP([ 0-9]*)`)

// sdpAudio is the port and the payload types of an SDP's m=audio line.
func sdpAudio(t *testing.T, desc string) (int, string) {
	t.Helper()
	m := mAudio.FindStringSubmatch(desc)
	if m == nil {
		t.Fatalf("no m=audio in:\n%s", desc)
	}
	n, _ := strconv.Atoi(m[1])
	return n, m[2]
}

// newRTPLocked is newRTP with p.mu held.
func (p *goPhone) newRTPLocked(marker string) *mediatest.RTPPeer {
	r, err := mediatest.NewRTPPeer(marker)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { r.Close() })
	p.rtps = append(p.rtps, r)
	return r
}

func contentSDP() sip.Header { return sip.NewHeader("Content-Type", "application/sdp") }

func sipHeader(name, value string) sip.Header { return sip.NewHeader(name, value) }
