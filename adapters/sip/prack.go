package sip

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callengine/callengine/adapters/sip/internal/sipsyntax"
	"github.com/callengine/callengine/engine"
)

// Reliable provisional responses (RFC 3262, option tag 100rel) of the
// INVITEs we answer. An INVITE whose Require lists 100rel — some carriers
// and IMS phones insist — gets its 180 and 183 reliably: each with
// Require: 100rel and an RSeq (one more each time), retransmitted at T1,
// 2·T1, 4·T1 … until the caller's PRACK names it in its RAck, and the next
// one only after that (§3: one unacknowledged at a time). A 2xx waits
// until the 183 that carried SDP was PRACKed (§3: the answer must have
// reached the caller). A provisional response still unacknowledged after
// 64·T1 fails the call: 500 to the INVITE, the engine's call hung up on
// the caller's side.
//
// A PRACK that matches the unacknowledged response gets 200; a repeat of
// one already acknowledged gets 200 again; any other 481 (no such
// response) or 400 (a RAck we cannot read). A PRACK that carries an SDP
// offer acknowledges its response but gets 488: offers in PRACK are not
// taken. An INVITE that only supports 100rel gets unreliable provisional
// responses, as before; our own INVITEs do not offer it (we do not PRACK).

// rel100 is the option tag of reliable provisional responses.
const rel100 = "100rel"

// prackTimeout is how long a reliable provisional response waits for its
// PRACK (RFC 3262 §3: 64·T1); a variable for the test that waits it out.
var prackTimeout = 64 * sip.T1

// reliable is the reliable provisional responses of one inLeg.
type reliable struct {
	l *inLeg

	mu      sync.Mutex
	queue   []provisional // waiting their turn
	out     *sip.Response // sent, not yet PRACKed
	outRSeq uint32
	outSDP  bool
	rseq    uint32        // the RSeq of the last one sent
	first   uint32        // the RSeq of the first
	sdp     bool          // a provisional with SDP was queued
	sdpDone chan struct{} // closed once it was PRACKed (or will never be)
	wake    chan struct{} // the queue grew
	pracked chan struct{} // out was PRACKed
	final   chan struct{} // closed when the INVITE's final response goes
	failed  bool          // one was never PRACKed: no 2xx
}

type provisional struct {
	res *sip.Response
	sdp bool
}

// requiresReliable reports whether req requires 100rel.
func requiresReliable(req *sip.Request) bool { return listsTag(req.GetHeaders("require"), rel100) }

// newReliable makes the leg's provisional responses reliable when its
// INVITE requires it, and starts their sender. The first RSeq is random
// below 2**31 (§3).
func (a *Adapter) newReliable(l *inLeg) {
	if !requiresReliable(l.req) {
		return
	}
	start := rand.Uint32N(1<<31 - 1) // the first RSeq is one more
	r := &reliable{l: l, rseq: start, first: start + 1,
		sdpDone: make(chan struct{}), wake: make(chan struct{}, 1), pracked: make(chan struct{}, 1), final: make(chan struct{})}
	l.rel = r
	a.wg.Go(r.send)
}

// provisional sends a 1xx to the leg's INVITE: at once when provisional
// responses are unreliable, else in its turn, reliably.
func (l *inLeg) provisional(res *sip.Response, sdp bool) {
	r := l.rel
	if r == nil {
		l.a.respond(l.tx, res)
		return
	}
	r.mu.Lock()
	r.queue = append(r.queue, provisional{res: res, sdp: sdp})
	if sdp {
		r.sdp = true
	}
	r.mu.Unlock()
	r.poke()
}

func (r *reliable) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// finalSent: the INVITE's final response goes now; no provisional
// response is sent or retransmitted after it.
func (l *inLeg) finalSent() {
	if r := l.rel; r != nil {
		r.mu.Lock()
		select {
		case <-r.final:
		default:
			close(r.final)
		}
		r.mu.Unlock()
	}
}

// done reports whether the INVITE has its final response.
func (r *reliable) done() bool {
	select {
	case <-r.final:
		return true
	default:
		return false
	}
}

// send sends the queued provisional responses one at a time until the
// leg has its final response.
func (r *reliable) send() {
	l, a := r.l, r.l.a
	defer r.drop()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.mu.Unlock()
			select {
			case <-r.wake:
				continue
			case <-r.final:
				return
			case <-l.canceled:
				return
			case <-l.tx.Done():
				return
			case <-a.ctx.Done():
				return
			}
		}
		p := r.queue[0]
		r.queue = r.queue[1:]
		r.rseq++
		p.res.AppendHeader(sip.NewHeader("Require", rel100))
		p.res.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(r.rseq), 10)))
		r.out, r.outRSeq, r.outSDP = p.res, r.rseq, p.sdp
		r.mu.Unlock()
		if r.done() {
			return
		}
		a.respond(l.tx, p.res)
		if !r.awaitPrack(p.res) {
			return
		}
	}
}

