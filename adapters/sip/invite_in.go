package sip

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
)

// Calls from a SIP phone: an INVITE, challenged with 407 as Asterisk does,
// becomes engine.Dial under the caller's principal. The handler keeps the
// INVITE server transaction until the call is answered, refused or
// cancelled (sipgo ends a transaction when its handler returns): 100 at
// once, 180 on CallRinging, 200 with the answer on CallAnswered, the final
// refusal on CallEnded.

type legState uint8

const (
	legEarly     legState = iota // no final response yet
	legAnswering                 // 200 sent, waiting for the ACK
	legConfirmed                 // the dialog is up
	legEnded
)

// outcome is the final response the INVITE's handler sends.
type outcome struct {
	st  status
	sdp []byte
}

// inLeg is a SIP caller's side of a call.
type inLeg struct {
	a      *Adapter
	req    *sip.Request
	tx     sip.ServerTransaction
	client string
	device string
	offer  []byte
	dlg    *dialog

	final    chan outcome  // the final response to send (one)
	canceled chan struct{} // closed on CANCEL
	acked    chan struct{} // closed on the ACK of our 200

	mu        sync.Mutex
	callID    string
	state     legState
	rang      bool
	early     bool // a 183 with SDP went (progress)
	byeWanted bool // the call ended while the 200 waited for its ACK
	ackOnce   sync.Once

	rel *reliable // its provisional responses are reliable (prack.go); nil: not
}

// onInvite serves an INVITE.
func (a *Adapter) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		a.onReInvite(req, tx)
		return
	}
	if a.replacesInvite(req, tx) { // replaces.go
		return
	}
	if a.trunkInvite(req, tx) { // trunk_in.go
		return
	}
	auth := a.authenticate(a.ctx, req, true)
	if auth.client == "" {
		a.challenge(req, tx, true, auth.stale)
		a.challengeAcked(req, tx)
		return
	}
	client := auth.client
	a.noteFlow(req) // over ws: the dialog's requests go back on its connection
	if a.refuseNewCall(req, tx) {
		return
	}
	a.respond(tx, a.response(req, status{100, "Trying"}))
	body := req.Body()
	if len(body) == 0 {
		a.respond(tx, a.response(req, statusNotAccept)) // no offer: late offer is not supported
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
	if slot, ok := a.parkSlot(req.Recipient.User); ok {
		a.retrieve(req, tx, client, slot, body) // a parked call (park_sip.go)
		return
	}
	dest, err := destination(&req.Recipient, a.domain())
	if err != nil {
		a.respond(tx, a.response(req, statusAddrIncompl))
		return
	}
	session, ok := a.sessionTimerOf(req, tx) // session_timer.go
	if !ok {
		return
	}
	leg := &inLeg{
		a: a, req: req, tx: tx, client: client, offer: body,
		final: make(chan outcome, 1), canceled: make(chan struct{}), acked: make(chan struct{}),
	}
	leg.dlg = newUASDialog(req, sip.GenerateTagN(16))
	leg.dlg.session = session
	leg.device = a.callerDevice(client, req)
	a.newReliable(leg)
	tx.OnCancel(func(*sip.Request) { leg.cancel() })

	a.mu.Lock()
	a.dialing++
	a.mu.Unlock()
	ctx, cancel := a.command(client)
	c, err := a.eng.Dial(ctx, engine.DialRequest{From: client, Device: leg.device, To: dest})
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
		a.log.Debug("dial refused", "client", client, "to", dest, "err", err)
		if leg.finish(outcome{st: statusForError(err)}) {
			leg.serve()
		}
		return
	}
	leg.mu.Lock()
	leg.callID = c.ID
	gone := leg.state == legEnded // cancelled while the Dial ran
	leg.mu.Unlock()
	a.kickLoop(c.ID)
	if gone {
		a.hangup(c.ID, client, engine.Caller)
	}
	leg.serve()
}

// challengeAcked waits for the ACK of the 407 to an INVITE over UDP and
// ends its transaction then: left to sipgo, the ACK would wait on a
// goroutine of its own for the transaction's Timer I (5 s) — thousands of
// them at a few hundred calls a second, for the garbage collector to scan.
func (a *Adapter) challengeAcked(req *sip.Request, tx sip.ServerTransaction) {
	if !strings.EqualFold(req.Transport(), "UDP") {
		return // reliable: sipgo ends the transaction when the handler returns
	}
	t := time.NewTimer(64 * sip.T1)
	defer t.Stop()
	select {
	case <-tx.Acks():
		tx.Terminate()
	case <-tx.Done():
	case <-t.C:
	case <-a.ctx.Done():
	}
}

