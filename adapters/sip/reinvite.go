package sip

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
)

// re-INVITE both ways (RFC 3261 §14, RFC 3264 §8). Media is passed
// through between two phones, so the adapter is a B2BUA for the session
// too: a phone's re-INVITE is relayed as a re-INVITE on the other phone's
// dialog, and the first phone gets the other's answer, its direction made
// to fit the offer (sendonly → recvonly, inactive → inactive) and its o=
// version incremented. A hold (a=sendonly, a=inactive) is the engine's
// Hold by that phone's side, a=sendrecv after it the Resume. A hold the
// engine decides (the Go API, a browser) is a re-INVITE with a=sendonly
// to the other side's phone, a=sendrecv on resume. Glare: a re-INVITE
// while ours is pending gets 491, and ours, refused with 491, is sent
// again after 2.1–4 s (RFC 3261 §14.1).

var (
	errGlare      = errors.New("sip: re-INVITE glare")
	errNoResponse = errors.New("sip: no final response")
)

// glareTries bounds how many times one re-INVITE is sent after 491.
const glareTries = 3

// sipLeg is one SIP phone's side of a call, as re-INVITE, INFO and REFER
// see it.
type sipLeg struct {
	dlg    *dialog
	client string
	side   engine.Side
	first  []byte // the SDP the phone got first (its origin baseline)
	got    []byte // the SDP the phone sent first
	in     *inLeg // the leg it is made of (one of in, fork), nil for a kept leg
	fork   *fork
	device string
	far    string // a far end's leg (a trunk's) that a transfer moved: the engine's leg id (transfer_far.go)
}

// leg returns the SIP leg on side of cl whose dialog is up, or nil.
func (cl *call) leg(side engine.Side) *sipLeg {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if k := cl.kept; k != nil && k.side == side {
		return k
	}
	if k := cl.adopted; k != nil && k.side == side {
		return k
	}
	switch side {
	case engine.Caller:
		if in := cl.in; in != nil {
			in.mu.Lock()
			st := in.state
			in.mu.Unlock()
			if st == legAnswering || st == legConfirmed {
				l := &sipLeg{dlg: in.dlg, client: in.client, side: side, got: in.offer, in: in, device: in.device}
				if r := cl.relayAnswer(); r != nil {
					l.first = r
				} else if cl.winner != nil {
					l.first = cl.winner.answer
				}
				return l
			}
		}
	case engine.Callee:
		if f := cl.winner; f != nil {
			f.mu.Lock()
			st := f.state
			f.mu.Unlock()
			if st == legConfirmed {
				l := &sipLeg{dlg: f.dlg, client: f.client, side: side, got: f.answer, fork: f, device: f.device}
				if r := cl.rtp[engine.Callee]; r != nil {
					l.first = r.sdp
				} else if cl.in != nil {
					l.first = cl.in.offer
				} else if cl.kept != nil {
					l.first = cl.kept.peerSDP()
				}
				return l
			}
		}
	}
	return nil
}

// peerSDP is the last SDP the phone sent.
func (l *sipLeg) peerSDP() []byte {
	l.dlg.mu.Lock()
	defer l.dlg.mu.Unlock()
	if l.dlg.RemoteSDP != nil {
		return l.dlg.RemoteSDP
	}
	return l.got
}

// sentSDP is the last SDP the phone got.
func (l *sipLeg) sentSDP() []byte {
	l.dlg.mu.Lock()
	defer l.dlg.mu.Unlock()
	if l.dlg.SentSDP != nil {
		return l.dlg.SentSDP
	}
	return l.first
}

// stamp gives body the o= line the phone knows with the next version,
// and records it as the last SDP sent.
func (l *sipLeg) stamp(body []byte) []byte {
	prev := sipsyntax.OriginLine(l.sentSDP())
	l.dlg.mu.Lock()
	defer l.dlg.mu.Unlock()
	if next, ok := sipsyntax.NextOrigin(prev); ok {
		body = sipsyntax.WithOrigin(body, next)
	}
	l.dlg.SentSDP = body
	return body
}

