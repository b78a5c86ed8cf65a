package sip

import (
	"github.com/emiago/sipgo/sip"
)

// OPTIONS and the methods we do not serve.

// allowed lists the methods the adapter serves (the Allow header).
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, REFER, MESSAGE, UPDATE, PRACK"

// known are methods of SIP we recognise but do not serve: 405 with Allow.
// Any other method is 501 Not Implemented.
var known = map[sip.RequestMethod]bool{
	sip.SUBSCRIBE: true, sip.NOTIFY: true,
	sip.PUBLISH: true,
}

// routes installs the handlers on the sipgo server, each behind the
// check of the extensions a request requires (require.go).
func (a *Adapter) routes() {
	a.srv.OnRegister(a.extensionsChecked(a.onRegister))
	a.srv.OnInvite(a.extensionsChecked(a.onInvite))
	a.srv.OnAck(a.onAck)
	a.srv.OnBye(a.extensionsChecked(a.onBye))
	a.srv.OnCancel(a.onCancel)
	a.srv.OnOptions(a.extensionsChecked(a.onOptions))
	a.srv.OnInfo(a.extensionsChecked(a.onInfo))
	a.srv.OnRefer(a.extensionsChecked(a.onRefer))
	a.srv.OnMessage(a.extensionsChecked(a.onMessage))
	a.srv.OnUpdate(a.extensionsChecked(a.onUpdate))
	a.srv.OnPrack(a.extensionsChecked(a.onPrack))
	a.srv.OnNoRoute(a.onOther)
}

// onOptions answers 200 with what we accept, and our Contact on the
// request's transport (RFC 3261 §11.2).
func (a *Adapter) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := a.response(req, status{200, "OK"})
	res.AppendHeader(a.ourContact(req.Transport()).Clone())
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Supported", supported))
	a.respond(tx, res)
}

// onOther refuses a method we do not serve: 405 for one SIP defines, 501
// for any other.
func (a *Adapter) onOther(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	st := statusNotImpl
	if known[req.Method] {
		st = status{405, "Method Not Allowed"}
	}
	res := a.response(req, st)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	a.respond(tx, res)
}

// withOffer completes an INVITE we send with an SDP offer (to a phone, to
// a trunk, a re-INVITE): who we are, what we allow and support, the body.
func (a *Adapter) withOffer(req *sip.Request, offer []byte) {
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	req.AppendHeader(sip.NewHeader("Supported", supported))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
}
