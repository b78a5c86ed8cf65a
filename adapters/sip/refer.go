package sip

import (
	"context"
	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/errcode"
)

// REFER (RFC 3515) as a blind transfer: a phone's in-dialog REFER with a
// Refer-To is the engine's BlindTransfer of the other party to the
// target, on behalf of the phone's client. The phone gets 202, a NOTIFY
// (Event: refer, message/sipfrag) "SIP/2.0 100 Trying", then "SIP/2.0 200
// OK" once the engine placed the new call (or the failure, and the call
// goes on), then a BYE: it left the call. The other party's phone goes on
// in the engine's new call (the kept leg): it is offered to the target as
// its last SDP, and gets the target's answer in a re-INVITE. Refer-To
// with Replaces is an attended transfer (replaces.go).

// onRefer serves a REFER inside a dialog.
func (a *Adapter) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	cl, l, ok := a.inDialogLeg(req, tx)
	if !ok {
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	u, replaces, err := sipsyntax.ParseReferTo(h.Value())
	if err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	if replaces {
		a.referReplaces(req, tx, cl, l, h.Value()) // attended transfer (replaces.go)
		return
	}
	if slot, ok := a.parkSlot(u.User); ok {
		a.parkByRefer(req, tx, cl, l, slot) // park_sip.go
		return
	}
	dest, err := destination(&u, a.domain())
	if err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	a.referAccepted(req, tx, l, func(ctx context.Context) error {
		_, err := a.eng.BlindTransfer(ctx, engine.TransferRequest{Call: cl.id, Side: l.side.Other(), To: dest})
		if err != nil {
			a.log.Info("the engine refused a phone's transfer", "call", cl.id, "to", dest, "err", err)
		}
		return err
	})
}

// referAccepted takes leg l out of its call and accepts its REFER (202),
// then runs the engine's command do on behalf of l's client: the phone
// gets NOTIFY 100, then 200 and its BYE — it left the call — or, when the
// engine refuses, the failure and its leg back in the call.
func (a *Adapter) referAccepted(req *sip.Request, tx sip.ServerTransaction, l *sipLeg, do func(context.Context) error) {
	if !a.detach(l) {
		a.respond(tx, a.response(req, statusNoDialog))
		return
	}
	a.respond(tx, a.response(req, status{202, "Accepted"}))
	a.wg.Go(func() {
		a.notifyRefer(l, "SIP/2.0 100 Trying", false)
		ctx, cancel := a.command(l.client)
		err := do(ctx)
		cancel()
		if err != nil {
			a.attach(l)
			st := statusForTransfer(err)
			a.notifyRefer(l, "SIP/2.0 "+itoa(st.Code)+" "+st.Reason, true)
			return
		}
		a.notifyRefer(l, "SIP/2.0 200 OK", true)
		a.sendBye(l.dlg)
	})
}

