package sip

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
)

// Calls to a client: each SIP device of the callee that rings gets an
// INVITE of its own (forking). The first 200 answers the call
// (engine.Answer) and is ACKed; the others are cancelled when the engine
// reports the answer; a 2xx that comes too late is ACKed and ended with
// BYE. When every fork failed and only SIP devices rang, the engine hears
// a rejection (busy when a device said 486 or 600).

// fork is one INVITE to one SIP device of the callee.
type fork struct {
	a      *Adapter
	cl     *call
	device string
	client string
	target sipsyntax.Binding
	dlg    *dialog

	mu          sync.Mutex
	state       legState
	invite      *sip.Request // as sent, for the CANCEL
	provisional bool         // a 1xx came: a CANCEL may be sent
	cancelWant  bool
	cancelSent  bool
	answer      []byte       // the device's SDP answer
	status      int          // its final refusal
	ack         *sip.Request // our ACK of its 2xx, sent again as it was for a retransmitted 2xx
}

// newFork makes the fork and its dialog for device d of call cl.
func (a *Adapter) newFork(cl *call, client string, d sipDevice, c *engine.Call) *fork {
	f := &fork{a: a, cl: cl, device: d.id, client: client, target: d.binding}
	transport := uriTransport(&d.binding.URI)
	from := c.Caller.Number
	if from == "" {
		from = c.Caller.Client
	}
	if strings.ContainsAny(from, "@:;<> ") || from == "" {
		from = "anonymous"
	}
	target := *d.binding.URI.Clone()
	aor := sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port}
	f.dlg = &dialog{
		CallID:       uuid.NewString(),
		LocalTag:     sip.GenerateTagN(16),
		LocalURI:     sip.Uri{Scheme: "sip", User: from, Host: a.domain()},
		RemoteURI:    aor,
		RemoteTarget: target,
		Transport:    transport,
		UAC:          true,
		InviteCSeq:   1,
	}
	return f
}

// run sends the INVITE and follows its responses.
func (f *fork) run(offer []byte, c *engine.Call) {
	a := f.a
	req := f.dlg.request(sip.INVITE, a.ourContact(f.dlg.Transport))
	if name := c.Caller.Name; name != "" && !strings.ContainsAny(name, "\"\r\n\\") {
		if h := req.From(); h != nil {
			h.DisplayName = name
		}
	}
	a.withOffer(req, offer)
	a.prepare(req)
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
	if err != nil {
		a.log.Info("cannot send INVITE to a device", "call", f.cl.id, "device", f.device, "err", err)
		a.forkFailed(f, statusServiceUnav.Code)
		return
	}
	defer tx.Terminate()
	f.mu.Lock()
	f.invite = req
	f.mu.Unlock()
	timeout := time.NewTimer(a.set.RingTimeout)
	defer timeout.Stop()
	for {
		select {
		case res := <-tx.Responses():
			switch {
			case res.StatusCode < 200:
				if res.StatusCode > 100 {
					f.gotProvisional()
				}
			case res.StatusCode < 300:
				tx.OnRetransmission(func(*sip.Response) { a.sendAck(f) }) // our ACK was lost
				a.forkAnswered(f, res)
				return
			default:
				a.forkFailed(f, res.StatusCode) // the transaction ACKs it
				return
			}
		case <-tx.Done():
			a.forkFailed(f, statusTimeout.Code)
			return
		case <-timeout.C:
			f.cancel()
		case <-a.ctx.Done():
			return
		}
	}
}

// gotProvisional: a 1xx came; a CANCEL that waited for it goes now.
func (f *fork) gotProvisional() {
	f.mu.Lock()
	f.provisional = true
	send := f.cancelWant && !f.cancelSent && f.state == legEarly
	if send {
		f.cancelSent = true
	}
	f.mu.Unlock()
	if send {
		f.a.sendCancel(f)
	}
}

// cancel stops an early fork (CANCEL, once a 1xx came: RFC 3261 §9.1).
func (f *fork) cancel() {
	f.mu.Lock()
	if f.state != legEarly {
		f.mu.Unlock()
		return
	}
	f.cancelWant = true
	send := f.provisional && !f.cancelSent
	if send {
		f.cancelSent = true
	}
	f.mu.Unlock()
	if send {
		f.a.sendCancel(f)
	}
}

