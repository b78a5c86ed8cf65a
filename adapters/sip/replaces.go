package sip

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"

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

var errBadReplaces = errors.New("sip: malformed Replaces")

// replacesID names the dialog a Replaces header replaces: its Call-ID,
// and the tags as the phone that sent it sees them (to-tag the remote
// one, ours; from-tag its own).
type replacesID struct {
	callID, toTag, fromTag string
	earlyOnly              bool
}

// parseReplaces reads a Replaces value (RFC 3891 §6.1):
// callid;to-tag=…;from-tag=…[;early-only]. It never panics
// (FuzzReplaces).
func parseReplaces(v string) (replacesID, error) {
	var r replacesID
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxReferTo {
		return r, errBadReplaces
	}
	parts := strings.Split(v, ";")
	r.callID = strings.TrimSpace(parts[0])
	if r.callID == "" || strings.ContainsAny(r.callID, " \t\r\n<>\"") {
		return replacesID{}, errBadReplaces
	}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "to-tag":
			r.toTag = strings.TrimSpace(val)
		case "from-tag":
			r.fromTag = strings.TrimSpace(val)
		case "early-only":
			r.earlyOnly = true
		}
	}
	if r.toTag == "" || r.fromTag == "" || strings.ContainsAny(r.toTag+r.fromTag, " \t\r\n<>\"") {
		return replacesID{}, errBadReplaces
	}
	return r, nil
}

// referToReplaces finds the Replaces header among the headers of a
// Refer-To URI (…?Replaces=<escaped value>&…) and parses it.
func referToReplaces(v string) (replacesID, error) {
	raw := v
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return replacesID{}, errBadReplaces
		}
		raw = v[i+1 : i+j]
	}
	_, hdrs, ok := strings.Cut(raw, "?")
	if !ok {
		return replacesID{}, errBadReplaces
	}
	for _, h := range strings.Split(hdrs, "&") {
		name, val, _ := strings.Cut(h, "=")
		if !strings.EqualFold(name, "replaces") {
			continue
		}
		u, err := url.PathUnescape(val)
		if err != nil {
			return replacesID{}, errBadReplaces
		}
		return parseReplaces(u)
	}
	return replacesID{}, errBadReplaces
}

// replacedDialog finds the leg of one of our confirmed dialogs that a
// Replaces names (tags as RFC 3891 says; the other order is accepted as
// well).
func (a *Adapter) replacedDialog(r replacesID) (*call, *sipLeg) {
	for _, k := range [][2]string{{r.toTag, r.fromTag}, {r.fromTag, r.toTag}} {
		a.mu.Lock()
		ref, ok := a.dialogs[dialogKey(r.callID, k[0])]
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
	r, err := referToReplaces(referTo)
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
	a.mu.Lock()
	cl := a.calls[c.ID]
	if cl == nil {
		cl = &call{id: c.ID, forks: map[string]*fork{}}
		a.calls[c.ID] = cl
	}
	a.dialogs[t.dlg.key()] = dialogRef{call: c.ID, kept: adopted}
	a.mu.Unlock()
	cl.mu.Lock()
	cl.adopted = adopted
	kept := cl.kept
	cl.mu.Unlock()
	// The target phone's dialog is journaled on the new call, callee
	// side (the kept phone's was moved at CallDialed, adoptKept).
	a.serial(cl, func() { a.moveJournal(adopted.dlg, c.ID, engine.Callee, adopted.client, adopted.device) })
	if a.reanchorTarget(cl, t) { // both phones on the relay: no re-INVITE (media_anchor.go)
		return cl
	}
	a.serial(cl, func() {
		offerC := adopted.peerSDP()
		if kept != nil {
			res, err := a.reinvite(kept, kept.stamp(setDirection(offerC, "sendrecv")))
			switch {
			case err != nil:
				a.log.Info("cannot re-INVITE a transferred phone", "call", cl.id, "err", err)
			case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
				kept.gotSDP(res.Body())
			}
			res, err = a.reinvite(adopted, adopted.stamp(setDirection(kept.peerSDP(), "sendrecv")))
			switch {
			case err != nil:
				a.log.Info("cannot re-INVITE a transfer's target phone", "call", cl.id, "err", err)
			case res.StatusCode < 300 && checkSDP(res.Body()) == nil:
				adopted.gotSDP(res.Body())
			}
		}
	})
	return cl
}
