package sip

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/icholy/digest"

	"github.com/callengine/callengine/engine"
	"github.com/callengine/callengine/events"
)

// Calls out through a trunk: the engine's CallDialed outbound becomes an
// INVITE to sip:<number>@<trunk address> with the caller's SDP offer
// (pass-through from the caller's SIP leg: a caller that is not a SIP leg
// — a browser — has no SIP offer, and the call fails). A 401/407 is
// answered once with the trunk's credentials; 180/183 is FarRinging, 200
// FarAnswered (ACKed; its SDP goes to the caller's leg in the caller's
// 200), a refusal FarEnded with its reason. The engine's end cancels the
// INVITE while it rings and sends BYE once it is up; the trunk's BYE is a
// hangup of the far end.

// trunkLeg is one call placed on a trunk.
type trunkLeg struct {
	ts     *Trunks
	id     string // the engine's leg (call id at dial)
	number string
	trunk  *Trunk
	dlg    *dialog

	mu          sync.Mutex
	state       legState
	invite      *sip.Request // the INVITE as sent last, for the CANCEL
	provisional bool
	rang        bool
	cancelWant  bool
	cancelSent  bool
	sdp         []byte        // the trunk's answer
	early       bool          // its early media is carried (media_trunk.go)
	silentAfter time.Duration // give up on a trunk that sends nothing for this long (failover); 0: never
	ack         *sip.Request  // our ACK of its 2xx, sent again as it was for a retransmitted 2xx
	rseqs       reliableSeen  // its reliable provisional responses acknowledged (prack_uac.go)
}

// sipLeg is the trunk's dialog as the callee's leg of its call, for the
// trunk's requests in the dialog that a phone's take the same way: a
// re-INVITE (reinvite.go) holds or resumes the call as the callee (the
// far end), moves the trunk's media on its relay leg, or is a session
// refresh (RFC 4028) answered with the SDP the trunk has.
func (l *trunkLeg) sipLeg() *sipLeg {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first []byte
	if l.invite != nil {
		first = l.invite.Body()
	}
	return &sipLeg{dlg: l.dlg, side: engine.Callee, got: l.sdp, first: first}
}

// answer is the trunk's SDP answer (nil until it answered).
func (l *trunkLeg) answer() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sdp
}

// callerWait bounds how long a leg waits for its caller's SIP leg (the
// caller's Dial may not have returned when the CallDialed comes).
const callerWait = 3 * time.Second

