package sip

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// SIP over WebSocket with sipgo's own ws client as the phones: Contacts at
// hosts that do not resolve (as JsSIP's <random>.invalid), so every request
// the adapter sends them must go back over the phone's own connection.

type wsPhone struct {
	t       *testing.T
	user    string
	cli     *sipgo.Client
	contact sip.ContactHeader
	srv     sip.Uri // the adapter, over ws
	invites chan *sip.Request
	byes    chan *sip.Request
	// answer, when set, answers an INVITE's offer (a browser's WebRTC
	// stack); else every INVITE gets testSDP.
	answerMu sync.Mutex
	answer   func(offer []byte) ([]byte, error)
}

// setAnswer sets how the phone answers INVITEs from now on.
func (p *wsPhone) setAnswer(f func(offer []byte) ([]byte, error)) {
	p.answerMu.Lock()
	p.answer = f
	p.answerMu.Unlock()
}

func newWSPhone(t *testing.T, h *harness, user string) *wsPhone {
	t.Helper()
	return newWSPhoneAt(t, h.ad.Addr("ws"), user)
}

// newWSPhoneAt is newWSPhone for the adapter whose ws listener is at addr.
func newWSPhoneAt(t *testing.T, addr, user string) *wsPhone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
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
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := sip.ParseAddr(addr)
	p := &wsPhone{t: t, user: user, cli: cli, invites: make(chan *sip.Request, 4), byes: make(chan *sip.Request, 4),
		srv: sip.Uri{Scheme: "sip", Host: host, Port: port, UriParams: sip.NewParams()}}
	p.srv.UriParams.Add("transport", "ws")
	p.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: user + "-x7q.invalid", UriParams: sip.NewParams()}}
	p.contact.Address.UriParams.Add("transport", "ws")
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		body := []byte(testSDP)
		p.answerMu.Lock()
		answer := p.answer
		p.answerMu.Unlock()
		if answer != nil {
			var err error
			if body, err = answer(req.Body()); err != nil {
				tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
				return
			}
		}
		p.invites <- req
		res := sip.NewResponseFromRequest(req, 200, "OK", body)
		if tag, ok := res.To().Params.Get("tag"); !ok || tag == "" { // not a re-INVITE
			res.To().Params.Add("tag", sip.GenerateTagN(8))
		}
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(p.contact.Clone())
		tx.Respond(res)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.byes <- req
	})
	return p
}

func (p *wsPhone) to(user string) sip.Uri {
	u := *p.srv.Clone()
	u.User = user
	return u
}

// register binds the phone's Contact over ws, with digest.
func (p *wsPhone) register() {
	p.t.Helper()
	req := sip.NewRequest(sip.REGISTER, p.to(""))
	req.SetTransport("WS")
	aor := sip.Uri{Scheme: "sip", User: p.user, Host: DefaultRealm}
	req.AppendHeader(&sip.FromHeader{Address: aor, Params: sip.NewParams()})
	req.From().Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(p.contact.Clone())
	req.AppendHeader(sip.NewHeader("Expires", "600"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.cli.Do(ctx, req)
	if err == nil && res.StatusCode == 401 {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: password(p.user)})
	}
	if err != nil || res.StatusCode != 200 {
		p.t.Fatalf("%s: REGISTER over ws: %v %v", p.user, res, err)
	}
}

// A call between two phones over ws: the callee's INVITE, and the BYE
// relayed to it, go back over its own connection although its Contact does
// not resolve; the caller's BYE ends the call.
func TestWSRegisterAndCall(t *testing.T) {
	h := newHarness(t, "", nil)
	alice, bob := newWSPhone(t, h, "alice"), newWSPhone(t, h, "bob")
	alice.register()
	bob.register()
	devs := h.sipDevices("alice")
	if len(devs) != 1 || !strings.Contains(devs[0].Contact, "transport=ws") {
		t.Fatalf("alice's bindings: %+v", devs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	dua := sipgo.DialogUA{Client: bob.cli, ContactHDR: bob.contact}
	sess, err := dua.Invite(ctx, bob.to("1001"), []byte(testSDP), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: "bob", Password: password("bob")}); err != nil {
		t.Fatalf("bob's INVITE: %v", err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	inv := <-alice.invites
	if inv.Transport() != "WS" || inv.Source() != h.ad.Addr("ws") || inv.Recipient.Host != "alice-x7q.invalid" {
		t.Fatalf("alice's INVITE: transport %s from %s to %s", inv.Transport(), inv.Source(), inv.Recipient.String())
	}
	answered := h.waitEvent("CallAnswered", func(ev *engine.Event) bool { return ev.Type == events.TypeCallAnswered })
	if answered.Call.AnsweredDevice != devs[0].ID {
		t.Fatalf("answered by %q, want %q", answered.Call.AnsweredDevice, devs[0].ID)
	}
	if err := sess.Bye(ctx); err != nil {
		t.Fatalf("bob's BYE: %v", err)
	}
	select {
	case bye := <-alice.byes:
		if bye.Source() != h.ad.Addr("ws") {
			t.Fatalf("alice's BYE from %s", bye.Source())
		}
	case <-ctx.Done():
		t.Fatal("alice got no BYE")
	}
	if c := h.callEnded(); c.EndedBy != engine.Caller || c.Reason != events.Hangup {
		t.Fatalf("ended: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// A WebSocket message larger than the limit closes its connection; the
// listener goes on serving others.
func TestWSMessageTooLargeClosesConnection(t *testing.T) {
	h := newHarness(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func() *websocket.Conn {
		c, res, err := websocket.Dial(ctx, "ws://"+h.ad.Addr("ws"), &websocket.DialOptions{Subprotocols: []string{"sip"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Header.Get("Sec-WebSocket-Protocol") != "sip" {
			t.Fatalf("subprotocol %q", res.Header.Get("Sec-WebSocket-Protocol"))
		}
		return c
	}
	big := dial()
	defer big.CloseNow()
	body := strings.Repeat("x", 40000)
	msg := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@h.invalid>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: big\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 40000\r\n\r\n" + body
	if err := big.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := big.Read(ctx); err == nil {
		t.Fatalf("the connection answered a %d-byte message: %.80q", len(msg), b)
	} else if ctx.Err() != nil {
		t.Fatal("the connection stayed open")
	}

	ok := dial()
	defer ok.CloseNow()
	small := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bK2\r\nFrom: <sip:a@h.invalid>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: small\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if err := ok.Write(ctx, websocket.MessageText, []byte(small)); err != nil {
		t.Fatal(err)
	}
	_, b, err := ok.Read(ctx)
	if err != nil || !strings.HasPrefix(string(b), "SIP/2.0 200") {
		t.Fatalf("OPTIONS over ws: %v %.80q", err, b)
	}
}

// A client that connects and never sends its handshake does not hold up
// the others (sipgo upgrades in its accept loop; wsGuard reads handshakes
// aside).
func TestWSSilentClientDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t, "", nil)
	silent, err := net.Dial("tcp", h.ad.Addr("ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(100 * time.Millisecond) // accepted first
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+h.ad.Addr("ws"), &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatalf("a handshake behind a silent client: %v", err)
	}
	defer c.CloseNow()
	opt := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS h.invalid;branch=z9hG4bK3\r\nFrom: <sip:a@h.invalid>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: after-silent\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if err := c.Write(ctx, websocket.MessageText, []byte(opt)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(b), "SIP/2.0 200") {
		t.Fatalf("OPTIONS over ws: %v %.80q", err, b)
	}
}
