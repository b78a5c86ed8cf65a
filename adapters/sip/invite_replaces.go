package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
)

// A new INVITE with Replaces (RFC 3891): a phone takes over one of our
// confirmed dialogs — typically a client moving a call from one of its
// phones to another (a pickup, "move to desk phone"). It is challenged
// like any INVITE and only the client of the replaced leg may replace it
// (403 otherwise). The engine's call does not change: the same side, the
// same client, the same state; only the SIP dialog that carries the side
// does (the engine has no primitive to move an answered side to another
// device: its answered or calling device stays the replaced one's). The
// other side's phone gets the new phone's offer in a re-INVITE and its
// answer goes back in our 200; the replaced dialog gets a BYE; the new
// dialog is journaled on the call in place of the old one, so it
// survives a restart.
//
// Refusals (nothing journaled): a malformed Replaces, or more than one,
// 400; a Replaces that names no confirmed dialog of ours 481; early-only
// on a confirmed dialog 486 (RFC 3891 §3); a call whose other side is not
// a SIP phone of ours passed through (a browser, a trunk, a relayed call)
// 488, unless the replaced side is on the relay: then the new phone takes
// its relay leg and no one is re-INVITEd (media_anchor.go); no offer 488,
// malformed SDP 400, another type 415.

// replacesInvite serves a new INVITE with a Replaces header; it reports
// whether there was one.
func (a *Adapter) replacesInvite(req *sip.Request, tx sip.ServerTransaction) bool {
	hs := req.GetHeaders("Replaces")
	if len(hs) == 0 {
		return false
	}
	auth := a.authenticate(a.ctx, req, true)
	if auth.client == "" {
		a.challenge(req, tx, true, auth.stale)
		return true
	}
	a.noteFlow(req)
	if len(hs) > 1 {
		a.respond(tx, a.response(req, statusBadRequest))
		return true
	}
	r, err := sipsyntax.ParseReplaces(hs[0].Value())
	if err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return true
	}
	cl, old := a.replacedDialog(r)
	switch {
	case old == nil:
		a.respond(tx, a.response(req, statusNoDialog))
		return true
	case r.EarlyOnly:
		a.respond(tx, a.response(req, statusBusy)) // the dialog is confirmed
		return true
	case old.client == "" || old.client != auth.client:
		a.log.Info("INVITE with Replaces from another client: 403", "call", cl.id, "client", auth.client)
		a.respond(tx, a.response(req, statusForbidden))
		return true
	}
	body := req.Body()
	switch {
	case len(body) == 0:
		a.respond(tx, a.response(req, statusNotAccept))
		return true
	case req.ContentType() == nil || !strings.HasPrefix(strings.ToLower(req.ContentType().Value()), "application/sdp"):
		a.respond(tx, a.response(req, status{415, "Unsupported Media Type"}))
		return true
	case checkSDP(body) != nil:
		a.respond(tx, a.response(req, statusBadRequest))
		return true
	}
	other := cl.leg(old.side.Other())
	cl.mu.Lock()
	relayed := len(cl.rtp) > 0
	cl.mu.Unlock()
	onRelay := a.relayReplaces(cl, old, body) // the replaced phone's relay leg takes the new phone (media_anchor.go)
	if (other == nil || relayed) && onRelay == nil {
		a.log.Info("INVITE with Replaces: the other side is not a SIP phone passed through: 488", "call", cl.id)
		a.respond(tx, a.response(req, statusNotAccept))
		return true
	}
	a.respond(tx, a.response(req, status{100, "Trying"}))
	nd := newUASDialog(req, sip.GenerateTagN(16))
	nl := &sipLeg{dlg: nd, client: auth.client, side: old.side, got: body, first: onRelay, device: a.callerDevice(auth.client, req)}
	if !a.swapLeg(cl, old, nl) {
		a.respond(tx, a.response(req, statusNoDialog)) // ended or replaced meanwhile
		return true
	}
	done := make(chan struct{})
	a.serial(cl, func() {
		defer close(done)
		a.replace(cl, old, nl, other, req, tx)
	})
	select {
	case <-done:
	case <-a.ctx.Done():
	}
	return true
}

// answerNewDialog answers req, a new INVITE that joins a call as dialog d
// (INVITE with Replaces, a park slot's retrieve), with sdp: a 200 with d's
// tag and our Contact, retransmitted until the ACK.
func (a *Adapter) answerNewDialog(req *sip.Request, tx sip.ServerTransaction, d *dialog, sdp []byte) {
	ok := a.response(req, status{200, "OK"})
	if to := ok.To(); to != nil {
		to.Params.Add("tag", d.LocalTag)
	}
	ok.AppendHeader(a.ourContact(req.Transport()).Clone())
	ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ok.SetBody(sdp)
	a.answer2xx(req, tx, d, ok, func() {})
}

// swapLeg puts nl in the place of old in cl: old no longer gets the
// call's BYE nor hangs it up; the call's requests on old's side go to nl.
func (a *Adapter) swapLeg(cl *call, old, nl *sipLeg) bool {
	if old.in != nil || old.fork != nil {
		if !a.detach(old) {
			return false
		}
	}
	cl.mu.Lock()
	switch {
	case cl.kept == old || old.side == engine.Caller && old.in != nil:
		cl.kept = nl
	default:
		cl.adopted = nl
	}
	cl.mu.Unlock()
	nl.side = old.side
	a.mu.Lock()
	delete(a.dialogs, old.dlg.key())
	a.dialogs[nl.dlg.key()] = dialogRef{call: cl.id, kept: nl}
	a.mu.Unlock()
	return true
}

// replace completes a replacement, in the call's order of outgoing
// requests: the other phone gets the new phone's offer (the o= line it
// knows, next version); its answer — or the SDP it sent last, when it
// does not answer — goes to the new phone in our 200; once that is ACKed
// the new dialog is journaled and the replaced one gets a BYE.
func (a *Adapter) replace(cl *call, old, nl, other *sipLeg, req *sip.Request, tx sip.ServerTransaction) {
	offer := nl.got
	answer := nl.first // on the relay: its leg's answer, no re-INVITE (media_anchor.go)
	if answer == nil {
		answer = other.peerSDP()
		res, err := a.reinvite(other, other.stamp(offer))
		switch {
		case err != nil:
			a.log.Info("INVITE with Replaces: cannot re-INVITE the other phone", "call", cl.id, "err", err)
		case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
			other.gotSDP(res.Body())
			answer = res.Body()
		}
	}
	nd := nl.dlg
	nd.mu.Lock()
	nd.SentSDP = answer
	nd.RemoteSDP = offer
	nd.mu.Unlock()
	a.answerNewDialog(req, tx, nd, answer)
	a.journalDialog(nd, cl.id, nl.side, nl.client, nl.device, answer, offer)
	old.dlg.mu.Lock()
	old.dlg.jr = nil // its record is replaced; its BYE journals nothing
	old.dlg.mu.Unlock()
	a.sendBye(old.dlg)
	a.log.Info("a dialog replaced another (INVITE with Replaces)", "call", cl.id, "side", nl.side, "client", nl.client)
}
