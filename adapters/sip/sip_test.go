package sip

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/clock"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Go-level tests with sipgo's client: what a phone must not be able to do.

const testSDP = "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

type phone struct {
	t   *testing.T
	cli *sipgo.Client
	srv string // the adapter's host:port
}

func newPhone(t *testing.T, h *harness) *phone {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return &phone{t: t, cli: cli, srv: h.ad.Addr("udp")}
}

func (p *phone) request(method sip.RequestMethod, user, from string) *sip.Request {
	host, port, _ := sip.ParseAddr(p.srv)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
	f := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: host}, Params: sip.NewParams()}
	f.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(f)
	to := user
	if method == sip.REGISTER {
		to = from
	}
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: host}})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+from+"@127.0.0.1:5999>"))
	if method == sip.INVITE {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody([]byte(testSDP))
	}
	return req
}

// do sends req and, when challenged and password is set, answers the
// challenge once; it returns the final response.
func (p *phone) do(req *sip.Request, user, password string) *sip.Response {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatal(err)
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && password != "" {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
		if err != nil {
			p.t.Fatal(err)
		}
	}
	return res
}

// A wrong password is challenged again and binds nothing.
func TestRegisterWrongPasswordIsChallengedAgain(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	res := p.do(p.request(sip.REGISTER, "", "alice"), "alice", "wrong")
	if res.StatusCode != 401 || res.GetHeader("WWW-Authenticate") == nil {
		t.Fatalf("REGISTER with a wrong password: %d, want 401 with a challenge", res.StatusCode)
	}
	if d := h.sipDevices("alice"); len(d) != 0 {
		t.Fatalf("a refused REGISTER bound %+v", d)
	}
	// Registering another client's address with one's own password: 403.
	res = p.do(p.request(sip.REGISTER, "", "alice"), "bob", "bob-secret")
	if res.StatusCode != 401 && res.StatusCode != 403 {
		t.Fatalf("bob registering alice: %d", res.StatusCode)
	}
	if d := h.sipDevices("alice"); len(d) != 0 {
		t.Fatalf("bob bound %+v to alice", d)
	}
}

// An INVITE without credentials is challenged (407) and never dialed, even
// to a number outside; a wrong password is challenged again.
func TestInviteUnauthenticatedIsChallengedNeverDialed(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	res := p.do(p.request(sip.INVITE, "+441234567890", "alice"), "", "")
	if res.StatusCode != 407 || res.GetHeader("Proxy-Authenticate") == nil {
		t.Fatalf("INVITE without credentials: %d, want 407 with a challenge", res.StatusCode)
	}
	res = p.do(p.request(sip.INVITE, "+441234567890", "alice"), "alice", "wrong")
	if res.StatusCode != 407 {
		t.Fatalf("INVITE with a wrong password: %d, want 407", res.StatusCode)
	}
	for _, ev := range drain(h) {
		if ev.Type == events.TypeCallDialed {
			t.Fatalf("an unauthenticated INVITE placed a call: %+v", ev.Call)
		}
	}
	if n := h.eng.LiveCalls(); n != 0 {
		t.Fatalf("%d live calls", n)
	}
}

// An authenticated INVITE to an extension nobody has: 404.
func TestInviteUnknownDestinationIs404(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	res := p.do(p.request(sip.INVITE, "1999", "alice"), "alice", "alice-secret")
	if res.StatusCode != 404 {
		t.Fatalf("INVITE to an unknown extension: %d, want 404", res.StatusCode)
	}
	res = p.do(p.request(sip.INVITE, "0044123456789", "alice"), "alice", "alice-secret")
	if res.StatusCode != 484 {
		t.Fatalf("INVITE to a malformed user: %d, want 484", res.StatusCode)
	}
}

// Malformed SDP is refused with 400 and no call.
func TestInviteMalformedSDPIs400(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	req := p.request(sip.INVITE, "1002", "alice")
	req.SetBody([]byte("v=0\r\nthis is not sdp\r\n"))
	if res := p.do(req, "alice", "alice-secret"); res.StatusCode != 400 {
		t.Fatalf("INVITE with malformed SDP: %d, want 400", res.StatusCode)
	}
	if n := h.eng.LiveCalls(); n != 0 {
		t.Fatalf("%d live calls", n)
	}
}

// A SIP phone calling a client whose devices are browsers: 488 (no relay
// in this slice), and the call ends.
func TestInviteToBrowserIs488(t *testing.T) {
	h := newHarness(t, "", nil)
	ctx := context.Background()
	if _, err := h.eng.ConnectDevice(ctx, "carol", engine.Device{ID: "tab-1", Kind: "webrtc"}); err != nil {
		t.Fatal(err)
	}
	p := newPhone(t, h)
	if res := p.do(p.request(sip.INVITE, "1003", "alice"), "alice", "alice-secret"); res.StatusCode != 488 {
		t.Fatalf("INVITE to a browser: %d, want 488", res.StatusCode)
	}
	c := h.callEnded()
	if c.EndedBy != engine.Caller {
		t.Fatalf("ended: reason %s by %s", c.Reason, c.EndedBy)
	}
}

