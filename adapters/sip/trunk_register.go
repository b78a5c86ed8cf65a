package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Registration to a trunk (a carrier that sends calls to a PBX only once it
// has registered, as a phone registers to a PBX). A trunk with Register set
// gets a REGISTER from the adapter when it starts: To and From
// sip:<username>@<from_domain or the trunk's host>, Contact
// sip:<username>@<our address>, Expires RegisterExpires (300 s by default).
// A 401/407 is answered with the trunk's credentials (digest, as for its
// INVITEs). The registration is refreshed at three quarters of the time the
// trunk granted, tried again every RegisterRetry (30 s) after a failure, and
// removed (Expires: 0) when the adapter closes. Calls the trunk sends to
// that Contact (Request-URI user: the username) are routed by the number in
// their To header (trunk_in.go). Adapter.Stats tells which trunks are
// registered (callengine_sip_trunk_registered in serve).

const (
	// RegisterExpires is the registration a trunk is asked for when its
	// Trunk.RegisterExpires is zero.
	RegisterExpires = 300 * time.Second
	// RegisterRetry is the wait before a failed registration is tried
	// again.
	RegisterRetry = 30 * time.Second
)

// trunkReg is the adapter's registration at one trunk: one Call-ID for all
// its REGISTERs, its CSeq rising (RFC 3261 §10.2).
type trunkReg struct {
	t *Trunk

	mu      sync.Mutex // one REGISTER at a time
	callID  string
	tag     string
	cseq    uint32
	closing bool

	registered atomic.Bool
}

// startRegistrations registers to each trunk that wants it and keeps the
// registrations up until the adapter stops (from Start).
func (a *Adapter) startRegistrations() {
	if a.trunks == nil {
		return
	}
	for _, t := range a.trunks.list {
		if !t.Register {
			continue
		}
		r := &trunkReg{t: t, callID: sip.GenerateTagN(24), tag: sip.GenerateTagN(12)}
		a.regs = append(a.regs, r)
		a.wg.Go(func() { a.keepRegistered(r) })
	}
}

// keepRegistered registers r and refreshes it until the adapter stops.
func (a *Adapter) keepRegistered(r *trunkReg) {
	for {
		granted, err := a.register(a.ctx, r, r.t.registerExpires())
		wait := RegisterRetry
		switch {
		case a.ctx.Err() != nil:
			return
		case err != nil:
			r.registered.Store(false)
			a.log.Warn("trunk: registration failed", "trunk", r.t.Name, "err", err, "retry in", wait)
		default:
			if !r.registered.Swap(true) {
				a.log.Info("trunk: registered", "trunk", r.t.Name, "expires", granted)
			}
			wait = max(granted*3/4, time.Second)
		}
		timer := time.NewTimer(wait)
		select {
		case <-a.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// unregister removes the registrations (Expires: 0), each within 2 s, and
// stops their refreshes: from Close, while the sockets are still open.
func (a *Adapter) unregister() {
	for _, r := range a.regs {
		r.mu.Lock()
		r.closing = true
		r.mu.Unlock()
		if !r.registered.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := a.register(ctx, r, 0); err != nil {
			a.log.Info("trunk: cannot remove the registration", "trunk", r.t.Name, "err", err)
		}
		cancel()
		r.registered.Store(false)
	}
}

var errClosing = errors.New("sip: the adapter is closing")

// register sends one REGISTER to r's trunk asking for expires (0: remove
// the registration), answering one digest challenge, and returns the
// time the trunk granted.
func (a *Adapter) register(ctx context.Context, r *trunkReg, expires time.Duration) (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing && expires > 0 {
		return 0, errClosing
	}
	t := r.t
	req, err := a.registerRequest(r, expires)
	if err != nil {
		return 0, err
	}
	for authed := false; ; authed = true {
		res, err := a.finalResponse(ctx, req)
		if err != nil {
			return 0, err
		}
		switch {
		case res.StatusCode == 200:
			return grantedExpiry(res, expires), nil
		case (res.StatusCode == 401 || res.StatusCode == 407) && !authed && t.Username != "":
			name, value, err := digestAnswer(res, "REGISTER", req.Recipient.Addr(), t.Username, t.Password)
			if err != nil {
				return 0, err
			}
			if req, err = a.registerRequest(r, expires); err != nil {
				return 0, err
			}
			req.AppendHeader(sip.NewHeader(name, value))
		default:
			return 0, fmt.Errorf("sip: REGISTER to trunk %s: %d %s", t.Name, res.StatusCode, res.Reason)
		}
	}
}

// registerRequest is the next REGISTER of r (its CSeq one more).
func (a *Adapter) registerRequest(r *trunkReg, expires time.Duration) (*sip.Request, error) {
	t := r.t
	target, domain, err := t.target()
	if err != nil {
		return nil, err
	}
	aor := sip.Uri{Scheme: "sip", User: t.Username, Host: domain}
	r.cseq++
	req := sip.NewRequest(sip.REGISTER, target)
	req.AppendHeader(newVia(t.transport()))
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.tag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	cid := sip.CallIDHeader(r.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	contact := a.ourContact(t.transport()).Clone()
	contact.Address.User = t.Username
	req.AppendHeader(contact)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	req.SetTransport(t.transport())
	a.prepare(req)
	return req, nil
}

// finalResponse sends req in a transaction of its own and waits for its
// final response.
func (a *Adapter) finalResponse(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				return res, nil
			}
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("sip: no final response")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// grantedExpiry is the registration time a 200 to REGISTER grants: the
// expires parameter of a Contact, else its Expires header, else what was
// asked.
func grantedExpiry(res *sip.Response, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok && c.Params != nil {
			if v, ok := c.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
					return time.Duration(n) * time.Second
				}
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// registerExpires is the registration the trunk is asked for.
func (t *Trunk) registerExpires() time.Duration {
	if t.RegisterExpires > 0 {
		return t.RegisterExpires
	}
	return RegisterExpires
}

// target is the trunk's own URI, sip:host:port (;transport=tcp over TCP),
// for the requests the adapter sends the trunk itself (REGISTER, OPTIONS),
// and the host of our From URI: FromDomain, else the trunk's host.
func (t *Trunk) target() (sip.Uri, string, error) {
	host, portStr, err := net.SplitHostPort(t.Address)
	if err != nil {
		return sip.Uri{}, "", err
	}
	port, _ := strconv.Atoi(portStr)
	target := sip.Uri{Scheme: "sip", Host: host, Port: port, UriParams: sip.NewParams()}
	if tr := t.transport(); tr != "UDP" {
		target.UriParams.Add("transport", strings.ToLower(tr))
	}
	domain := t.FromDomain
	if domain == "" {
		domain = host
	}
	return target, domain, nil
}
