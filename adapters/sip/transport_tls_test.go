package sip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/internal/testcert"
)

// testCert is a self-signed certificate for 127.0.0.1 and 127.0.0.2 (the
// trunk's address) and the pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	c, err := testcert.New(net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	return c.TLS, c.Roots
}

// withTLS listens for SIP over TLS and over secure WebSocket on free
// loopback ports with cert.
func withTLS(cert tls.Certificate) func(*Settings) {
	return func(s *Settings) {
		s.TLS, s.WSS = "127.0.0.1:0", "127.0.0.1:0"
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
}

// newTLSPhone is a phone on SIP over transport ("tls" or "wss") to server
// (the adapter's address for it), trusting roots. It listens nowhere: its Contact names a host
// that does not exist, so every request of the adapter must come back
// through the connection the phone opened.
func newTLSPhone(t *testing.T, ctx context.Context, transport, server, user, marker string, roots *x509.CertPool) *goPhone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: roots}),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	p := &goPhone{t: t, ip: "127.0.0.1", user: user, server: server, cli: cli, transport: transport,
		invited: make(chan *phoneDialog, 4), reinvited: make(chan string, 8), notified: make(chan string, 8), byes: make(chan string, 8)}
	p.rtp = p.newRTP(marker)
	p.answerRequests(ua)
	return p
}

// A phone on SIP over TLS registers (digest), calls a phone on UDP and is
// called by it: its INVITE, the adapter's INVITE to it and the BYEs go
// over its one TLS connection (its Contact is unreachable), audio flows
// both ways through the relay, and its binding names transport tls.
func TestTLSPhoneCallsBothWays(t *testing.T) { securePhoneCalls(t, "tls", false) }

// The same over secure WebSocket (wss://, a browser SIP stack's transport
// on an https page).
func TestWSSPhoneCallsBothWays(t *testing.T) { securePhoneCalls(t, "wss", false) }

// The same with Settings.SRTP SRTPOverTLS, alice's phone on SRTP: the
// relay answers her SRTP offer with SRTP and offers bob, on UDP, plain RTP;
// when bob calls her, she (on TLS) is offered SRTP. Audio flows both ways
// each time, encrypted on her side only.
func TestTLSPhoneOnSRTP(t *testing.T) { securePhoneCalls(t, "tls", true) }