// statusForTransfer is the sipfrag status of a transfer the engine refused.
func statusForTransfer(err error) status {
	switch errcode.CodeOf(err) {
	case errcode.NotFound:
		return statusNotFound
	case errcode.Forbidden:
		return statusForbidden
	case errcode.InvalidState:
		return statusNotAccept
	}
	return statusServiceUnav
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// notifyRefer sends the REFER's implicit subscription a NOTIFY with a
// sipfrag (RFC 3515 §2.4.4).
func (a *Adapter) notifyRefer(l *sipLeg, frag string, final bool) {
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	_, err := a.inDialogRequest(l.dlg, sip.NOTIFY, "message/sipfrag;version=2.0", []byte(frag+"\r\n"),
		sip.NewHeader("Event", "refer"), sip.NewHeader("Subscription-State", state), a.ourContact(l.dlg.Transport).Clone())
	if err != nil {
		a.log.Debug("cannot NOTIFY a transfer's progress", "call-id", l.dlg.CallID, "err", err)
	}
}

// detach takes a transferring phone's leg out of its call: the engine's
// end of the call will not send it a BYE (the REFER's goroutine does,
// after the last NOTIFY).
func (a *Adapter) detach(l *sipLeg) bool {
	switch {
	case l.in != nil:
		l.in.mu.Lock()
		defer l.in.mu.Unlock()
		if l.in.state != legConfirmed {
			return false
		}
		l.in.state = legEnded
	case l.fork != nil:
		l.fork.mu.Lock()
		defer l.fork.mu.Unlock()
		if l.fork.state != legConfirmed {
			return false
		}
		l.fork.state = legEnded
	default:
		return false
	}
	return true
}

// attach puts a leg back in its call after a transfer that failed.
func (a *Adapter) attach(l *sipLeg) {
	switch {
	case l.in != nil:
		l.in.mu.Lock()
		l.in.state = legConfirmed
		l.in.mu.Unlock()
	case l.fork != nil:
		l.fork.mu.Lock()
		l.fork.state = legConfirmed
		l.fork.mu.Unlock()
	}
}

// adoptKept: a call placed by a transfer whose caller is the party of
// one of our phones (its device) takes that phone's leg over: the old
// call's end will not BYE it, its requests belong to the new call.
func (a *Adapter) adoptKept(c *engine.Call) {
	if c.Transfer == "" || c.CallerDevice == "" || c.Caller.Client == "" {
		return
	}
	a.mu.Lock()
	var old []*call
	for _, cl := range a.calls {
		if cl.id != c.ID {
			old = append(old, cl)
		}
	}
	a.mu.Unlock()
	for _, o := range old {
		for _, side := range []engine.Side{engine.Caller, engine.Callee} {
			l := o.leg(side)
			if l == nil || l.device != c.CallerDevice || l.client != c.Caller.Client || !a.detach(l) {
				continue
			}
			kept := &sipLeg{dlg: l.dlg, client: l.client, side: engine.Caller, first: l.sentSDP(), got: l.peerSDP(), device: l.device}
			nc := a.callOf(c.ID)
			// Its relay leg goes with it (media_anchor.go) before the new
			// call has it: a trunk leg placed for the new call (a transfer
			// to a number outside) takes the kept leg's offer once it is
			// there (trunk_out.go, callerOffer).
			relayed := a.moveRelay(o, side, nc, engine.Caller)
			nc.mu.Lock()
			nc.kept = kept
			nc.mu.Unlock()
			a.mu.Lock()
			a.dialogs[l.dlg.key()] = dialogRef{call: c.ID, kept: kept}
			a.mu.Unlock()
			// The phone's dialog is journaled on the new call (it survives
			// a restart there), before any re-INVITE of the call goes out.
			a.serial(nc, func() { a.moveJournal(kept.dlg, c.ID, kept.side, kept.client, kept.device) })
			o.mu.Lock()
			if o.kept == l {
				o.kept = nil
			}
			o.mu.Unlock()
			if relayed {
				a.offerTarget(nc, c) // the target's phones are offered the relay
			}
			return
		}
	}
}

// keptAnswered: the target answered the call a kept phone goes on in;
// that phone gets the target's SDP in a re-INVITE.
func (a *Adapter) keptAnswered(cl *call) {
	cl.mu.Lock()
	k, w, tr := cl.kept, cl.winner, cl.trunk
	var answer []byte
	switch {
	case w != nil:
		answer = w.answer
	case tr != nil: // a transfer to a number outside
		answer = tr.answer()
	}
	cl.mu.Unlock()
	if k == nil || answer == nil || a.keptOnRelay(cl) { // on the relay: no re-INVITE (media_anchor.go)
		return
	}
	a.serial(cl, func() {
		res, err := a.reinvite(k, k.stamp(answer))
		switch {
		case err != nil:
			a.log.Info("cannot re-INVITE a transferred phone", "call", cl.id, "err", err)
		case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
			k.gotSDP(res.Body())
		}
	})
}

// endKept: the call a kept phone went on in ended: BYE.
func (a *Adapter) endKept(cl *call) {
	cl.mu.Lock()
	legs := []*sipLeg{cl.kept, cl.adopted}
	cl.kept, cl.adopted = nil, nil
	cl.mu.Unlock()
	for _, k := range legs {
		if k == nil {
			continue
		}
		a.mu.Lock()
		if r, ok := a.dialogs[k.dlg.key()]; ok && r.call == cl.id {
			delete(a.dialogs, k.dlg.key())
		}
		a.mu.Unlock()
		a.sendBye(k.dlg)
	}
}

// keptBye: the kept phone hung up.
func (a *Adapter) keptBye(ref dialogRef) {
	a.mu.Lock()
	cl := a.calls[ref.call]
	a.mu.Unlock()
	if cl == nil {
		return
	}
	cl.mu.Lock()
	mine := cl.kept == ref.kept || cl.adopted == ref.kept
	if cl.kept == ref.kept {
		cl.kept = nil
	} else if mine {
		cl.adopted = nil
	}
	cl.mu.Unlock()
	if mine {
		a.hangup(cl.id, ref.kept.client, ref.kept.side)
	}
}
