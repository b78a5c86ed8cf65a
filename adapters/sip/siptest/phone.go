package siptest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/media/mediatest"
)

// Settings shape a Phone.
type Settings struct {
	// Server is the SIP over UDP address (host:port) the phone registers
	// with and sends its requests to.
	Server string
	// User is the phone's user: its From, its Contact and its digest
	// user name.
	User string
	// Password answers the server's digest challenges.
	Password string
	// Marker fills the phone's RTP packets (mediatest.NewRTPPeer).
	Marker string
	// Ring is how long the phone rings (180 Ringing) before it answers a
	// new INVITE with 200; 0 answers at once, with no 180.
	Ring time.Duration
}

// Phone is a SIP desk phone on 127.0.0.1: sipgo's client and server on one
// UDP socket (the requests it sends leave from the socket the server's
// requests reach, the one its Contact names), and a plain RTP endpoint.
// It answers every new INVITE with its RTP endpoint's answer (after
// ringing for Settings.Ring) and reports it on Invites; it answers a
// re-INVITE the same way, and ACK, BYE (reported on Byes) and OPTIONS.
// Its RTP endpoint sends nothing until the test starts it (RTP().Start).
type Phone struct {
	s    Settings
	port int
	conn *net.UDPConn
	ua   *sipgo.UserAgent
	cli  *sipgo.Client
	rtp  *mediatest.RTPPeer

	invites chan Invite
	byes    chan string
}

// Invite is a new INVITE the phone got: its offer, and the dialog when the
// phone answered it.
type Invite struct {
	// Offer is the INVITE's SDP.
	Offer string
	// Dialog is the dialog of the phone's 200; nil when it refused the
	// offer (488).
	Dialog *Dialog
	// Err is why the RTP endpoint refused the offer.
	Err error
}

// NewPhone opens the phone's SIP socket and RTP endpoint and serves the
// socket; ctx bounds the wait until sipgo serves it (5 s at most). Close
// closes the phone.
func NewPhone(ctx context.Context, s Settings) (*Phone, error) {
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		return nil, err
	}
	p := &Phone{s: s, ua: ua, invites: make(chan Invite, 4), byes: make(chan string, 4)}
	if p.conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	laddr := p.conn.LocalAddr().String()
	p.port = p.conn.LocalAddr().(*net.UDPAddr).Port
	p.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(p.port),
		sipgo.WithClientConnectionAddr(laddr), sipgo.WithClientLogger(quiet))
	if err != nil {
		return nil, errors.Join(err, p.Close())
	}
	if p.rtp, err = mediatest.NewRTPPeer(s.Marker); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		return nil, errors.Join(err, p.Close())
	}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(p.onBye)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ServeUDP(p.conn) }()
	// The client sends from the socket once the server's transport holds it.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		if c, err := ua.TransportLayer().GetConnection("udp", laddr); err == nil && c != nil {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("siptest: %s: sipgo does not serve %s: %w", s.User, laddr, ctx.Err()), p.Close())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// User is the phone's user (Settings.User).
func (p *Phone) User() string { return p.s.User }

// RTP is the phone's RTP endpoint.
func (p *Phone) RTP() *mediatest.RTPPeer { return p.rtp }

// Client is the phone's sipgo client, for requests sent as they are (no
// digest) and for its transport.
func (p *Phone) Client() *sipgo.Client { return p.cli }

// Invites are the new INVITEs the phone got, answered or refused (the
// first four not yet read are kept).
func (p *Phone) Invites() <-chan Invite { return p.invites }

// Byes are the Call-IDs of the BYEs the phone got (the first four not yet
// read are kept).
func (p *Phone) Byes() <-chan string { return p.byes }

// Close closes the RTP endpoint, the SIP socket and sipgo's user agent.
func (p *Phone) Close() error {
	var errs []error
	if p.rtp != nil {
		errs = append(errs, p.rtp.Close())
	}
	if p.conn != nil {
		errs = append(errs, p.conn.Close())
	}
	return errors.Join(append(errs, p.ua.Close())...)
}

// contact is the phone's Contact: its user at its SIP socket.
func (p *Phone) contact() string {
	return "<sip:" + p.s.User + "@127.0.0.1:" + strconv.Itoa(p.port) + ">"
}

// OutOfDialog is a request of the phone to the server, to user to.
func (p *Phone) OutOfDialog(method sip.RequestMethod, to string) *sip.Request {
	host, port, _ := sip.ParseAddr(p.s.Server)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: to, Host: host, Port: port, UriParams: sip.NewParams()})
	f := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.s.User, Host: host}, Params: sip.NewParams()}
	f.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(f)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: host}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Contact", p.contact()))
	return req
}

// InviteRequest is an INVITE to user to with the RTP endpoint's offer.
func (p *Phone) InviteRequest(to string) *sip.Request {
	req := p.OutOfDialog(sip.INVITE, to)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(p.rtp.Offer()))
	return req
}

// Do sends req and answers a digest challenge (401 or 407) with the
// phone's password; it returns the final response.
func (p *Phone) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		return p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.s.User, Password: p.s.Password})
	}
	return res, nil
}

// Register binds the phone's Contact for 300 s; anything but 200 is an
// error.
func (p *Phone) Register(ctx context.Context) error {
	req := p.OutOfDialog(sip.REGISTER, p.s.User)
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := p.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("siptest: %s: REGISTER: %w", p.s.User, err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("siptest: %s: REGISTER: %d %s", p.s.User, res.StatusCode, res.Reason)
	}
	return nil
}