// domain is the SIP domain of the engine's clients.
func (a *Adapter) domain() string {
	if a.set.Domain != "" {
		return a.set.Domain
	}
	return a.set.Realm
}

// callerDevice is the client's binding the INVITE comes from (its Contact
// is a registered one), or "" for none. A Contact with the "ob" parameter
// (RFC 5626: the request uses its outbound flow; JsSIP's INVITEs have it,
// its REGISTER's Contact has not) is its binding's without it.
func (a *Adapter) callerDevice(client string, req *sip.Request) string {
	h := req.Contact()
	if h == nil {
		return ""
	}
	ids := []string{deviceID(h.Address.String())}
	if h.Address.UriParams.Has("ob") {
		u := h.Address.Clone()
		u.UriParams.Remove("ob")
		ids = append(ids, deviceID(u.String()))
	}
	ctx, cancel := a.command("")
	defer cancel()
	cl, err := a.eng.Client(ctx, client)
	if err != nil {
		return ""
	}
	for _, d := range cl.Devices {
		if slices.Contains(ids, d.ID) {
			return d.ID
		}
	}
	return ""
}

// refuseNewCall answers a new INVITE 503 while serve drains (Retry-After:
// 30) or while Settings.MaxPendingCalls new calls wait for the engine
// (Retry-After: 1: load shed, counted in Stats.Overloaded); it reports
// whether it did.
func (a *Adapter) refuseNewCall(req *sip.Request, tx sip.ServerTransaction) bool {
	retry := ""
	if a.set.Draining != nil && a.set.Draining() {
		retry = "30"
	} else if limit := a.set.MaxPendingCalls; limit > 0 {
		a.mu.Lock()
		busy := a.dialing >= limit
		a.mu.Unlock()
		if busy {
			a.stats.overloaded.Add(1)
			retry = "1"
		}
	}
	if retry == "" {
		return false
	}
	res := a.response(req, statusServiceUnav)
	res.AppendHeader(sip.NewHeader("Retry-After", retry))
	a.respond(tx, res)
	return true
}

// ringing sends 180 once, while no final response was sent — not after
// a 183 with SDP: a phone that gets a 180 after early media may stop
// playing it for its own ringback.
func (l *inLeg) ringing() {
	l.mu.Lock()
	if l.state != legEarly || l.rang || l.early {
		l.mu.Unlock()
		return
	}
	l.rang = true
	l.mu.Unlock()
	l.provisional(l.reply(status{180, "Ringing"}, nil), false)
}

// progress sends 183 Session Progress with sdp (early media) once, while
// no final response was sent. The 200 carries the same SDP (answerFor).
func (l *inLeg) progress(sdp []byte) {
	l.mu.Lock()
	if l.state != legEarly || l.early {
		l.mu.Unlock()
		return
	}
	l.early = true
	l.mu.Unlock()
	l.provisional(l.reply(status{183, "Session Progress"}, sdp), true)
}

// finish queues the final response; it reports false when the leg already
// has one (or was cancelled).
func (l *inLeg) finish(o outcome) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != legEarly {
		return false
	}
	if o.st.Code == 200 {
		l.state = legAnswering
	} else {
		l.state = legEnded
	}
	l.final <- o
	return true
}

// end is the engine's end of the call: the final response while it
// rings, a BYE once it is up.
func (l *inLeg) end(st status) {
	if l.finish(outcome{st: st}) {
		return
	}
	l.mu.Lock()
	switch l.state {
	case legAnswering:
		l.byeWanted = true
		l.mu.Unlock()
	case legConfirmed:
		l.state = legEnded
		l.mu.Unlock()
		l.a.sendBye(l.dlg)
	default:
		l.mu.Unlock()
	}
}

// cancel: the caller sent CANCEL (sipgo answered 200 and 487).
func (l *inLeg) cancel() {
	l.mu.Lock()
	if l.state != legEarly {
		l.mu.Unlock()
		return
	}
	l.state = legEnded
	id := l.callID
	close(l.canceled)
	l.mu.Unlock()
	if id != "" {
		l.a.hangup(id, l.client, engine.Caller)
	}
}

// peerBye: the caller hung up with BYE; it reports whether the leg was up.
func (l *inLeg) peerBye() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == legAnswering || l.state == legConfirmed {
		l.state = legEnded
		l.ackOnce.Do(func() { close(l.acked) })
		return true
	}
	return false
}