// gotSDP records the SDP the phone sent, and journals the dialog record
// (the SDP we stamped before it, a target refresh) when it is journaled.
func (l *sipLeg) gotSDP(body []byte) {
	l.dlg.mu.Lock()
	l.dlg.RemoteSDP = append([]byte(nil), body...)
	l.dlg.saveLocked()
	l.dlg.mu.Unlock()
}

// refLeg finds the call and the SIP leg of an in-dialog request's dialog.
func (a *Adapter) refLeg(ref dialogRef) (*call, *sipLeg) {
	a.mu.Lock()
	cl := a.calls[ref.call]
	a.mu.Unlock()
	if cl == nil {
		return nil, nil
	}
	if ref.trunk != nil {
		return cl, ref.trunk.sipLeg()
	}
	var d *dialog
	side := engine.Callee
	switch {
	case ref.kept != nil:
		d, side = ref.kept.dlg, ref.kept.side
	case ref.in != nil:
		d, side = ref.in.dlg, engine.Caller
	case ref.fork != nil:
		d = ref.fork.dlg
	}
	l := cl.leg(side)
	if l == nil || l.dlg != d {
		return nil, nil
	}
	return cl, l
}

// inDialogLeg resolves an in-dialog request: its call and leg, or the
// response already sent (481 unknown dialog or a leg not up, 500 CSeq out
// of order).
func (a *Adapter) inDialogLeg(req *sip.Request, tx sip.ServerTransaction) (*call, *sipLeg, bool) {
	ref, ok := a.dialogOf(req)
	var cl *call
	var l *sipLeg
	if ok {
		cl, l = a.refLeg(ref)
	}
	if l == nil {
		a.respond(tx, a.response(req, statusNoDialog))
		return nil, nil, false
	}
	if !l.dlg.inDialog(req) {
		a.respond(tx, a.response(req, statusServerError))
		return nil, nil, false
	}
	return cl, l, true
}

// onReInvite serves an INVITE inside a dialog.
func (a *Adapter) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	cl, l, ok := a.inDialogLeg(req, tx)
	if !ok {
		return
	}
	if len(req.Body()) == 0 {
		a.respond(tx, a.response(req, statusNotAccept)) // no offer (late offer): not supported
		return
	}
	release, ok := a.takeOffer(req, tx, l)
	if !ok {
		return
	}
	defer release()
	a.respond(tx, a.response(req, status{100, "Trying"}))
	answer, ok := a.answerOffer(req, tx, cl, l)
	if !ok {
		return
	}
	a.answerReInvite(req, tx, l.dlg, answer, release)
}

// takeOffer checks the SDP offer of an in-dialog INVITE or UPDATE and marks
// it pending on the dialog; release ends that. When it returns false the
// request was answered: 415 for a body that is not SDP, 400 for SDP we
// cannot read, 491 while our own offer is pending (glare), 500 with
// Retry-After while another offer of the phone's is (RFC 3261 §14.2, RFC
// 3311 §5.2).
func (a *Adapter) takeOffer(req *sip.Request, tx sip.ServerTransaction, l *sipLeg) (release func(), ok bool) {
	body := req.Body()
	if ct := req.ContentType(); ct == nil || !strings.HasPrefix(strings.ToLower(ct.Value()), "application/sdp") {
		a.respond(tx, a.response(req, status{415, "Unsupported Media Type"}))
		return nil, false
	}
	if checkSDP(body) != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return nil, false
	}
	d := l.dlg
	d.mu.Lock()
	glare, busy := d.outPending, d.inPending
	if !glare && !busy {
		d.inPending = true
	}
	d.mu.Unlock()
	switch {
	case glare:
		a.respond(tx, a.response(req, status{491, "Request Pending"}))
		return nil, false
	case busy: // a second offer before the first's answer
		res := a.response(req, statusServerError)
		res.AppendHeader(sip.NewHeader("Retry-After", "2"))
		a.respond(tx, res)
		return nil, false
	}
	// The offer is pending until its final response is sent, not until
	// the ACK: a phone may send its next re-INVITE right after the ACK
	// (RFC 3261 §14.2 asks for 500 only before the final response).
	released := false
	return func() {
		if !released {
			released = true
			d.mu.Lock()
			d.inPending = false
			d.mu.Unlock()
		}
	}, true
}