// OPTIONS is answered 200 with Allow; a method SIP defines but we do not
// serve is 405; an unknown one 501.
func TestOptionsAndUnsupportedMethods(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	res := p.do(p.request(sip.OPTIONS, "", "alice"), "", "")
	if res.StatusCode != 200 || res.GetHeader("Allow") == nil {
		t.Fatalf("OPTIONS: %d", res.StatusCode)
	}
	if res := p.do(p.request(sip.SUBSCRIBE, "1002", "alice"), "", ""); res.StatusCode != 405 {
		t.Fatalf("SUBSCRIBE: %d, want 405", res.StatusCode)
	}
	if res := p.do(p.request(sip.RequestMethod("FROB"), "1002", "alice"), "", ""); res.StatusCode != 501 {
		t.Fatalf("FROB: %d, want 501", res.StatusCode)
	}
	if !strings.Contains(res.GetHeader("Allow").Value(), "PRACK") || res.Contact() == nil {
		t.Errorf("OPTIONS' 200: Allow %q, Contact %v", res.GetHeader("Allow").Value(), res.Contact())
	}
	// A PRACK outside an early dialog of ours, with or without a RAck
	// we can read: 481 (prack.go).
	for _, rack := range []string{"1 1 INVITE", "nonsense", ""} {
		req := p.request(sip.PRACK, "1002", "alice")
		if rack != "" {
			req.AppendHeader(sip.NewHeader("RAck", rack))
		}
		if res := p.do(req, "", ""); res.StatusCode != 481 {
			t.Errorf("PRACK with RAck %q outside a dialog: %d, want 481", rack, res.StatusCode)
		}
	}
}

// A binding lapses on the adapter's timer; one that lapsed while the
// adapter was down is removed at start.
func TestBindingExpiresAndLapsedOnesGoAtStart(t *testing.T) {
	clk := clock.NewVirtual(time.Now())
	dir := t.TempDir()
	h := newHarness(t, dir, clk)
	p := newPhone(t, h)
	req := p.request(sip.REGISTER, "", "alice")
	req.AppendHeader(sip.NewHeader("Expires", "60"))
	res := p.do(req, "alice", "alice-secret")
	if res.StatusCode != 200 || len(h.sipDevices("alice")) != 1 {
		t.Fatalf("REGISTER: %d, devices %+v", res.StatusCode, h.sipDevices("alice"))
	}
	if c := res.Contact(); c == nil || c.Params.GetOr("expires", "") != "60" {
		t.Fatalf("200 to REGISTER lists %v", res.GetHeaders("Contact"))
	}
	clk.Advance(61 * time.Second)
	h.waitEvent("DeviceRemoved", func(ev *engine.Event) bool { return ev.Type == events.TypeDeviceRemoved })

	// Bind again, stop the adapter, let the binding lapse, start again.
	req = p.request(sip.REGISTER, "", "bob")
	req.AppendHeader(sip.NewHeader("Expires", "120"))
	if res := p.do(req, "bob", "bob-secret"); res.StatusCode != 200 {
		t.Fatalf("REGISTER bob: %d", res.StatusCode)
	}
	h.ad.Close()
	clk.Advance(121 * time.Second)
	if len(h.sipDevices("bob")) != 1 {
		t.Fatal("the binding went while the adapter was down")
	}
	h.start(clk)
	if d := h.sipDevices("bob"); len(d) != 0 {
		t.Fatalf("a lapsed binding is still there after start: %+v", d)
	}
	// Too short an expiry: 423 with Min-Expires.
	p = newPhone(t, h)
	req = p.request(sip.REGISTER, "", "carol")
	req.AppendHeader(sip.NewHeader("Expires", "5"))
	if res := p.do(req, "carol", "carol-secret"); res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil {
		t.Fatalf("REGISTER with Expires 5: %d", res.StatusCode)
	}
}

// A REGISTER flood from one address is cut with 503 and Retry-After.
func TestRegisterFloodIsLimited(t *testing.T) {
	h := newHarness(t, "", nil)
	p := newPhone(t, h)
	limited := 0
	for i := range DefaultRegisterBurst + 10 {
		res := p.do(p.request(sip.REGISTER, "", "alice"), "", "")
		if res.StatusCode == 503 {
			if res.GetHeader("Retry-After") == nil {
				t.Fatal("503 without Retry-After")
			}
			limited++
		} else if res.StatusCode != 401 {
			t.Fatalf("REGISTER %d: %d", i, res.StatusCode)
		}
	}
	if limited == 0 {
		t.Fatal("no REGISTER was limited")
	}
}

func drain(h *harness) []engine.Event {
	for {
		select {
		case ev := <-h.sub.Events():
			h.evs = append(h.evs, ev)
		case <-time.After(200 * time.Millisecond):
			return h.evs
		}
	}
}