func securePhoneCalls(t *testing.T, transport string, srtp bool) {
	cert, roots := testCert(t)
	h := newRelayHarnessWith(t, t.TempDir(), "", nil, withTLS(cert), func(s *Settings) {
		if srtp {
			s.SRTP = SRTPOverTLS
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := h.ad.Addr(transport)
	if addr == "" {
		t.Fatalf("no %s listener", transport)
	}
	alice := newTLSPhone(t, ctx, transport, addr, "alice", "ALICE", roots)
	if srtp {
		if err := alice.rtp.UseSRTP(); err != nil {
			t.Fatal(err)
		}
	}
	alice.register(ctx)
	bob := relayPhones(t, ctx, h, "bob")[0]
	devs, err := h.eng.Client(ctx, "alice")
	if err != nil || len(devs.Devices) != 1 || !strings.Contains(devs.Devices[0].Contact, "transport="+transport) {
		t.Fatalf("alice's binding: %+v %v", devs.Devices, err)
	}

	// alice calls bob.
	da, _ := alice.call(ctx, "1002")
	if !strings.Contains(da.target.String(), "transport="+transport) {
		t.Errorf("the adapter's Contact to a %s phone: %s", transport, da.target.String())
	}
	if d := bob.waitInvite(ctx); srtp && (strings.Contains(d.offer, "SAVP") || strings.Contains(d.offer, "crypto")) {
		t.Errorf("bob, on UDP, was offered SRTP:\n%s", d.offer)
	}
	bob.rtp.Start()
	eventuallyTrue(t, "bob hears alice", func() bool { return bob.rtp.ReceivedFrom("ALICE") > 10 })
	eventuallyTrue(t, "alice hears bob", func() bool { return alice.rtp.ReceivedFrom("BOB") > 10 })
	calls, err := h.eng.Calls(ctx, "alice")
	if err != nil || len(calls) != 1 {
		t.Fatalf("alice's calls: %+v %v", calls, err)
	}
	if _, err := h.eng.Hangup(ctx, calls[0].ID, engine.Callee); err != nil {
		t.Fatal(err)
	}
	alice.waitBye(ctx) // through her connection
	bob.waitBye(ctx)

	// bob calls alice: the INVITE reaches her through her connection.
	alice.rtp.Stop()
	alice.mu.Lock() // her INVITE handler reads it
	alice.rtp = alice.newRTPLocked("ALICE")
	if srtp {
		if err := alice.rtp.UseSRTP(); err != nil {
			t.Fatal(err)
		}
	}
	alice.mu.Unlock()
	db, _ := bob.call(ctx, "1001")
	if d := alice.waitInvite(ctx); srtp && (!strings.Contains(d.offer, "RTP/SAVP") || !strings.Contains(d.offer, "a=crypto:")) {
		t.Errorf("alice, on %s, was not offered SRTP:\n%s", transport, d.offer)
	}
	alice.rtp.Start()
	eventuallyTrue(t, "bob hears alice again", func() bool { return bob.rtp.ReceivedFrom("ALICE") > 10 })
	if srtp {
		eventuallyTrue(t, "alice hears bob", func() bool { return alice.rtp.ReceivedFrom("BOB") > 10 })
		if n := alice.rtp.SRTPFailures(); n != 0 {
			t.Errorf("alice's phone failed to authenticate %d packets", n)
		}
	}
	if res := bob.send(ctx, bob.inDialog(db, "BYE")); res.StatusCode != 200 {
		t.Fatalf("bob's BYE: %d", res.StatusCode)
	}
	alice.waitBye(ctx)
}

// A trunk over TLS without a TLS listener is refused at Start.
func TestTLSTrunkNeedsListener(t *testing.T) {
	eng, err := engine.Open(context.Background(), engine.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ts, err := NewTrunks([]Trunk{{Name: "secure", Address: "127.0.0.2:5061", Transport: "tls"}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(eng, Settings{UDP: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	a.SetTrunks(ts)
	if err := a.Start(context.Background()); !errors.Is(err, errTLSTrunkNoListener) {
		a.Close()
		t.Fatalf("Start with a TLS trunk and no TLS listener: %v", err)
	}
}

// TLS without a certificate is refused at Start, and nothing listens.
func TestTLSNeedsCertificate(t *testing.T) {
	eng, err := engine.Open(context.Background(), engine.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	a, err := New(eng, Settings{UDP: "127.0.0.1:0", TLS: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "TLSConfig") {
		a.Close()
		t.Fatalf("Start without a certificate: %v", err)
	}
}

// newTLSTrunk is a trunk that takes calls over TLS on trunkIP with cert:
// it answers every INVITE with its RTP endpoint.
func newTLSTrunk(t *testing.T, ctx context.Context, cert tls.Certificate, tune ...func(*tls.Config)) *goPhone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	p := &goPhone{t: t, ip: trunkIP, user: "trunk", port: freePortOn(t, trunkIP),
		invited: make(chan *phoneDialog, 4), reinvited: make(chan string, 8), notified: make(chan string, 8), byes: make(chan string, 8)}
	p.rtp = p.newRTP("TRUNK")
	srv := p.answerRequests(ua)
	sctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	ready := make(chan struct{})
	conf := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, f := range tune {
		f(conf)
	}
	go func() {
		_ = srv.ListenAndServeTLS(context.WithValue(sctx, sipgo.ListenReadyCtxKey, sipgo.ListenReadyCtxValue(ready)),
			"tls", trunkIP+":"+itoa(p.port), conf)
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("the TLS trunk does not listen")
	}
	return p
}

// A call out through a trunk over TLS: the INVITE, its ACK and the BYE go
// over TLS, verified with TLSClientConfig's roots; the phone and the
// trunk hear each other through the relay. The trunk requires mutual TLS
// (a verified client certificate, as Teams Direct Routing does): we
// present our listener's certificate.
func TestTLSTrunkCallOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cert, roots := testCert(t)
	trunk := newTLSTrunk(t, ctx, cert, func(c *tls.Config) { c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, roots })
	ts, err := NewTrunks([]Trunk{{Name: "secure", Address: trunkIP + ":" + itoa(trunk.port), Transport: "tls"}})
	if err != nil {
		t.Fatal(err)
	}
	h := newRelayHarnessWith(t, t.TempDir(), "", ts, withTLS(cert), func(s *Settings) { s.TLSClientConfig = &tls.Config{RootCAs: roots} })
	if _, err := h.eng.RegisterClient(ctx, dave); err != nil {
		t.Fatal(err)
	}
	dv := relayPhones(t, ctx, h, "dave")[0]
	dv.call(ctx, outside)
	td := trunk.waitInvite(ctx)
	if td.diversion != "" {
		t.Errorf("a call no transfer placed has Diversion %q", td.diversion)
	}
	if !strings.Contains(td.target.String(), "transport=tls") || !strings.HasSuffix(h.ad.Addr("tls"), ":"+itoa(td.target.Port)) {
		t.Errorf("our Contact to the TLS trunk: %s (TLS listener %s)", td.target.String(), h.ad.Addr("tls"))
	}
	trunk.rtp.Start()
	eventuallyTrue(t, "the trunk hears dave", func() bool { return trunk.rtp.ReceivedFrom("DAVE") > 10 })
	eventuallyTrue(t, "dave hears the trunk", func() bool { return dv.rtp.ReceivedFrom("TRUNK") > 10 })
	calls, err := h.eng.Calls(ctx, "dave")
	if err != nil || len(calls) != 1 {
		t.Fatalf("dave's calls: %+v %v", calls, err)
	}
	if _, err := h.eng.Hangup(ctx, calls[0].ID, engine.Caller); err != nil {
		t.Fatal(err)
	}
	trunk.waitBye(ctx)
	dv.waitBye(ctx)
}

// A trunk whose certificate we do not trust is never reached: the call
// fails, nothing goes to the trunk in the clear.
func TestTLSTrunkUntrustedFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cert, _ := testCert(t)
	_, otherRoots := testCert(t)
	trunk := newTLSTrunk(t, ctx, cert)
	ts, err := NewTrunks([]Trunk{{Name: "secure", Address: trunkIP + ":" + itoa(trunk.port), Transport: "tls"}})
	if err != nil {
		t.Fatal(err)
	}
	h := newRelayHarnessWith(t, t.TempDir(), "", ts, withTLS(cert), func(s *Settings) { s.TLSClientConfig = &tls.Config{RootCAs: otherRoots} })
	if _, err := h.eng.RegisterClient(ctx, dave); err != nil {
		t.Fatal(err)
	}
	dv := relayPhones(t, ctx, h, "dave")[0]
	req := dv.outOfDialog(sip.INVITE, outside)
	req.AppendHeader(contentSDP())
	req.SetBody([]byte(dv.rtp.Offer()))
	if res := dv.do(ctx, req); res.StatusCode < 400 {
		t.Fatalf("a call out through an untrusted TLS trunk: %d", res.StatusCode)
	}
	select {
	case <-trunk.invited:
		t.Fatal("the untrusted trunk got the INVITE")
	default:
	}
}
