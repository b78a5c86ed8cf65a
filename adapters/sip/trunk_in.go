package sip

import (
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
)

// Calls from outside through a trunk, and the open-relay guard. With
// trunks configured, a new INVITE whose source address is one of a trunk's
// inbound addresses is a call from outside: never challenged, it becomes
// engine.Inbound to the Request-URI's number (an E.164 number; the engine
// routes it to a client or group, 404 when none has it). The caller's leg
// is an inLeg without a client, so 180, the 200 with the answering phone's
// SDP, CANCEL and BYE work as for a phone's call. An INVITE without
// credentials from any other address to one of the organisation's numbers
// gets 403 — unless its address is a registered phone's (that phone is
// challenged as before); nothing is journaled. Every other INVITE is a
// phone's, challenged with 407 (a number outside needs an authenticated
// device: no open relay).

// trunkInvite serves a new INVITE when trunks are configured and it is
// theirs to serve; it reports whether it did.
func (a *Adapter) trunkInvite(req *sip.Request, tx sip.ServerTransaction) bool {
	if a.trunks == nil {
		return false
	}
	if t := a.trunks.inboundTrunk(req.Source()); t != nil {
		a.trunkInbound(t, req, tx)
		return true
	}
	if req.GetHeader("Proxy-Authorization") != nil || req.GetHeader("Authorization") != nil {
		return false
	}
	dest, err := destination(&req.Recipient, a.domain())
	if err != nil || !strings.HasPrefix(dest, "+") || !a.orgNumber(dest) {
		return false
	}
	ip := sourceIP(req)
	if a.limiter.allow(ip) && a.deviceAddress(ip) {
		return false
	}
	a.log.Info("trunk: INVITE to an organisation's number from an address that is neither a trunk's nor a phone's: 403",
		"source", req.Source(), "to", dest)
	a.respond(tx, a.response(req, statusForbidden))
	return true
}

// orgNumber reports whether number is one of a client's or a group's.
func (a *Adapter) orgNumber(number string) bool {
	ctx, cancel := a.command("")
	defer cancel()
	page, err := a.eng.Directory(ctx, engine.DirectoryQuery{Search: number, Limit: 1000})
	if err == nil {
		for _, e := range page.Entries {
			if slices.Contains(e.Numbers, number) {
				return true
			}
		}
	}
	groups, err := a.eng.Groups(ctx)
	if err == nil {
		for _, g := range groups {
			if slices.Contains(g.Numbers, number) {
				return true
			}
		}
	}
	return false
}

// deviceAddress reports whether ip is the host of a registered SIP
// binding.
func (a *Adapter) deviceAddress(ip string) bool {
	ctx, cancel := a.command("")
	defer cancel()
	clients, err := a.eng.Clients(ctx)
	if err != nil {
		return false
	}
	for _, c := range clients {
		for _, d := range c.Devices {
			if d.Kind != DeviceKind {
				continue
			}
			if b, err := sipsyntax.ParseBinding(d.Contact); err == nil && b.URI.Host == ip {
				return true
			}
		}
	}
	return false
}

// trunkInbound serves a trunk's INVITE: engine.Inbound, then the INVITE
// is held as a phone's is (inLeg.serve).
func (a *Adapter) trunkInbound(t *Trunk, req *sip.Request, tx sip.ServerTransaction) {
	if a.refuseNewCall(req, tx) {
		return
	}
	a.respond(tx, a.response(req, status{100, "Trying"}))
	body := req.Body()
	if len(body) == 0 {
		a.respond(tx, a.response(req, statusNotAccept))
		return
	}
	if ct := req.ContentType(); ct == nil || !strings.HasPrefix(strings.ToLower(ct.Value()), "application/sdp") {
		a.respond(tx, a.response(req, status{415, "Unsupported Media Type"}))
		return
	}
	if err := checkSDP(body); err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	target := &req.Recipient
	if t.Register && req.Recipient.User == t.Username && req.To() != nil {
		// Sent to the Contact we registered: the number is the To's.
		target = &req.To().Address
	}
	dest, err := destination(target, a.domain())
	if err != nil || !strings.HasPrefix(dest, "+") {
		a.respond(tx, a.response(req, statusNotFound)) // a trunk reaches the organisation's numbers only
		return
	}
	from, name := "anonymous", ""
	if h := req.From(); h != nil {
		if u := h.Address.User; u != "" && !strings.ContainsAny(u, "@:;<> ") {
			from = u
		}
		if !strings.ContainsAny(h.DisplayName, "\"\r\n\\") {
			name = h.DisplayName
		}
	}
	session, ok := a.sessionTimerOf(req, tx) // session_timer.go
	if !ok {
		return
	}
	leg := &inLeg{
		a: a, req: req, tx: tx, offer: body,
		final: make(chan outcome, 1), canceled: make(chan struct{}), acked: make(chan struct{}),
	}
	leg.dlg = newUASDialog(req, sip.GenerateTagN(16))
	leg.dlg.session = session
	a.newReliable(leg)
	tx.OnCancel(func(*sip.Request) { leg.cancel() })

	a.mu.Lock()
	a.dialing++
	a.mu.Unlock()
	ctx, cancel := a.command("")
	c, err := a.eng.Inbound(ctx, engine.InboundRequest{From: from, FromName: name, To: dest})
	cancel()
	a.mu.Lock()
	a.dialing--
	if err == nil {
		a.calls[c.ID] = &call{id: c.ID, in: leg, forks: map[string]*fork{}}
		a.dialogs[leg.dlg.key()] = dialogRef{call: c.ID, in: leg}
	}
	a.mu.Unlock()
	if err != nil {
		a.kickLoop("")
		a.log.Debug("trunk: inbound refused", "trunk", t.Name, "from", from, "to", dest, "err", err)
		if leg.finish(outcome{st: statusForError(err)}) {
			leg.serve()
		}
		return
	}
	a.log.Debug("trunk: inbound call", "trunk", t.Name, "call", c.ID, "from", from, "to", dest)
	leg.mu.Lock()
	leg.callID = c.ID
	gone := leg.state == legEnded
	leg.mu.Unlock()
	a.kickLoop(c.ID)
	if gone {
		a.hangup(c.ID, "", engine.Caller)
	}
	leg.serve()
}