// awaitPrack retransmits res until its PRACK; false when the leg is done
// or the PRACK never came (the call then fails).
func (r *reliable) awaitPrack(res *sip.Response) bool {
	l, a := r.l, r.l.a
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	giveUp := time.NewTimer(prackTimeout)
	defer giveUp.Stop()
	for {
		select {
		case <-r.pracked:
			return true
		case <-retransmit.C:
			a.resend(l.tx, res)
			interval *= 2
			retransmit.Reset(interval)
		case <-giveUp.C:
			a.log.Info("no PRACK for a reliable provisional response: the call fails", "call-id", l.dlg.CallID)
			r.mu.Lock()
			r.failed = true
			r.mu.Unlock()
			l.mu.Lock()
			id := l.callID
			l.mu.Unlock()
			// A final response not yet chosen is 500; a 2xx waiting for this
			// PRACK becomes one (awaitAnswerPracked).
			l.finish(outcome{st: statusNoPrack})
			if id != "" {
				a.hangup(id, l.client, engine.Caller)
			}
			return false
		case <-r.final:
			return false
		case <-l.canceled:
			return false
		case <-l.tx.Done():
			return false
		case <-a.ctx.Done():
			return false
		}
	}
}

// drop: no more provisional responses will be sent; a 2xx waiting for
// the PRACK of one with SDP goes on.
func (r *reliable) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = nil
	r.closeSDP()
}

// closeSDP releases a 2xx waiting for the PRACK of the SDP. r.mu is held.
func (r *reliable) closeSDP() {
	select {
	case <-r.sdpDone:
	default:
		close(r.sdpDone)
	}
}

// statusNoPrack fails an INVITE whose reliable provisional response was
// never PRACKed (RFC 3262 §3: a 5xx).
var statusNoPrack = status{500, "No PRACK"}

// awaitAnswerPracked waits, before a 2xx, until the provisional response
// that carried SDP was PRACKed. It returns the final response to send
// instead of the 2xx — 500 when it never was — and false when none is to
// be sent (cancelled, the adapter stops).
func (l *inLeg) awaitAnswerPracked() (status, bool) {
	ok200 := status{200, "OK"}
	r := l.rel
	if r == nil {
		return ok200, true
	}
	r.mu.Lock()
	sdp := r.sdp
	r.mu.Unlock()
	if sdp {
		select {
		case <-r.sdpDone:
		case <-l.canceled:
			return status{}, false
		case <-l.a.ctx.Done():
			return status{}, false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed {
		return statusNoPrack, true
	}
	return ok200, true
}

// prack takes a PRACK's RAck: whether it names a provisional response of
// the leg (the unacknowledged one, or one acknowledged before), and what
// acknowledges it, to run once the PRACK's 200 went (the INVITE's 200,
// which may wait for it, goes after).
func (r *reliable) prack(ra sipsyntax.RAck, inviteCSeq uint32) (bool, func()) {
	if ra.Method != "INVITE" || ra.CSeq != inviteCSeq {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.out != nil && ra.RSeq == r.outRSeq:
		r.out = nil
		sdp := r.outSDP
		return true, func() {
			if sdp {
				r.mu.Lock()
				r.closeSDP()
				r.mu.Unlock()
			}
			select {
			case r.pracked <- struct{}{}:
			default:
			}
		}
	case ra.RSeq >= r.first && ra.RSeq <= r.rseq && (r.out == nil || ra.RSeq < r.outRSeq):
		return true, func() {} // a retransmitted PRACK
	}
	return false, nil
}

// onPrack serves a PRACK (RFC 3262 §4): 200 for one that acknowledges a
// reliable provisional response of ours, 481 for any other.
func (a *Adapter) onPrack(req *sip.Request, tx sip.ServerTransaction) {
	ref, ok := a.dialogOf(req)
	if !ok || ref.in == nil || ref.in.rel == nil {
		a.respond(tx, a.response(req, statusNoDialog))
		return
	}
	h := req.GetHeader("RAck")
	if h == nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	ra, err := sipsyntax.ParseRAck(h.Value())
	if err != nil {
		a.respond(tx, a.response(req, statusBadRequest))
		return
	}
	l := ref.in
	ok, acknowledge := l.rel.prack(ra, l.req.CSeq().SeqNo)
	if !ok {
		a.respond(tx, a.response(req, statusNoDialog))
		return
	}
	defer acknowledge()
	if len(req.Body()) > 0 {
		a.respond(tx, a.response(req, statusNotAccept)) // no offer in PRACK
		return
	}
	a.respond(tx, a.response(req, status{200, "OK"}))
}