// stop ends the fork whatever its state: CANCEL while early, BYE once up.
func (f *fork) stop() {
	f.mu.Lock()
	up := f.state == legConfirmed
	if up {
		f.state = legEnded
	}
	f.mu.Unlock()
	if up {
		f.a.sendBye(f.dlg)
		return
	}
	f.cancel()
}

// forkAnswered: a device answered. The first becomes the call's answer
// (engine.Answer); a later one, or one the call no longer wants, is ACKed
// and ended with BYE.
func (a *Adapter) forkAnswered(f *fork, res *sip.Response) {
	f.dlg.confirm(res)
	a.sendAck(f)
	body := res.Body()
	sdpOK := checkSDP(body) == nil
	cl := f.cl
	if name := cl.relayed(engine.Callee); sdpOK && name != "" {
		// The relay offered (media.go): the first answer is its answer.
		cl.mu.Lock()
		first := cl.winner == nil && !cl.ended
		cl.mu.Unlock()
		if first {
			name = a.takeCalleeLeg(cl, f)
			if err := a.set.Media.AcceptRTPAnswer(name, string(body)); err != nil {
				a.log.Info("the relay refused a phone's answer", "call", cl.id, "err", err)
				sdpOK = false
			}
		}
	}
	cl.mu.Lock()
	f.mu.Lock()
	win := cl.winner == nil && !cl.ended && !f.cancelWant && sdpOK
	if win {
		cl.winner = f
		f.state = legConfirmed
		f.answer = append([]byte(nil), body...)
	} else {
		f.state = legEnded
		if !sdpOK {
			f.status = statusNotAccept.Code
		}
	}
	f.mu.Unlock()
	cl.mu.Unlock()
	if !win {
		a.sendBye(f.dlg)
		if !sdpOK {
			a.log.Info("a device answered with an SDP we cannot read", "call", cl.id, "device", f.device)
			a.forkFailed(f, statusNotAccept.Code)
		}
		return
	}
	// The Answer (and the dialog's record) go first in the call's lane
	// (order.go), queued as the dialog becomes known: the device's BYE,
	// which needs the dialog, hangs up after them.
	var err error
	a.mu.Lock()
	a.dialogs[f.dlg.key()] = dialogRef{call: cl.id, fork: f}
	a.inOrderWaitLocked(cl.id, func() {
		ctx, cancel := a.command(f.client)
		_, err = a.eng.Answer(ctx, cl.id, f.device)
		cancel()
		f.mu.Lock()
		up := f.state == legConfirmed
		f.mu.Unlock()
		if err == nil && up {
			cl.mu.Lock()
			offer := offerFor(cl)
			cl.mu.Unlock()
			a.journalDialog(f.dlg, cl.id, engine.Callee, f.client, f.device, offer, f.answer)
		}
	})
	if err != nil {
		a.log.Info("the engine refused the answer of a SIP device", "call", cl.id, "device", f.device, "err", err)
		f.stop()
	}
}

// forkFailed: a device refused (or never answered). When every fork
// failed, no device answered and only SIP devices rang, the engine hears a
// rejection.
func (a *Adapter) forkFailed(f *fork, code int) {
	cl := f.cl
	cl.mu.Lock()
	f.mu.Lock()
	f.state = legEnded
	if f.status == 0 {
		f.status = code
	}
	f.mu.Unlock()
	all, busy := true, false
	for _, o := range cl.forks {
		o.mu.Lock()
		if o.state != legEnded || o.status == 0 {
			all = false
		}
		busy = busy || rejectForStatus(o.status)
		o.mu.Unlock()
	}
	tell := all && cl.winner == nil && !cl.ended && cl.onlySIP && !cl.rejected
	if tell {
		cl.rejected = true
	}
	cl.mu.Unlock()
	if tell {
		a.reject(cl, busy)
	}
}

// sendAck acknowledges the 2xx of a fork's INVITE; a retransmitted 2xx
// gets the same ACK again (RFC 3261 §13.2.2.4).
func (a *Adapter) sendAck(f *fork) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ack == nil {
		f.ack = f.dlg.request(sip.ACK, a.ourContact(f.dlg.Transport))
		a.prepare(f.ack)
	}
	if err := a.cli.WriteRequest(f.ack, noBuild); err != nil {
		a.log.Debug("cannot send ACK", "call", f.cl.id, "err", err)
	}
}
