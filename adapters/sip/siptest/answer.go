package siptest

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// onInvite answers an INVITE with the RTP endpoint's answer: a new one
// after ringing (Settings.Ring), reported on Invites; a re-INVITE (a
// refresh) at once, nothing else changing. An offer the endpoint cannot
// take is refused (488).
func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	offer := string(req.Body())
	if tag, ok := req.To().Params.Get("tag"); ok && tag != "" {
		answer, err := p.rtp.Answer(offer)
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		_ = tx.Respond(p.withSDP(sip.NewResponseFromRequest(req, 200, "OK", []byte(answer))))
		return
	}
	answer, err := p.rtp.Answer(offer)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		p.report(Invite{Offer: offer, Err: err})
		return
	}
	d := calleeDialog(req)
	if p.s.Ring > 0 {
		ringing := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
		ringing.To().Params.Add("tag", d.localTag)
		ringing.AppendHeader(sip.NewHeader("Contact", p.contact()))
		_ = tx.Respond(ringing)
		time.Sleep(p.s.Ring)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", []byte(answer))
	res.To().Params.Add("tag", d.localTag)
	_ = tx.Respond(p.withSDP(res))
	p.report(Invite{Offer: offer, Dialog: d})
	select {
	case <-tx.Acks():
	case <-time.After(5 * time.Second):
	}
}

// withSDP adds to res, which carries the phone's SDP, its Content-Type
// and the phone's Contact.
func (p *Phone) withSDP(res *sip.Response) *sip.Response {
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Contact", p.contact()))
	return res
}

// report puts in on Invites, unless four are waiting there.
func (p *Phone) report(in Invite) {
	select {
	case p.invites <- in:
	default:
	}
}

// onBye answers a BYE and reports its Call-ID on Byes.
func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	select {
	case p.byes <- req.CallID().Value():
	default:
	}
}
