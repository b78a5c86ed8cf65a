package sip

import (
	"context"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
)

// Reliable provisional responses from trunks (RFC 3262 as the UAC). Our
// INVITEs to trunks list 100rel in Supported (trunkSupported): carriers
// that send early media or announcements reliably, or that refuse an
// INVITE without 100rel (421), reach us. A 180 or 183 with Require: 100rel
// and an RSeq is PRACKed in its early dialog (RAck: RSeq, the INVITE's
// CSeq, INVITE) on a transaction of its own, once: a retransmission (the
// same RSeq) is not acknowledged again, nor one that skips a number (§4);
// each early dialog (a forking carrier's) keeps its own count. A PRACK
// that fails changes nothing else: the carrier gives up on its response
// and, as RFC 3262 asks, fails the INVITE. Phones are not offered 100rel.

// trunkSupported is the Supported header of our INVITEs to trunks.
var trunkSupported = supported + ", " + rel100

// reliableSeen tracks, per early dialog (the To tag), the RSeq of the last
// reliable provisional response acknowledged.
type reliableSeen map[string]uint32

// prackTrunk acknowledges res, a provisional response of the trunk's
// INVITE, when it is reliable and next in its early dialog; it reports
// whether it was a reliable one seen before (to be ignored).
func (l *trunkLeg) prackTrunk(res *sip.Response) (repeat bool) {
	if !listsTag(res.GetHeaders("require"), rel100) {
		return false
	}
	h := res.GetHeader("RSeq")
	if h == nil {
		return false
	}
	rseq, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil || rseq == 0 || res.CSeq() == nil {
		return false
	}
	tag := ""
	if to := res.To(); to != nil {
		tag, _ = to.Params.Get("tag")
	}
	l.mu.Lock()
	if l.rseqs == nil {
		l.rseqs = reliableSeen{}
	}
	last, seen := l.rseqs[tag]
	switch {
	case seen && uint32(rseq) <= last:
		l.mu.Unlock()
		return true // a retransmission: acknowledged already
	case seen && uint32(rseq) != last+1:
		l.mu.Unlock()
		return true // out of order (§4): not acknowledged, not processed
	}
	l.rseqs[tag] = uint32(rseq)
	l.mu.Unlock()

	a := l.ts.a
	l.dlg.confirm(res) // the early dialog: its tag, target and route (the 200 sets them again)
	req := l.dlg.request(sip.PRACK, nil)
	ra := sipsyntax.RAck{RSeq: uint32(rseq), CSeq: res.CSeq().SeqNo, Method: "INVITE"}
	req.AppendHeader(sip.NewHeader("RAck", ra.String()))
	req.AppendHeader(sip.NewHeader("User-Agent", a.set.UserAgent))
	a.prepare(req)
	a.wg.Go(func() {
		ctx, cancel := context.WithTimeout(a.ctx, 64*sip.T1)
		defer cancel()
		tx, err := a.cli.TransactionRequest(ctx, req, noBuild)
		if err != nil {
			a.log.Info("trunk: cannot send PRACK", "call", l.id, "err", err)
			return
		}
		defer tx.Terminate()
		if r := wait(ctx, tx); r == nil || r.StatusCode >= 300 {
			a.log.Info("trunk: PRACK not accepted", "call", l.id, "status", statusOf(r))
		}
	})
	return false
}

// statusOf is a response's status code, 0 for none.
func statusOf(r *sip.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}