// answerOffer applies the phone's offer (of a re-INVITE or an UPDATE) and
// returns the SDP to answer it with: a hold or resume is the engine's, a
// passed-through call relays the offer to the other phone, a relayed leg
// follows the phone's new address and codec. When it returns false the
// request was answered (488: the engine refused the hold or resume).
func (a *Adapter) answerOffer(req *sip.Request, tx sip.ServerTransaction, cl *call, l *sipLeg) ([]byte, bool) {
	body := req.Body()
	dir := sipsyntax.SDPDirection(body)
	hold := dir == sipsyntax.DirSendOnly || dir == sipsyntax.DirInactive
	if err := a.phoneHold(cl, l, hold); err != nil {
		a.log.Info("the engine refused a phone's hold or resume", "call", cl.id, "side", l.side, "hold", hold, "err", err)
		a.respond(tx, a.response(req, statusNotAccept))
		return nil, false
	}
	var answer []byte
	if other := cl.leg(l.side.Other()); other != nil && cl.relayed(l.side) == "" {
		res, err := a.reinvite(other, other.stamp(body))
		switch {
		case err != nil:
			a.log.Info("the relayed re-INVITE failed", "call", cl.id, "err", err)
		case res.StatusCode >= 300:
			a.log.Info("the other phone refused the relayed re-INVITE", "call", cl.id, "status", res.StatusCode)
		case checkSDP(res.Body()) != nil:
			a.log.Info("the other phone answered a re-INVITE with an SDP we cannot read", "call", cl.id)
		default:
			other.gotSDP(res.Body())
			answer = sipsyntax.SetDirection(res.Body(), sipsyntax.AnswerDirection(dir, sipsyntax.SDPDirection(res.Body())))
		}
	}
	if answer == nil {
		// No other phone to ask (its media is the relay's, or it
		// failed): the SDP the phone has, its direction fitted to the
		// offer.
		answer = sipsyntax.SetDirection(a.reanswer(cl, l, body), sipsyntax.AnswerDirection(dir, sipsyntax.DirSendRecv))
	}
	answer = l.stamp(answer)
	a.targetRefresh(req, l.dlg)
	l.gotSDP(body) // journals the record with the new SDPs and target
	return answer, true
}

// targetRefresh takes the Contact of an in-dialog INVITE or UPDATE as the
// dialog's remote target (RFC 3261 §12.2.2, RFC 3311 §5.2), and tells
// whether it changed.
func (a *Adapter) targetRefresh(req *sip.Request, d *dialog) bool {
	h := req.Contact()
	if h == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := d.RemoteTarget.String() != h.Address.String()
	d.RemoteTarget = *h.Address.Clone()
	return changed
}

// phoneHold tells the engine that the phone of leg l holds (or resumes)
// the call, unless the engine knows already.
func (a *Adapter) phoneHold(cl *call, l *sipLeg, hold bool) error {
	cl.mu.Lock()
	if cl.sipHold == nil {
		cl.sipHold = map[engine.Side]bool{}
	}
	was := cl.sipHold[l.side]
	cl.sipHold[l.side] = hold
	cl.mu.Unlock()
	if was == hold {
		return nil
	}
	ctx, cancel := a.command(l.client)
	defer cancel()
	var err error
	if hold {
		_, err = a.eng.Hold(ctx, cl.id, l.side)
	} else {
		_, err = a.eng.Resume(ctx, cl.id, l.side)
	}
	if err != nil {
		cl.mu.Lock()
		cl.sipHold[l.side] = was
		cl.mu.Unlock()
	}
	return err
}

