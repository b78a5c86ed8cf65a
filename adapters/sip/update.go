package sip

import "github.com/emiago/sipgo/sip"

// UPDATE (RFC 3311) in a confirmed dialog. Without a body it is a session
// refresh (RFC 4028: some carriers refresh with UPDATE rather than a
// re-INVITE) or a target refresh: 200, nothing changes in the call; a new
// Contact is journaled with the dialog record. With an SDP offer it is
// served as a re-INVITE's offer (answerOffer: hold and resume, a moved
// address or a new codec on a relayed leg, passed on to the other phone of
// a call passed through), and the answer is in the 200 — an UPDATE has no
// ACK. An UPDATE while our re-INVITE waits is 491, as a re-INVITE would be.
// An UPDATE in an early dialog (before the 200) finds no leg: 481.

// onUpdate serves an UPDATE.
func (a *Adapter) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	cl, l, ok := a.inDialogLeg(req, tx)
	if !ok {
		return
	}
	a.sessionRefreshed(l.dlg, req) // a refresh (session_timer.go)
	res := a.response(req, status{200, "OK"})
	res.AppendHeader(a.ourContact(req.Transport()).Clone())
	l.dlg.sessionHeaders(res)
	if len(req.Body()) == 0 {
		if a.targetRefresh(req, l.dlg) {
			l.gotSDP(l.peerSDP()) // journals the record with the new target
		}
		a.respond(tx, res)
		return
	}
	release, ok := a.takeOffer(req, tx, l)
	if !ok {
		return
	}
	defer release()
	answer, ok := a.answerOffer(req, tx, cl, l)
	if !ok {
		return
	}
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.SetBody(answer)
	release()
	a.respond(tx, res)
}
