package sip

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/engine"
)

// BYE both ways: a BYE from a phone hangs the call up on that phone's
// side; the engine's end of a call sends a BYE on each dialog still up.

// onBye serves a BYE: Hangup and then 200 for a dialog we know, 481
// otherwise.
func (a *Adapter) onBye(req *sip.Request, tx sip.ServerTransaction) {
	ref, ok := a.dialogOf(req)
	if !ok {
		a.respond(tx, a.response(req, statusNoDialog))
		return
	}
	if ref.trunk != nil {
		a.onTrunkBye(ref, req, tx) // trunk_out.go
		return
	}
	var dlg *dialog
	switch {
	case ref.kept != nil:
		dlg = ref.kept.dlg
	case ref.in != nil:
		dlg = ref.in.dlg
	default:
		dlg = ref.fork.dlg
	}
	if !dlg.inDialog(req) {
		a.respond(tx, a.response(req, statusServerError)) // a CSeq out of order (RFC 3261 §12.2.2)
		return
	}
	ok200 := a.response(req, status{200, "OK"})
	switch {
	case ref.kept != nil:
		a.respond(tx, ok200)
		a.keptBye(ref)
	case ref.in != nil:
		// The hangup first, then the 200 (sipgo absorbs the BYE's
		// retransmissions meanwhile): a phone that has its 200 has hung
		// up in the journal too.
		if ref.in.peerBye() {
			a.hangupHere(ref.call, ref.in.client, engine.Caller)
		}
		a.respond(tx, ok200)
	case ref.fork != nil:
		f := ref.fork
		f.mu.Lock()
		up := f.state == legConfirmed
		f.state = legEnded
		f.mu.Unlock()
		if up {
			a.hangupHere(ref.call, f.client, engine.Callee)
		}
		a.respond(tx, ok200)
	}
}

// sendBye ends a dialog, off the caller's goroutine; it gives up after
// 64*T1 without an answer.
func (a *Adapter) sendBye(d *dialog) {
	a.wg.Go(func() {
		req := d.request(sip.BYE, nil)
		req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
		a.prepare(req)
		ctx, cancel := context.WithTimeout(a.ctx, 64*sip.T1)
		defer cancel()
		tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
		if err != nil {
			a.log.Debug("cannot send BYE", "call-id", d.CallID, "err", err)
			return
		}
		defer tx.Terminate()
		wait(ctx, tx)
	})
}

// wait waits for a final response on tx, its end, or ctx.
func wait(ctx context.Context, tx sip.ClientTransaction) *sip.Response {
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				return res
			}
		case <-tx.Done():
			return nil
		case <-ctx.Done():
			return nil
		case <-time.After(64 * sip.T1):
			return nil
		}
	}
}
