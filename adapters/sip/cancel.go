package sip

import (
	"context"

	"github.com/emiago/sipgo/sip"
)

// CANCEL both ways. A phone's CANCEL of its INVITE is matched by sipgo's
// transaction layer, which answers 200 and 487 itself and calls the
// transaction's OnCancel (inLeg.cancel: the engine hears a hangup by the
// caller). A CANCEL that matches no transaction reaches onCancel: 481.
// Our CANCEL of a fork copies the INVITE as sent (RFC 3261 §9.1).

func (a *Adapter) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	a.respond(tx, a.response(req, statusNoDialog))
}

// sendCancel cancels a fork's INVITE, off the caller's goroutine. The
// INVITE transaction then ends with 487, which it ACKs itself.
func (a *Adapter) sendCancel(f *fork) {
	f.mu.Lock()
	inv := f.invite
	f.mu.Unlock()
	if inv == nil {
		return
	}
	a.cancelInvite(inv, f.cl.id)
}

// cancelInvite cancels an INVITE we sent (a copy of its Request-URI, Via,
// Route, From, To, Call-ID and CSeq number: RFC 3261 §9.1), off the
// caller's goroutine.
func (a *Adapter) cancelInvite(inv *sip.Request, call string) {
	a.wg.Go(func() {
		req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
		req.SetTransport(inv.Transport())
		if v := inv.Via(); v != nil {
			req.AppendHeader(v.Clone())
		}
		for _, h := range inv.GetHeaders("Route") {
			req.AppendHeader(sip.HeaderClone(h))
		}
		mf := sip.MaxForwardsHeader(70)
		req.AppendHeader(&mf)
		for _, name := range []string{"From", "To", "Call-ID"} {
			if h := inv.GetHeader(name); h != nil {
				req.AppendHeader(sip.HeaderClone(h))
			}
		}
		if h := inv.CSeq(); h != nil {
			req.AppendHeader(&sip.CSeqHeader{SeqNo: h.SeqNo, MethodName: sip.CANCEL})
		}
		req.SetBody(nil)
		a.prepare(req)
		ctx, cancel := context.WithTimeout(a.ctx, 64*sip.T1)
		defer cancel()
		tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
		if err != nil {
			a.log.Debug("cannot send CANCEL", "call", call, "err", err)
			return
		}
		defer tx.Terminate()
		wait(ctx, tx)
	})
}