// place sends the INVITE and follows it to its end. With several trunks
// for the number (Trunks.routes), a trunk that fails before it rang — no
// answer at all, 500, 502, 503 or 504 — hands the call to the next one
// (failover, as Kamailio's dispatcher or a dial plan over several
// carriers does): the same offer, a new dialog. A refusal of the callee
// (busy, not found, declined) or a failure after a 18x ends the call.
func (l *trunkLeg) place(c *engine.Call) {
	a := l.ts.a
	trunks := l.ts.routes(l.number)
	if len(trunks) == 0 {
		a.log.Info("trunk: no trunk carries the number", "call", l.id, "number", l.number)
		l.report(events.Failed)
		return
	}
	l.trunk = trunks[0]
	offer, cl := a.trunkOffer(l, c) // the relay's offer when it anchors the call (media_trunk.go)
	if offer == nil {
		// A browser (or anything but a SIP leg) has no SIP offer: without a
		// media relay the call cannot go out (docs/sip.md, "Missing").
		a.log.Info("trunk: the caller has no SIP offer (not a SIP phone): the call fails", "call", l.id, "trunk", l.trunk.Name)
		l.report(events.Failed)
		return
	}
	cl.mu.Lock()
	cl.trunk = l
	cl.mu.Unlock()
	for i, t := range trunks {
		if i > 0 {
			l.mu.Lock()
			l.trunk = t
			l.ack = nil
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.silentAfter = 0
		if i+1 < len(trunks) {
			l.silentAfter = trunkSilence
		}
		l.mu.Unlock()
		res := l.attempt(c, offer)
		if res == nil {
			return
		}
		l.mu.Lock()
		rang := l.rang
		l.mu.Unlock()
		if i+1 < len(trunks) && failsOver(res.StatusCode) && !rang && !l.canceled() {
			a.log.Info("trunk: failing over", "call", l.id, "trunk", t.Name, "status", res.StatusCode, "next", trunks[i+1].Name)
			a.stats.failover()
			continue
		}
		l.end()
		l.report(reasonForStatus(res.StatusCode))
		return
	}
}

// diversion is the Diversion header (RFC 5806) of a call out through a
// trunk that a transfer placed: the number of the party that transferred
// it, reason deflection. A carrier that lets a PBX present only its own
// numbers as the caller takes a transferred customer's number in From on
// the strength of it (the way Twilio's, Bandwidth's and most SIP trunks
// authorize a forwarded call's caller ID). nil for a call no transfer
// placed, or whose transferor has no number we can write.
func (a *Adapter) diversion(c *engine.Call, host string) sip.Header {
	if c == nil || c.Transfer == "" {
		return nil
	}
	ctx, cancel := a.command("")
	defer cancel()
	t, err := a.eng.Transfer(ctx, c.Transfer)
	if err != nil {
		return nil
	}
	number := t.Transferor.Number
	if number == "" || strings.ContainsAny(number, "@:;<>\"\r\n ") {
		return nil
	}
	return sip.NewHeader("Diversion", "<sip:"+number+"@"+host+">;reason=deflection;counter=1")
}

// trunkSilence is how long a trunk may send nothing at all — not even
// 100 Trying — to an INVITE before the call goes to the next trunk (when
// there is one): a trunk that is down would otherwise hold the call for
// the INVITE transaction's 32 s.
const trunkSilence = 4 * time.Second

// failsOver tells whether a trunk's final response (or our 408 for no
// answer) says the trunk failed rather than the callee refused.
func failsOver(code int) bool {
	switch code {
	case statusTimeout.Code, 500, 502, 503, 504:
		return true
	}
	return false
}

// attempt sends the INVITE with offer to l.trunk on a new dialog and
// follows it: it returns the final refusal (or a 408 when the trunk did
// not answer), or nil when the leg is done — answered, stopped, or failed
// and reported.
func (l *trunkLeg) attempt(c *engine.Call, offer []byte) *sip.Response {
	a := l.ts.a
	dlg := l.newDialog(c)
	l.mu.Lock()
	l.dlg = dlg
	l.mu.Unlock()
	req := l.dlg.request(sip.INVITE, a.ourContact(l.dlg.Transport))
	if c != nil && c.Caller.Name != "" && !strings.ContainsAny(c.Caller.Name, "\"\r\n\\") {
		if h := req.From(); h != nil {
			h.DisplayName = c.Caller.Name
		}
	}
	if h := a.diversion(c, l.dlg.LocalURI.Host); h != nil {
		req.AppendHeader(h)
	}
	a.withOffer(req, offer)
	req.ReplaceHeader(sip.NewHeader("Supported", trunkSupported)) // we PRACK (prack_uac.go)
	a.prepare(req)
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	authed := false
	for {
		tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
		if err != nil {
			a.log.Info("trunk: cannot send INVITE", "call", l.id, "trunk", l.trunk.Name, "err", err)
			return &sip.Response{StatusCode: 503} // failed, and the next trunk may take it
		}
		l.mu.Lock()
		l.invite = req
		l.provisional = false
		l.mu.Unlock()
		res := l.follow(tx)
		tx.Terminate()
		if res == nil {
			return nil
		}
		if (res.StatusCode == 401 || res.StatusCode == 407) && !authed && l.trunk.Username != "" {
			authed = true
			if l.canceled() {
				return nil
			}
			if next, err := l.withCredentials(req, res); err == nil {
				req = next
				continue
			} else {
				a.log.Info("trunk: cannot answer the challenge", "call", l.id, "trunk", l.trunk.Name, "err", err)
			}
		}
		return res
	}
}

// callerOffer waits for the caller's SIP leg of call c and returns its
// offer and the call, or nil when the caller is not a SIP leg of ours. The
// caller's leg is a phone's INVITE, or, in a transfer's call to a number
// outside, the transferred phone or trunk leg that goes on in it (its
// last SDP: refer.go, transfer_far.go).
func (l *trunkLeg) callerOffer(c *engine.Call) ([]byte, *call) {
	a := l.ts.a
	if c != nil && c.CallerDevice != "" && !strings.HasPrefix(c.CallerDevice, "sip-") {
		return nil, nil // a browser or another kind of device
	}
	deadline := time.Now().Add(callerWait)
	for {
		a.mu.Lock()
		cl := a.calls[l.id]
		a.mu.Unlock()
		if cl != nil {
			cl.mu.Lock()
			in, kept := cl.in, cl.kept
			cl.mu.Unlock()
			switch {
			case in != nil:
				return in.offer, cl
			case kept != nil:
				return kept.peerSDP(), cl
			}
		}
		if time.Now().After(deadline) || a.ctx.Err() != nil {
			return nil, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newDialog is the dialog of the INVITE to the trunk.
func (l *trunkLeg) newDialog(c *engine.Call) *dialog {
	t := l.trunk
	target, fromHost, _ := t.target() // the address was checked (Trunk.Check)
	user := strings.TrimPrefix(l.number, "sip:")
	target.User = user
	from := ""
	if c != nil {
		from = c.CallerID
		if from == "" {
			from = c.Caller.Number
		}
	}
	if from == "" || strings.ContainsAny(from, "@:;<> ") {
		from = "anonymous"
	}
	return &dialog{
		CallID:       uuid.NewString(),
		LocalTag:     sip.GenerateTagN(16),
		LocalURI:     sip.Uri{Scheme: "sip", User: from, Host: fromHost},
		RemoteURI:    sip.Uri{Scheme: "sip", User: user, Host: target.Host, Port: target.Port},
		RemoteTarget: target,
		Transport:    t.transport(),
		UAC:          true,
		InviteCSeq:   1,
	}
}

// follow reads the responses of one INVITE transaction: it returns the
// final refusal, or nil when the leg is done (answered, failed, stopped).
func (l *trunkLeg) follow(tx sip.ClientTransaction) *sip.Response {
	a := l.ts.a
	timeout := time.NewTimer(a.set.RingTimeout)
	defer timeout.Stop()
	l.mu.Lock()
	silentAfter := l.silentAfter
	l.mu.Unlock()
	var silent <-chan time.Time
	if silentAfter > 0 {
		t := time.NewTimer(silentAfter)
		defer t.Stop()
		silent = t.C
	}
	for {
		select {
		case <-silent:
			a.log.Info("trunk: no response at all", "call", l.id, "trunk", l.trunk.Name, "after", silentAfter)
			return &sip.Response{StatusCode: statusTimeout.Code}
		case res := <-tx.Responses():
			silent = nil
			switch {
			case res.StatusCode < 200:
				if res.StatusCode > 100 && l.prackTrunk(res) {
					continue // a reliable one seen before (prack_uac.go)
				}
				if res.StatusCode > 100 {
					// Early media first: the caller's 183 goes before
					// the engine's CallRinging, whose 180 it replaces.
					if len(res.Body()) > 0 {
						a.trunkEarlyMedia(l, res.Body())
					}
					l.gotProvisional()
				}
			case res.StatusCode < 300:
				tx.OnRetransmission(func(*sip.Response) { l.sendAck() })
				l.answered(res)
				return nil
			default:
				return res // the transaction ACKs it
			}
		case <-tx.Done():
			if l.canceled() {
				l.end()
				return nil
			}
			return &sip.Response{StatusCode: statusTimeout.Code}
		case <-timeout.C:
			l.cancel()
		case <-a.ctx.Done():
			return nil
		}
	}
}

// gotProvisional: the trunk rings (180, 183): FarRinging once; a CANCEL
// that waited for a 1xx goes now.
func (l *trunkLeg) gotProvisional() {
	l.mu.Lock()
	l.provisional = true
	ring := !l.rang && !l.cancelWant
	l.rang = true
	send := l.cancelWant && !l.cancelSent && l.state == legEarly
	if send {
		l.cancelSent = true
	}
	l.mu.Unlock()
	if send {
		l.sendCancel()
	}
	if ring {
		l.tell(func(ctx context.Context, far engine.FarEnd) error {
			_, err := far.FarRinging(ctx, l.id)
			return err
		})
	}
}

// answered: the trunk's 200. ACK it; when the call still wants it, keep
// the answer for the caller's leg and tell the engine; else BYE.
func (l *trunkLeg) answered(res *sip.Response) {
	a := l.ts.a
	l.dlg.confirm(res)
	l.sendAck()
	body := res.Body()
	ok := checkSDP(body) == nil && a.trunkAnswered(l, body) // to its relay leg (media_trunk.go)
	l.mu.Lock()
	want := l.state == legEarly && !l.cancelWant && ok
	if want {
		l.state = legConfirmed
		l.sdp = append([]byte(nil), body...)
	} else {
		l.state = legEnded
	}
	l.mu.Unlock()
	if !want {
		a.sendBye(l.dlg)
		if !ok {
			a.log.Info("trunk: answered with an SDP we cannot read", "call", l.id, "trunk", l.trunk.Name)
			l.report(events.Failed)
		}
		return
	}
	// FarAnswered is queued in the call's lane (order.go) as the dialog
	// becomes known: the trunk's BYE, which needs the dialog, is reported
	// after it.
	a.mu.Lock()
	a.dialogs[l.dlg.key()] = dialogRef{call: l.id, trunk: l}
	a.inOrderWaitLocked(l.id, func() {
		l.tellNow(func(ctx context.Context, far engine.FarEnd) error {
			_, err := far.FarAnswered(ctx, l.id)
			return err
		})
	})
	// The dialog survives a restart (dialog_record.go): the callee's side
	// of the call, the trunk's leg.
	l.mu.Lock()
	up := l.state == legConfirmed
	var offer []byte
	if l.invite != nil {
		offer = l.invite.Body()
	}
	l.mu.Unlock()
	if !up {
		return
	}
	a.journalLeg(l.dlg, journal{call: l.id, side: engine.Callee, trunk: l.trunk.Name, leg: l.id}, offer, body)
}

// withCredentials is the INVITE again with the digest answer to the
// challenge res (401 WWW-Authenticate or 407 Proxy-Authenticate): a new
// Via branch and the next CSeq.
func (l *trunkLeg) withCredentials(req *sip.Request, res *sip.Response) (*sip.Request, error) {
	crName, cred, err := digestAnswer(res, "INVITE", req.Recipient.Addr(), l.trunk.Username, l.trunk.Password)
	if err != nil {
		return nil, err
	}
	next := req.Clone()
	next.RemoveHeader("Via")
	next.PrependHeader(newVia(l.dlg.Transport))
	next.RemoveHeader("Authorization")
	next.RemoveHeader("Proxy-Authorization")
	next.AppendHeader(sip.NewHeader(crName, cred))
	l.dlg.mu.Lock()
	l.dlg.LocalCSeq++
	l.dlg.InviteCSeq = l.dlg.LocalCSeq
	seq := l.dlg.LocalCSeq
	l.dlg.mu.Unlock()
	if cs := next.CSeq(); cs != nil {
		cs.SeqNo = seq
	}
	next.Laddr = req.Laddr
	return next, nil
}

// digestAnswer answers the digest challenge of res (401 or 407) for a
// request of method to uri with a trunk's credentials: the header's name
// and value.
func digestAnswer(res *sip.Response, method, uri, user, pass string) (string, string, error) {
	chName, crName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		chName, crName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(chName)
	if h == nil {
		return "", "", errNoChallenge
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return "", "", err
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: pass})
	if err != nil {
		return "", "", err
	}
	return crName, cred.String(), nil
}

type trunkError string

func (e trunkError) Error() string { return string(e) }

const errNoChallenge = trunkError("sip: the trunk's challenge has no digest header")

// canceled reports whether the engine no longer wants the leg.
func (l *trunkLeg) canceled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cancelWant
}

// end marks the leg over.
func (l *trunkLeg) end() {
	l.mu.Lock()
	l.state = legEnded
	l.mu.Unlock()
}

// stop is the engine's end of the call: CANCEL while the INVITE is early
// (once a 1xx came, RFC 3261 §9.1), BYE once it is up.
func (l *trunkLeg) stop() {
	l.mu.Lock()
	up := l.state == legConfirmed
	if up {
		l.state = legEnded
	}
	l.mu.Unlock()
	if up {
		a := l.ts.a
		a.sendBye(l.dlg)
		a.mu.Lock()
		delete(a.dialogs, l.dlg.key())
		a.mu.Unlock()
		return
	}
	l.cancel()
}

// cancel stops the early INVITE.
func (l *trunkLeg) cancel() {
	l.mu.Lock()
	if l.state != legEarly {
		l.mu.Unlock()
		return
	}
	l.cancelWant = true
	send := l.provisional && !l.cancelSent && l.invite != nil
	if send {
		l.cancelSent = true
	}
	l.mu.Unlock()
	if send {
		l.sendCancel()
	}
}

// sendCancel cancels the INVITE as sent last.
func (l *trunkLeg) sendCancel() {
	l.mu.Lock()
	inv := l.invite
	l.mu.Unlock()
	if inv != nil {
		l.ts.a.cancelInvite(inv, l.id)
	}
}

// sendAck acknowledges the trunk's 2xx; a retransmitted 2xx gets the same
// ACK again (RFC 3261 §13.2.2.4): one with a new branch is a new request,
// which a UAS waiting for the BYE does not expect.
func (l *trunkLeg) sendAck() {
	a := l.ts.a
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ack == nil {
		l.ack = l.dlg.request(sip.ACK, a.ourContact(l.dlg.Transport))
		a.prepare(l.ack)
	}
	if err := a.cli.WriteRequest(l.ack, noBuild); err != nil {
		a.log.Debug("trunk: cannot send ACK", "call", l.id, "err", err)
	}
}

// peerBye: the trunk hung up; it reports whether the leg was up.
func (l *trunkLeg) peerBye() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	up := l.state == legConfirmed
	l.state = legEnded
	return up
}

// report tells the engine the far end ended the leg.
func (l *trunkLeg) report(r engine.Reason) {
	l.tell(func(ctx context.Context, far engine.FarEnd) error {
		_, err := far.FarEnded(ctx, l.id, r)
		return err
	})
	l.ts.mu.Lock()
	if l.ts.legs[l.id] == l {
		delete(l.ts.legs, l.id)
	}
	l.ts.mu.Unlock()
}

// tell runs a far-end report on the engine, in the call's order
// (order.go), and waits for it (never inside HandleEvent: the leg's own
// goroutine or sipgo's).
func (l *trunkLeg) tell(f func(context.Context, engine.FarEnd) error) {
	l.ts.a.inOrderWait(l.id, func() { l.tellNow(f) })
}

// tellNow runs a far-end report on the engine.
func (l *trunkLeg) tellNow(f func(context.Context, engine.FarEnd) error) {
	far := l.ts.farEnd()
	if far == nil {
		return
	}
	a := l.ts.a
	ctx, cancel := a.command("")
	defer cancel()
	if err := f(ctx, far); err != nil {
		a.log.Debug("trunk: report refused", "call", l.id, "err", err)
	}
}

// reasonForStatus is the end reason of a trunk's final refusal.
func reasonForStatus(code int) engine.Reason {
	switch code {
	case 486, 600:
		return events.Busy
	case 603:
		return events.Rejected
	case 480, 408, 487:
		return events.NoAnswer
	}
	return events.Failed
}

// onTrunkBye serves the trunk's BYE: a hangup by the far end, then 200.
func (a *Adapter) onTrunkBye(ref dialogRef, req *sip.Request, tx sip.ServerTransaction) {
	l := ref.trunk
	if !l.dlg.inDialog(req) {
		a.respond(tx, a.response(req, statusServerError))
		return
	}
	a.mu.Lock()
	delete(a.dialogs, l.dlg.key())
	a.mu.Unlock()
	if l.peerBye() {
		l.report(events.Hangup) // before the 200, as a phone's BYE (bye.go)
	}
	a.respond(tx, a.response(req, status{200, "OK"}))
}
