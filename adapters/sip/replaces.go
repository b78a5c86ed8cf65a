package sip

import (
	"context"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
)

// Attended transfer from a phone (RFC 5589 §7): phone B holds A (call x)
// and talks with C (call z, the consultation), then sends REFER on its
// dialog with A, Refer-To naming C with a Replaces header (RFC 3891) that
// names its dialog with C. The engine's TransferToCall joins A and C in a
// new call (x and z end transferred); B gets 202, NOTIFY 100, the final
// NOTIFY and a BYE on both of its dialogs. A's and C's phones go on in
// the new call: A gets C's SDP in a re-INVITE, then C gets A's answer
// (both sendrecv) — SDP pass-through, as for the kept phone of a blind
// transfer.

// replacedDialog finds the leg of one of our confirmed dialogs that a
// Replaces names (tags as RFC 3891 says; the other order is accepted as
// well).
func (a *Adapter) replacedDialog(r sipsyntax.Replaces) (*call, *sipLeg) {
	for _, k := range [][2]string{{r.ToTag, r.FromTag}, {r.FromTag, r.ToTag}} {
		a.mu.Lock()
		ref, ok := a.dialogs[dialogKey(r.CallID, k[0])]
		a.mu.Unlock()
		if !ok || ref.trunk != nil {
			continue
		}
		cl, l := a.refLeg(ref)
		if l == nil {
			continue
		}
		l.dlg.mu.Lock()
		match := l.dlg.RemoteTag == k[1]
		l.dlg.mu.Unlock()
		if match {
			return cl, l
		}
	}
	return nil, nil
}

// handovers are the target phones' legs of attended transfers under way:
// the engine's new call takes each over when it is answered on its
// device (adoptTarget).
type handovers struct {
	mu   sync.Mutex
	legs []*sipLeg
}

func (h *handovers) add(l *sipLeg) {
	h.mu.Lock()
	h.legs = append(h.legs, l)
	h.mu.Unlock()
}

// take removes and returns the leg of client's device, or nil.
func (h *handovers) take(client, device string) *sipLeg {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, l := range h.legs {
		if l.client == client && l.device == device {
			h.legs = append(h.legs[:i], h.legs[i+1:]...)
			return l
		}
	}
	return nil
}

func (h *handovers) drop(l *sipLeg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.legs {
		if x == l {
			h.legs = append(h.legs[:i], h.legs[i+1:]...)
			return
		}
	}
}

// referReplaces serves a REFER whose Refer-To carries Replaces: l is the
// transferring phone's leg in call cl (its dialog with the kept party).
func (a *Adapter) referReplaces(req *sip.Request, tx sip.ServerTransaction, cl *call, l *sipLeg, referTo string) {
	r, err := sipsyntax.ReferToReplaces(referTo)
	if err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	zcl, zl := a.replacedDialog(r)
	if zl == nil || zcl == cl || zl.client != l.client {
		// Not one of this phone's other dialogs.
		a.respond(tx, a.response(req, status{202, "Accepted"}))
		a.wg.Go(func() { a.notifyRefer(l, "SIP/2.0 481 Call/Transaction Does Not Exist", true) })
		return
	}
	target := zcl.leg(zl.side.Other())
	if !a.detach(l) {
		a.respond(tx, a.response(req, statusNoDialog))
		return
	}
	if !a.detach(zl) {
		a.attach(l)
		a.respond(tx, a.response(req, statusNoDialog))
		return
	}
	if target != nil {
		if a.detach(target) {
			a.handover.add(target)
		} else {
			target = nil
		}
	}
	a.respond(tx, a.response(req, status{202, "Accepted"}))
	a.wg.Go(func() {
		a.notifyRefer(l, "SIP/2.0 100 Trying", false)
		ctx, cancel := a.command(l.client)
		_, err := a.eng.TransferToCall(ctx, engine.TransferToCallRequest{Call: cl.id, Side: l.side.Other(), Consult: zcl.id})
		cancel()
		if err != nil {
			a.log.Info("the engine refused a phone's attended transfer", "call", cl.id, "consult", zcl.id, "err", err)
			a.attach(l)
			a.attach(zl)
			if target != nil {
				a.handover.drop(target)
				a.attach(target)
			}
			st := statusForTransfer(err)
			a.notifyRefer(l, "SIP/2.0 "+itoa(st.Code)+" "+st.Reason, true)
			return
		}
		a.notifyRefer(l, "SIP/2.0 200 OK", true)
		a.byeWait(l.dlg)
		a.byeWait(zl.dlg)
	})
}

// byeWait sends BYE on d and waits for its answer (the transferring
// phone's two dialogs end in order).
func (a *Adapter) byeWait(d *dialog) {
	req := d.request(sip.BYE, nil)
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	a.prepare(req)
	ctx, cancel := context.WithTimeout(a.ctx, 64*sip.T1)
	defer cancel()
	t, err := a.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		a.log.Debug("cannot send BYE", "call-id", d.CallID, "err", err)
		return
	}
	defer t.Terminate()
	wait(ctx, t)
}

// crossReinvite: the kept party and the adopted target of an attended
// transfer's new call, passed through (not both on the relay), get each
// other's SDP in a re-INVITE, the kept one first.
func (a *Adapter) crossReinvite(cl *call) {
	cl.mu.Lock()
	kept, adopted := cl.kept, cl.adopted
	cl.mu.Unlock()
	if kept == nil || adopted == nil || a.keptOnRelay(cl) {
		return
	}
	a.serial(cl, func() {
		res, err := a.reinvite(kept, kept.stamp(sipsyntax.SetDirection(adopted.peerSDP(), "sendrecv")))
		switch {
		case err != nil:
			a.log.Info("cannot re-INVITE a transferred phone", "call", cl.id, "err", err)
		case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
			kept.gotSDP(res.Body())
		}
		res, err = a.reinvite(adopted, adopted.stamp(sipsyntax.SetDirection(kept.peerSDP(), "sendrecv")))
		switch {
		case err != nil:
			a.log.Info("cannot re-INVITE a transfer's target phone", "call", cl.id, "err", err)
		case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
			adopted.gotSDP(res.Body())
		}
	})
}

// adoptTarget: a call placed by a transfer, answered on the device of a
// target phone handed over by a REFER with Replaces, takes that phone's
// leg over (on its callee side), and the two phones get each other's
// SDP: A first (C's SDP), then C (A's answer).
func (a *Adapter) adoptTarget(c *engine.Call) *call {
	if c.Transfer == "" || c.Callee.Client == "" || c.AnsweredDevice == "" {
		return nil
	}
	t := a.handover.take(c.Callee.Client, c.AnsweredDevice)
	if t == nil {
		return nil
	}
	adopted := &sipLeg{dlg: t.dlg, client: t.client, side: engine.Callee, first: t.sentSDP(), got: t.peerSDP(), device: t.device}
	cl := a.callOf(c.ID)
	a.mu.Lock()
	a.dialogs[t.dlg.key()] = dialogRef{call: c.ID, kept: adopted}
	a.mu.Unlock()
	cl.mu.Lock()
	cl.adopted = adopted
	cl.mu.Unlock()
	// The target phone's dialog is journaled on the new call, callee
	// side (the kept phone's was moved at CallDialed, adoptKept).
	a.serial(cl, func() { a.moveJournal(adopted.dlg, c.ID, engine.Callee, adopted.client, adopted.device) })
	if a.reanchorTarget(cl, t) { // both phones on the relay: no re-INVITE (media_anchor.go)
		return cl
	}
	a.crossReinvite(cl)
	return cl
}