// waitsForAck reports whether the call ended while our 200 waited for its
// ACK: the BYE goes once the ACK comes.
func (l *inLeg) waitsForAck() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state == legAnswering && l.byeWanted
}

// ack: the ACK of our 200 came.
func (l *inLeg) ack() { l.ackOnce.Do(func() { close(l.acked) }) }

// reply builds a response to the INVITE with our tag (and Contact for
// 1xx/2xx).
func (l *inLeg) reply(st status, sdp []byte) *sip.Response {
	res := l.a.response(l.req, st)
	if to := res.To(); to != nil {
		to.Params.Add("tag", l.dlg.LocalTag)
	}
	if st.Code > 100 && st.Code < 300 {
		res.AppendHeader(l.a.ourContact(l.req.Transport()).Clone())
	}
	if st.Code >= 200 && st.Code < 300 {
		l.dlg.sessionHeaders(res) // session_timer.go
	}
	if sdp != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdp)
	}
	return res
}

// serve holds the INVITE transaction until its final response, and a 200
// until its ACK (retransmitting it over UDP, RFC 3261 §13.3.1.4).
func (l *inLeg) serve() {
	a := l.a
	var o outcome
	select {
	case o = <-l.final:
	case <-l.canceled:
		return
	case <-l.tx.Done():
		l.mu.Lock()
		early := l.state == legEarly
		l.state = legEnded
		id := l.callID
		l.mu.Unlock()
		if early && id != "" {
			a.hangup(id, l.client, engine.Caller)
		}
		return
	case <-a.ctx.Done():
		return
	}
	if o.st.Code == 200 {
		// A reliable 183's answer reaches the caller first (prack.go).
		st, ok := l.awaitAnswerPracked()
		if !ok {
			return
		}
		if st.Code != 200 {
			l.mu.Lock()
			l.state = legEnded
			l.mu.Unlock()
			o = outcome{st: st}
		}
	}
	l.finalSent()
	if o.st.Code != 200 {
		a.respond(l.tx, l.reply(o.st, nil))
		return
	}
	res := l.reply(o.st, o.sdp)
	a.respond(l.tx, res)
	reliable := !strings.EqualFold(l.req.Transport(), "UDP")
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-l.acked:
			l.mu.Lock()
			bye := l.byeWanted
			confirmed := l.state == legAnswering && !bye
			if l.state == legAnswering {
				l.state = legConfirmed
			}
			if bye {
				l.state = legEnded
			}
			id := l.callID
			l.mu.Unlock()
			if bye {
				a.sendBye(l.dlg)
				a.mu.Lock()
				a.forget(id, l.dlg) // kept for this ACK when the call ended (ended)
				a.mu.Unlock()
			}
			if confirmed {
				a.armSession(l.dlg) // first: the record journals its due time
				a.journalDialog(l.dlg, id, engine.Caller, l.client, l.device, o.sdp, l.offer)
			}
			return
		case ack := <-l.tx.Acks():
			if ack != nil {
				l.ack()
			}
		case <-retransmit.C:
			if !reliable {
				a.resend(l.tx, res)
				interval = min(2*interval, sip.T2)
				retransmit.Reset(interval)
			}
		case <-giveUp.C:
			// No ACK: the dialog is confirmed but the session ends
			// (RFC 3261 §13.3.1.4) with a BYE.
			l.mu.Lock()
			l.state = legEnded
			id := l.callID
			l.mu.Unlock()
			a.sendBye(l.dlg)
			a.hangup(id, l.client, engine.Caller)
			a.mu.Lock()
			a.forget(id, l.dlg)
			a.mu.Unlock()
			return
		case <-a.ctx.Done():
			return
		}
	}
}

// onAck serves an ACK outside a transaction: the ACK of our 200.
func (a *Adapter) onAck(req *sip.Request, _ sip.ServerTransaction) {
	ref, ok := a.dialogOf(req)
	if ok && ref.in != nil {
		ref.in.ack()
	}
	if ok {
		a.reInviteAcked(ref, req)
	}
}

// dialogOf finds the dialog of an in-dialog request by Call-ID and our
// tag (the request's To tag).
func (a *Adapter) dialogOf(req *sip.Request) (dialogRef, bool) {
	cid, to := req.CallID(), req.To()
	if cid == nil || to == nil {
		return dialogRef{}, false
	}
	tag, _ := to.Params.Get("tag")
	a.mu.Lock()
	defer a.mu.Unlock()
	ref, ok := a.dialogs[dialogKey(cid.Value(), tag)]
	return ref, ok
}