// engineHold follows the engine's CallHeld and CallResumed: a hold the
// phones do not know yet is a re-INVITE to the other side's phone,
// a=sendonly to hold and a=sendrecv to resume.
func (a *Adapter) engineHold(cl *call, by engine.Side, hold bool) {
	cl.mu.Lock()
	if cl.sipHold == nil {
		cl.sipHold = map[engine.Side]bool{}
	}
	known := cl.sipHold[by] == hold
	cl.sipHold[by] = hold
	cl.mu.Unlock()
	if known {
		return
	}
	a.serial(cl, func() {
		other := cl.leg(by.Other())
		if other == nil {
			return
		}
		src := other.sentSDP()
		if l := cl.leg(by); l != nil && cl.relayed(by.Other()) == "" {
			src = l.peerSDP()
		}
		dir := sipsyntax.DirSendRecv
		if hold {
			dir = sipsyntax.DirSendOnly
		}
		res, err := a.reinvite(other, other.stamp(sipsyntax.SetDirection(src, dir)))
		switch {
		case err != nil:
			a.log.Info("cannot re-INVITE a phone for the engine's hold", "call", cl.id, "hold", hold, "err", err)
		case res.StatusCode >= 300:
			a.log.Info("a phone refused the engine's hold", "call", cl.id, "hold", hold, "status", res.StatusCode)
		case checkSDP(res.Body()) == nil:
			other.gotSDP(res.Body())
		}
	})
}

// serial runs fn after the call's earlier outgoing work (re-INVITEs,
// INFO), in order, off the event loop.
func (a *Adapter) serial(cl *call, fn func()) {
	cl.mu.Lock()
	cl.queue = append(cl.queue, fn)
	start := !cl.running
	cl.running = true
	cl.mu.Unlock()
	if !start {
		return
	}
	a.wg.Go(func() {
		for {
			cl.mu.Lock()
			if len(cl.queue) == 0 || a.ctx.Err() != nil {
				cl.queue, cl.running = nil, false
				cl.mu.Unlock()
				return
			}
			next := cl.queue[0]
			cl.queue = cl.queue[1:]
			cl.mu.Unlock()
			next()
		}
	})
}

// reinvite sends a re-INVITE with offer on leg l and returns its final
// response; after a 491 (or while another re-INVITE on the dialog is in
// flight) it waits 2.1–4 s and tries again, up to glareTries times.
func (a *Adapter) reinvite(l *sipLeg, offer []byte) (*sip.Response, error) {
	d := l.dlg
	for try := 1; ; try++ {
		d.mu.Lock()
		busy := d.outPending || d.inPending
		if !busy {
			d.outPending = true
		}
		d.mu.Unlock()
		var res *sip.Response
		var err error
		if !busy {
			res, err = a.sendReInvite(d, offer)
			d.mu.Lock()
			d.outPending = false
			d.mu.Unlock()
			if err != nil || res.StatusCode != 491 {
				return res, err
			}
		}
		if try >= glareTries {
			return nil, errGlare
		}
		select {
		case <-time.After(glareDelay()):
		case <-a.ctx.Done():
			return nil, a.ctx.Err()
		}
	}
}

// glareDelay is the random wait before a re-INVITE refused with 491 is
// sent again by the side that does not own the Call-ID (RFC 3261 §14.1).
func glareDelay() time.Duration {
	return 2100*time.Millisecond + rand.N(1900*time.Millisecond)
}

