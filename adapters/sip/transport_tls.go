package sip

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// SIP over TLS and over secure WebSocket (Settings.TLS, Settings.WSS).
// Each is a TCP listener of its own, bounded per source address like TCP
// and ws (connlimit.go), wrapped in TLS with Settings.TLSConfig; the
// secure WebSocket listener goes through the ws handshake guard too
// (transport_ws.go). Our Contact on them is sip:…;transport=tls and
// sip:…;transport=wss.
//
// A phone on TLS or WSS is reached back through its connection, never by
// a new one to its Contact (a phone behind NAT does not accept
// connections; RFC 5626 §5): the Contacts of its REGISTER and INVITE are
// mapped to the connection they came on (noteFlow), as for ws. After a
// restart the connections are gone: the phone's next request (its
// re-registration, a BYE) opens a new one; a request of ours before then
// tries its Contact. Trunks reached over TLS (Trunk.Transport "tls") are
// verified with Settings.TLSClientConfig.

// errNoTLSConfig: TLS or WSS is set without a certificate.
var errNoTLSConfig = errors.New("sip: TLS and WSS need Settings.TLSConfig with a certificate")

// errTLSTrunkNoListener: a trunk over TLS, but no TLS listener to name in
// our Contact (the carrier's requests in the dialog would come in the
// clear, or not at all).
var errTLSTrunkNoListener = errors.New("sip: a trunk over TLS needs Settings.TLS (our Contact on TLS)")

// checkTLSTrunks refuses trunks over TLS without a TLS listener.
func (a *Adapter) checkTLSTrunks() error {
	if a.trunks == nil || a.set.TLS != "" {
		return nil
	}
	for _, t := range a.trunks.list {
		if t.transport() == "TLS" {
			return fmt.Errorf("%w: trunk %q", errTLSTrunkNoListener, t.Name)
		}
	}
	return nil
}

// serverTLS is the adapter's server TLS configuration: Settings.TLSConfig
// with TLS 1.2 at least.
func (a *Adapter) serverTLS() (*tls.Config, error) {
	c := a.set.TLSConfig
	if c == nil || len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
		return nil, errNoTLSConfig
	}
	c = c.Clone()
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c, nil
}

// listenTLS opens the listeners of SIP over TLS on Settings.TLS and over
// secure WebSocket on Settings.WSS, and adds their serving to serve.
func (a *Adapter) listenTLS(serve *[]func()) error {
	if a.set.TLS == "" && a.set.WSS == "" {
		return nil
	}
	conf, err := a.serverTLS()
	if err != nil {
		return err
	}
	if a.set.TLS != "" {
		l, err := net.Listen("tcp", a.set.TLS)
		if err != nil {
			return fmt.Errorf("sip: listen tls %s: %w", a.set.TLS, err)
		}
		a.tls = l
		a.contacts["TLS"] = a.contact(l.Addr(), "tls")
		tl := tls.NewListener(a.limitConns(l), conf)
		*serve = append(*serve, func() {
			if err := a.srv.ServeTLS(tl); err != nil && a.ctx.Err() == nil {
				a.log.Warn("tls listener ended", "err", err)
			}
		})
	}
	if a.set.WSS != "" {
		l, err := net.Listen("tcp", a.set.WSS)
		if err != nil {
			return fmt.Errorf("sip: listen wss %s: %w", a.set.WSS, err)
		}
		g := newWSGuard(tls.NewListener(a.limitConns(l), conf))
		g.origin = a.wsOriginAllowed
		a.wss = g
		a.contacts["WSS"] = a.contact(l.Addr(), "wss")
		*serve = append(*serve, func() {
			if err := a.srv.ServeWSS(g); err != nil && a.ctx.Err() == nil {
				a.log.Warn("wss listener ended", "err", err)
			}
		})
	}
	return nil
}

// flowTransport reports whether requests to a peer on transport go back
// through the connection it came on (the flow table): ws, wss and tls.
func flowTransport(transport string) bool {
	switch strings.ToUpper(transport) {
	case "WS", "WSS", "TLS":
		return true
	}
	return false
}

// uriTransport is the transport a request to u takes: its transport
// parameter, TLS for a sips: URI, else UDP.
func uriTransport(u *sip.Uri) string {
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		return strings.ToUpper(t)
	}
	if strings.EqualFold(u.Scheme, "sips") {
		return "TLS"
	}
	return "UDP"
}

// clientTLS is the TLS configuration of the connections we open (to
// trunks over TLS): Settings.TLSClientConfig, TLS 1.2 at least. Unless it
// names client certificates of its own, we present our listener's
// (Settings.TLSConfig's): mutual TLS, which carriers such as Microsoft
// Teams Direct Routing require of the SBCs that connect to them.
func (a *Adapter) clientTLS() *tls.Config {
	c := &tls.Config{}
	if a.set.TLSClientConfig != nil {
		c = a.set.TLSClientConfig.Clone()
	}
	if len(c.Certificates) == 0 && c.GetClientCertificate == nil && a.set.TLSConfig != nil {
		c.Certificates = a.set.TLSConfig.Certificates
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}