// sendReInvite sends one re-INVITE and ACKs its 2xx.
func (a *Adapter) sendReInvite(d *dialog, offer []byte) (*sip.Response, error) {
	req := d.request(sip.INVITE, a.ourContact(d.Transport))
	a.withOffer(req, offer)
	a.prepare(req)
	ctx, cancel := context.WithTimeout(a.ctx, 64*sip.T1)
	defer cancel()
	tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	res := wait(ctx, tx)
	if res == nil {
		return nil, errNoResponse
	}
	if res.IsSuccess() {
		d.mu.Lock()
		if h := res.Contact(); h != nil {
			d.RemoteTarget = *h.Address.Clone() // a target refresh (RFC 3261 §12.2.1.2)
		}
		d.mu.Unlock()
		ack := d.request(sip.ACK, a.ourContact(d.Transport))
		if h := ack.CSeq(); h != nil {
			h.SeqNo = req.CSeq().SeqNo
		}
		a.prepare(ack)
		if err := a.cli.WriteRequest(ack, noBuild); err != nil {
			a.log.Debug("cannot ACK a re-INVITE", "call-id", d.CallID, "err", err)
		}
	}
	return res, nil
}

// answerReInvite sends the 200 with sdp and, over UDP, retransmits it
// until the ACK (RFC 3261 §13.3.1.4); sent runs just before the 200 is
// first sent.
func (a *Adapter) answerReInvite(req *sip.Request, tx sip.ServerTransaction, d *dialog, sdp []byte, sent func()) {
	a.sessionRefreshed(d, req) // a refresh (session_timer.go)
	res := a.response(req, status{200, "OK"})
	d.sessionHeaders(res)
	res.AppendHeader(a.ourContact(req.Transport()).Clone())
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.SetBody(sdp)
	a.answer2xx(req, tx, d, res, sent)
}

// answer2xx sends res, a 2xx to the INVITE req in dialog d, and over UDP
// retransmits it until its ACK; sent runs just before it is first sent.
func (a *Adapter) answer2xx(req *sip.Request, tx sip.ServerTransaction, d *dialog, res *sip.Response, sent func()) {
	seq := req.CSeq().SeqNo
	acked := make(chan struct{})
	d.mu.Lock()
	if d.acks == nil {
		d.acks = map[uint32]chan struct{}{}
	}
	d.acks[seq] = acked
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.acks, seq)
		d.mu.Unlock()
	}()
	sent()
	a.respond(tx, res)
	reliable := !strings.EqualFold(req.Transport(), "UDP")
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-acked:
			return
		case ack := <-tx.Acks():
			if ack != nil {
				return
			}
		case <-retransmit.C:
			if !reliable {
				a.resend(tx, res)
				interval = min(2*interval, sip.T2)
				retransmit.Reset(interval)
			}
		case <-giveUp.C:
			return
		case <-a.ctx.Done():
			return
		}
	}
}

// reInviteAcked: an ACK in a dialog; it may be the one a 200 to a
// re-INVITE waits for.
func (a *Adapter) reInviteAcked(ref dialogRef, req *sip.Request) {
	var d *dialog
	switch {
	case ref.trunk != nil:
		d = ref.trunk.dlg
	case ref.kept != nil:
		d = ref.kept.dlg
	case ref.in != nil:
		d = ref.in.dlg
	case ref.fork != nil:
		d = ref.fork.dlg
	}
	h := req.CSeq()
	if d == nil || h == nil {
		return
	}
	d.mu.Lock()
	ch := d.acks[h.SeqNo]
	delete(d.acks, h.SeqNo)
	d.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// inDialogRequest sends a request other than INVITE in dialog d with a
// body of type ct and waits for its final response.
func (a *Adapter) inDialogRequest(d *dialog, method sip.RequestMethod, ct string, body []byte, hdrs ...sip.Header) (*sip.Response, error) {
	req := d.request(method, nil)
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	if ct != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
	}
	req.SetBody(body)
	a.prepare(req)
	ctx, cancel := context.WithTimeout(a.ctx, 64*sip.T1)
	defer cancel()
	tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	res := wait(ctx, tx)
	if res == nil {
		return nil, errNoResponse
	}
	return res, nil
}
